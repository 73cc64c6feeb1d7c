/**
 * conv3d on WebGPU: conv3d_direct dispatched over the passes of conv3d-plan.ts.
 * x: (N, Cin, D, H, W); weight: (Cout, Cin / groups, KD, KH, KW); bias: (Cout) or null;
 * returns (N, Cout, D', H', W').
 */
import { ACTIVATION_CODES, activationAlpha } from '../../../engine/activations.js';
import type { Conv3dParams } from '../../../engine/backend.js';
import { VoxsegError } from '../../../engine/errors.js';
import type { Tensor } from '../../../engine/tensor.js';
import type { Dispatch } from '../gpu.js';
import { KERNELS } from '../kernels.js';
import {
  chooseTile,
  type ConvGeometry,
  type ConvPass,
  type ConvTile,
  convGeometry,
  planConvPasses,
  SLAB_CAPACITY,
  TAP_CAPACITY,
} from './conv3d-plan.js';
import type { OpEnv } from './env.js';

/**
 * Encode and submit a conv3d; shapes must already be checked (conv3dOutputShape).
 *
 * @param outShape - (N, Cout, D', H', W').
 * @returns the output tensor, written once the queued work completes.
 */
export async function conv3dWebGpu(
  env: OpEnv,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  params: Conv3dParams,
  outShape: readonly number[],
): Promise<Tensor> {
  const geometry = convGeometry(x.shape, weight.shape, params);
  const tile = chooseTile(geometry, env.gpu.limits.invocations);
  const passes = planConvPasses(geometry, env.gpu.windowElements(4));
  requireWholeBinding(env, weight, 'weight');
  if (bias) requireWholeBinding(env, bias, 'bias');

  const out = env.output(outShape, 'float32');
  const biasBuffer = bias ? env.buffer(bias) : env.scratch(4, 'no-bias');
  const fixed = fixedParams(geometry, tile, params);
  const dispatches = passes.map((pass): Dispatch => {
    const xw = env.gpu.window(env.buffer(x), pass.x[0], pass.x[1], 4);
    const ow = env.gpu.window(env.buffer(out), pass.out[0], pass.out[1], 4);
    const weights = { buffer: env.buffer(weight), size: weight.size * 4 };
    const bindings = [xw.binding, weights, { buffer: biasBuffer }, ow.binding];
    const { tiles, params: perPass } = passParams(geometry, tile, pass, xw.base, ow.base);
    const values = { ...fixed, ...perPass, has_bias: bias ? 1 : 0 };
    return {
      kernel: KERNELS.conv3d_direct,
      overrides: overrides(tile),
      bindings,
      tiles,
      params: values,
    };
  });
  await env.gpu.submit(env.op, dispatches);
  return out;
}

function requireWholeBinding(env: OpEnv, tensor: Tensor, role: string): void {
  if (tensor.size * 4 > env.gpu.windowElements(4) * 4) {
    throw new VoxsegError(
      `conv3d ${role} of ${tensor.size * 4} bytes exceeds the webgpu binding limit of ` +
        `${env.gpu.limits.bindingBytes} bytes`,
      { hint: 'run this convolution on the wasm backend' },
    );
  }
}

function overrides(tile: ConvTile): Record<string, number> {
  const [tileD, tileH, tileW] = tile.tile;
  return {
    ...{ TILE_D: tileD, TILE_H: tileH, TILE_W: tileW, VOXELS_W: tile.voxelsW },
    OC_BLOCK: tile.ocBlock,
    ...{ SLAB_CAPACITY, TAP_CAPACITY },
  };
}

/** Params that are the same for every pass. */
function fixedParams(g: ConvGeometry, tile: ConvTile, params: Conv3dParams) {
  const [d, h, w] = g.input;
  const [od, oh, ow] = g.output;
  const [kd, kh, kw] = g.kernel;
  return {
    ...{ in_c: g.cin, in_d: d, in_h: h, in_w: w, out_c: g.cout, out_d: od, out_h: oh, out_w: ow },
    ...{ k_d: kd, k_h: kh, k_w: kw },
    ...{ stride_d: g.stride[0], stride_h: g.stride[1], stride_w: g.stride[2] },
    ...{ pad_d: g.padding[0], pad_h: g.padding[1], pad_w: g.padding[2] },
    ...{ dil_d: g.dilation[0], dil_h: g.dilation[1], dil_w: g.dilation[2] },
    ...{ cin_per_group: g.cin / g.groups, cout_per_group: g.cout / g.groups },
    ...{ d_ext: tile.ext[0], h_ext: tile.ext[1], w_ext: tile.ext[2] },
    ...{ d_dense: +tile.dense[0], h_dense: +tile.dense[1], w_dense: +tile.dense[2] },
    act_code: ACTIVATION_CODES[params.activation.kind],
    act_alpha: activationAlpha(params.activation),
  };
}

/** Params of one pass and its workgroup count. */
function passParams(
  g: ConvGeometry,
  tile: ConvTile,
  pass: ConvPass,
  xBase: number,
  outBase: number,
) {
  const [tileD, tileH, tileW] = tile.tile;
  const grid = {
    tiles_w: Math.ceil(g.output[2] / (tileW * tile.voxelsW)),
    tiles_h: Math.ceil(g.output[1] / tileH),
    tiles_d: Math.ceil(pass.ozCount / tileD),
    oc_blocks: Math.ceil(pass.ocgCount / tile.ocBlock),
  };
  const perBatchGroup = grid.tiles_w * grid.tiles_h * grid.tiles_d * grid.oc_blocks;
  const tiles = perBatchGroup * pass.gCount * pass.nCount;
  const params = {
    ...grid,
    ...{ g_count: pass.gCount, g_begin: pass.gBegin, n_begin: pass.nBegin },
    ...{ ocg_begin: pass.ocgBegin, ocg_count: pass.ocgCount },
    ...{ icg_begin: pass.icgBegin, icg_count: pass.icgCount },
    ...{ oz_begin: pass.ozBegin, oz_count: pass.ozCount },
    ...{ x_base: xBase, out_base: outBase },
    ...{ first_pass: +pass.firstPass, last_pass: +pass.lastPass },
  };
  return { tiles, params };
}
