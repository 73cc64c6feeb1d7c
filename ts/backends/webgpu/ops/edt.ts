/// <reference types="@webgpu/types" />
/**
 * distanceTransform on WebGPU: three passes of one line per invocation, encoded into one
 * submission (each dispatch sees the writes of the ones before it):
 * 1. edt_rows along W: mask -> out (squared row distances);
 * 2. edt_envelope along H: out -> tmp;
 * 3. edt_envelope along D: tmp -> out.
 * `sites` holds each line's envelope during passes 2 and 3. out, tmp and sites are float32
 * or u32 of the mask's shape: 12 bytes per voxel on the GPU besides the mask.
 * Two kernels for three passes: passes 2 and 3 differ only in their line geometry, which
 * edt_envelope takes from Params; pass 1 reads the packed integer mask and needs no envelope
 * (a row of 0 / Infinity values has its nearest feature found by two scans).
 *
 * Windows: rows and H lines are cut into ranges of whole rows / planes that fit one binding;
 * a D line spans a whole batch item, so each item must fit one binding (the backend lists
 * this limit among its unsupported cases).
 */
import { VoxsegError } from '../../../engine/errors.js';
import { DTYPE_BYTES, formatShape, type Tensor } from '../../../engine/tensor.js';
import type { Dispatch } from '../gpu.js';
import { KERNELS, WORKGROUP_SIZE } from '../kernels.js';
import { chunks, type OpEnv, PACKING_CODE } from './env.js';

/** The buffers the two envelope passes read, write and keep their sites in. */
interface EnvelopeBuffers {
  src: GPUBuffer;
  dst: GPUBuffer;
  sites: GPUBuffer;
}

/** Lines of one envelope pass: extent `n`, elements `inner` apart, in groups of `perWindow`. */
interface EnvelopeAxis {
  lines: number;
  n: number;
  inner: number;
  step: number;
  /** Lines per window: whole planes (H) or whole batch items (D). */
  perWindow: number;
}

/**
 * Squared EDT of each batch item. mask: (N, D, H, W) labels -> float32 (N, D, H, W), mm^2.
 *
 * @param spacing - (sd, sh, sw) in mm, checked by the caller.
 * @throws VoxsegError when one batch item does not fit one storage binding.
 */
export async function distanceTransformWebGpu(
  env: OpEnv,
  mask: Tensor,
  spacing: readonly [number, number, number],
): Promise<Tensor> {
  const [n, d, h, w] = mask.shape;
  const limit = env.gpu.windowElements(4);
  if (d * h * w > limit) {
    throw new VoxsegError(
      `distanceTransform on webgpu binds one batch item whole: ${formatShape(mask.shape)} ` +
        `has ${d * h * w} voxels per item, one binding holds at most ${limit}`,
      { hint: 'run it on the wasm backend, or on a smaller crop' },
    );
  }
  const out = env.output(mask.shape, 'float32');
  if (out.size === 0) return out;

  const tmp = env.scratch(out.size * 4, 'tmp');
  const sites = env.scratch(out.size * 4, 'sites');
  const alongH: EnvelopeAxis = {
    ...{ lines: n * d * w, n: h, inner: w, step: spacing[1] },
    perWindow: Math.floor(limit / (h * w)) * w,
  };
  const alongD: EnvelopeAxis = {
    ...{ lines: n * h * w, n: d, inner: h * w, step: spacing[0] },
    perWindow: Math.floor(limit / (d * h * w)) * h * w,
  };
  await env.gpu.submit(env.op, [
    ...rowDispatches(env, mask, out, spacing[2]),
    ...envelopeDispatches(env, { src: env.buffer(out), dst: tmp, sites }, alongH),
    ...envelopeDispatches(env, { src: tmp, dst: env.buffer(out), sites }, alongD),
  ]);
  return out;
}

/** Pass 1 in ranges of whole rows whose mask and output windows each fit one binding. */
function rowDispatches(env: OpEnv, mask: Tensor, out: Tensor, step: number): Dispatch[] {
  const [n, d, h, w] = mask.shape;
  const rowsPerWindow = Math.max(1, Math.floor(env.gpu.windowElements(4) / w));
  return chunks(n * d * h, rowsPerWindow).map(([first, end]) => {
    const maskWindow = env.gpu.window(
      ...([env.buffer(mask), first * w, end * w, DTYPE_BYTES[mask.dtype]] as const),
    );
    const outWindow = env.gpu.window(env.buffer(out), first * w, end * w, 4);
    return {
      kernel: KERNELS.edt_rows,
      bindings: [maskWindow.binding, outWindow.binding],
      params: {
        ...{ rows: end - first, first_row: first, w, mask_base: maskWindow.base },
        ...{ mask_code: PACKING_CODE[mask.dtype], out_base: outWindow.base, step },
      },
      tiles: Math.ceil((end - first) / WORKGROUP_SIZE),
    };
  });
}

/** One envelope pass in ranges of lines whose elements all lie in one window. */
function envelopeDispatches(env: OpEnv, buffers: EnvelopeBuffers, axis: EnvelopeAxis) {
  const lineSpan = axis.inner * axis.n; // elements covered by `inner` adjacent lines
  return chunks(axis.lines, axis.perWindow).map(([first, end]): Dispatch => {
    const from = Math.floor(first / axis.inner) * lineSpan;
    const to = Math.ceil(end / axis.inner) * lineSpan;
    const [src, dst, sites] = [buffers.src, buffers.dst, buffers.sites].map((buffer) =>
      env.gpu.window(buffer, from, to, 4),
    );
    return {
      kernel: KERNELS.edt_envelope,
      bindings: [src.binding, dst.binding, sites.binding],
      params: {
        ...{ lines: end - first, first_line: first, n: axis.n, inner: axis.inner },
        ...{ src_base: src.base, dst_base: dst.base, sites_base: sites.base, step: axis.step },
      },
      tiles: Math.ceil((end - first) / WORKGROUP_SIZE),
    };
  });
}
