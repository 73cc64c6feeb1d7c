/**
 * activation and instanceNorm on WebGPU. Both walk their tensor in windows of at most one
 * binding; instance norm first reduces each (n, c) plane to its moments with
 * instance_norm_stats (repeated over the partials until one remains per plane), then applies
 * them with instance_norm_apply.
 */
import { ACTIVATION_CODES, activationAlpha } from '../../../engine/activations.js';
import type { Activation } from '../../../engine/backend.js';
import { VoxsegError } from '../../../engine/errors.js';
import type { Tensor } from '../../../engine/tensor.js';
import type { Dispatch } from '../gpu.js';
import { KERNELS, WORKGROUP_SIZE } from '../kernels.js';
import { chunks, type OpEnv } from './env.js';

/** Values each instance_norm_stats workgroup reduces. */
const STATS_BLOCK = WORKGROUP_SIZE * 16;

/** y = act(x), element-wise. x: any shape, float32. */
export async function activationWebGpu(env: OpEnv, x: Tensor, activation: Activation) {
  const y = env.output(x.shape, 'float32');
  const act = {
    act_code: ACTIVATION_CODES[activation.kind],
    act_alpha: activationAlpha(activation),
  };
  const dispatches = chunks(x.size, env.gpu.windowElements(4)).map(([first, end]): Dispatch => {
    const xw = env.gpu.window(env.buffer(x), first, end, 4);
    const yw = env.gpu.window(env.buffer(y), first, end, 4);
    return {
      kernel: KERNELS.activation,
      bindings: [xw.binding, yw.binding],
      params: { count: end - first, first, base: xw.base, ...act },
      tiles: Math.ceil((end - first) / WORKGROUP_SIZE),
    };
  });
  await env.gpu.submit(env.op, dispatches);
  return y;
}

/** Options of instanceNorm, as in the Backend contract. */
export interface InstanceNormOptions {
  eps: number;
  scale?: Tensor;
  shift?: Tensor;
  activation?: Activation;
}

/** Instance norm over D, H, W of each (n, c). x: (N, C, D, H, W) -> same shape. */
export async function instanceNormWebGpu(env: OpEnv, x: Tensor, options: InstanceNormOptions) {
  const [n, channels, d, h, w] = x.shape;
  const planes = n * channels;
  const planeLen = d * h * w;
  const statsBytes = planes * 16;
  if (statsBytes > env.gpu.windowElements(4) * 4) {
    throw new VoxsegError(`instanceNorm over ${planes} planes exceeds the webgpu binding limit`);
  }

  const stats = reducePlanes(env, x, planes, planeLen);
  const y = env.output(x.shape, 'float32');
  await env.gpu.submit(env.op, [
    ...stats.dispatches,
    ...applyDispatches(env, x, y, stats.result, { channels, planeLen, ...options }),
  ]);
  return y;
}

/** instance_norm_stats dispatches down to one (count, mean, m2) per plane. */
function reducePlanes(env: OpEnv, x: Tensor, planes: number, planeLen: number) {
  const dispatches: Dispatch[] = [];
  let input = { buffer: env.buffer(x), itemFloats: 1, planeLen };
  for (let pass = 0; ; pass++) {
    const blocks = Math.max(1, Math.ceil(input.planeLen / STATS_BLOCK));
    const partials = env.scratch(planes * blocks * 16, `stats${pass}`);
    dispatches.push(...statsPass(env, input, partials, planes, blocks));
    if (blocks === 1) return { dispatches, result: partials };
    input = { buffer: partials, itemFloats: 4, planeLen: blocks };
  }
}

interface StatsInput {
  buffer: GPUBuffer;
  /** Floats per input item: 1 for values, 4 for partials. */
  itemFloats: number;
  planeLen: number;
}

function statsPass(
  env: OpEnv,
  input: StatsInput,
  partials: GPUBuffer,
  planes: number,
  blocks: number,
) {
  const itemLimit = env.gpu.windowElements(4 * input.itemFloats);
  const blocksPerDispatch = Math.max(1, Math.floor(itemLimit / STATS_BLOCK));
  const fromPartials = input.itemFloats === 4 ? 1 : 0;
  return chunks(planes * blocks, blocksPerDispatch).map(([b0, b1]): Dispatch => {
    const first = itemOf(b0, blocks, input.planeLen);
    const end =
      itemOf(b1 - 1, blocks, input.planeLen) + blockLength(b1 - 1, blocks, input.planeLen);
    const xw = env.gpu.window(input.buffer, first * input.itemFloats, end * input.itemFloats, 4);
    const pw = env.gpu.window(partials, b0, b1, 16);
    return {
      kernel: KERNELS.instance_norm_stats,
      bindings: [xw.binding, pw.binding],
      params: {
        ...{ first_block: b0, blocks_per_plane: blocks, block_len: STATS_BLOCK },
        ...{ plane_len: input.planeLen, x_base: xw.base, partials_base: pw.base },
        from_partials: fromPartials,
      },
      tiles: b1 - b0,
    };
  });
}

/** First input item of global block `block`. */
function itemOf(block: number, blocks: number, planeLen: number): number {
  return Math.floor(block / blocks) * planeLen + (block % blocks) * STATS_BLOCK;
}

function blockLength(block: number, blocks: number, planeLen: number): number {
  return Math.min(STATS_BLOCK, planeLen - (block % blocks) * STATS_BLOCK);
}

interface ApplyOptions extends InstanceNormOptions {
  channels: number;
  planeLen: number;
}

function applyDispatches(env: OpEnv, x: Tensor, y: Tensor, stats: GPUBuffer, o: ApplyOptions) {
  const activation = o.activation ?? { kind: 'linear' };
  const placeholder = { buffer: env.scratch(4, 'no-affine') };
  const scale = o.scale ? { buffer: env.buffer(o.scale) } : placeholder;
  const shift = o.shift ? { buffer: env.buffer(o.shift) } : placeholder;
  const fixed = {
    ...{ plane_len: o.planeLen, channels: o.channels, eps: o.eps },
    ...{ has_scale: o.scale ? 1 : 0, has_shift: o.shift ? 1 : 0 },
    ...{ act_code: ACTIVATION_CODES[activation.kind], act_alpha: activationAlpha(activation) },
  };
  return chunks(x.size, env.gpu.windowElements(4)).map(([first, end]): Dispatch => {
    const xw = env.gpu.window(env.buffer(x), first, end, 4);
    const yw = env.gpu.window(env.buffer(y), first, end, 4);
    return {
      kernel: KERNELS.instance_norm_apply,
      bindings: [xw.binding, { buffer: stats }, scale, shift, yw.binding],
      params: { ...fixed, count: end - first, first, base: xw.base },
      tiles: Math.ceil((end - first) / WORKGROUP_SIZE),
    };
  });
}
