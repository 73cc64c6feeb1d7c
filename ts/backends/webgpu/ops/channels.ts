/**
 * softmax and argmax over the channel axis on WebGPU. x: (N, C, D, H, W) float32.
 *
 * When a whole batch item (C x S values, S = D * H * W) fits one binding, one dispatch per
 * batch item does everything. Otherwise the work goes in windows that are each contiguous in
 * x: several whole channels, or a voxel range of one channel. The channels of a voxel range
 * are folded in order into running per-voxel state (softmax: max and sum of exponentials;
 * argmax: best value and index), then softmax writes its outputs in a second sweep.
 */
import type { Tensor } from '../../../engine/tensor.js';
import type { Dispatch } from '../gpu.js';
import { KERNELS, WORKGROUP_SIZE } from '../kernels.js';
import { chunks, type OpEnv } from './env.js';

/** One window of the channel sweep: batch n, channels [c0, c1), voxels [s0, s1). */
interface Sweep {
  n: number;
  channels: [number, number];
  voxels: [number, number];
}

/** Softmax over channels. x: (N, C, D, H, W) -> same shape. */
export async function softmaxWebGpu(env: OpEnv, x: Tensor): Promise<Tensor> {
  const [n, , d, h, w] = x.shape;
  const y = env.output(x.shape, 'float32');
  const limit = env.gpu.windowElements(4);
  const { fused, groups } = channelSweeps(x.shape, limit, Math.floor(limit / 2));
  const stats = fused ? env.scratch(8, 'no-stats') : env.scratch(n * d * h * w * 8, 'stats');
  const dispatches = groups.flatMap((group) =>
    fused
      ? [sweepDispatch(env, x, y, stats, group[0], 0)]
      : [1, 2].flatMap((phase) => group.map((s) => sweepDispatch(env, x, y, stats, s, phase))),
  );
  await env.gpu.submit(env.op, dispatches);
  return y;
}

/** Argmax over channels, ties to the lower index. x: (N, C, D, H, W) -> int32 (N, D, H, W). */
export async function argmaxWebGpu(env: OpEnv, x: Tensor): Promise<Tensor> {
  const [n, , d, h, w] = x.shape;
  const out = env.output([n, d, h, w], 'int32');
  const limit = env.gpu.windowElements(4);
  const { fused, groups } = channelSweeps(x.shape, limit, limit);
  const best = fused ? env.scratch(4, 'no-best') : env.scratch(n * d * h * w * 4, 'best');
  const dispatches = groups.flatMap((group) =>
    group.map((s, i) => argmaxDispatch(env, x, out, { best, fused }, s, i < group.length - 1)),
  );
  await env.gpu.submit(env.op, dispatches);
  return out;
}

/**
 * How to walk x: one fused window per batch item when C x S elements fit `limit`, else the
 * windows of `sweeps`, whose per-voxel state ranges fit `stateLimit` elements.
 */
function channelSweeps(shape: readonly number[], limit: number, stateLimit: number) {
  const [n, c, d, h, w] = shape;
  const spatial = d * h * w;
  if (c * spatial <= limit) {
    const whole = (b: number): Sweep[] => [{ n: b, channels: [0, c], voxels: [0, spatial] }];
    return { fused: true, groups: range(n).map(whole) };
  }
  return { fused: false, groups: sweeps(shape, Math.min(limit, stateLimit)) };
}

/**
 * Windows over x in sweep order: for each batch item and voxel range, its channel windows in
 * increasing order. `limit` bounds the elements of one window and of the per-voxel state.
 */
function sweeps(shape: readonly number[], limit: number): Sweep[][] {
  const [n, c, d, h, w] = shape;
  const spatial = d * h * w;
  const fullPlanes = spatial <= limit;
  const voxelStep = fullPlanes ? spatial : Math.floor(limit / 4) * 4;
  const channelStep = fullPlanes ? Math.max(1, Math.floor(limit / spatial)) : 1;
  const groups: Sweep[][] = [];
  for (let b = 0; b < n; b++) {
    for (const voxels of chunks(spatial, voxelStep)) {
      groups.push(chunks(c, channelStep).map((channels) => ({ n: b, channels, voxels })));
    }
  }
  return groups;
}

/**
 * What every dispatch of a sweep window shares: the element range [first, end) of x it reads
 * (and softmax writes in y) and its bound x window, the global voxel range [v0, v1) of the
 * per-voxel state and outputs, the common Params and the workgroup count.
 */
function sweepWindow(env: OpEnv, x: Tensor, s: Sweep) {
  const [, c, d, h, w] = x.shape;
  const spatial = d * h * w;
  const first = (s.n * c + s.channels[0]) * spatial + s.voxels[0];
  const end = (s.n * c + s.channels[1] - 1) * spatial + s.voxels[1];
  const count = s.voxels[1] - s.voxels[0];
  return {
    elements: [first, end] as const,
    xw: env.gpu.window(env.buffer(x), first, end, 4),
    voxels: [s.n * spatial + s.voxels[0], s.n * spatial + s.voxels[1]] as const,
    params: {
      ...{ count, s_begin: s.voxels[0], spatial, channels: c, batch: s.n },
      ...{ c_begin: s.channels[0], c_count: s.channels[1] - s.channels[0] },
    },
    tiles: Math.ceil(count / WORKGROUP_SIZE),
  };
}

/** A softmax dispatch; phase 0 (fused) binds the whole placeholder `stats`. */
function sweepDispatch(
  env: OpEnv,
  x: Tensor,
  y: Tensor,
  stats: GPUBuffer,
  s: Sweep,
  phase: number,
): Dispatch {
  const { elements, xw, voxels, params, tiles } = sweepWindow(env, x, s);
  const yw = env.gpu.window(env.buffer(y), elements[0], elements[1], 4);
  const sw = phase ? env.gpu.window(stats, voxels[0], voxels[1], 8) : wholeBuffer(stats);
  return {
    kernel: KERNELS.softmax,
    bindings: [xw.binding, yw.binding, sw.binding],
    params: { ...params, x_base: xw.base, y_base: yw.base, stats_base: sw.base, phase },
    tiles,
  };
}

/** An argmax dispatch; a fused one sees every channel and binds the whole placeholder `best`. */
function argmaxDispatch(
  env: OpEnv,
  x: Tensor,
  out: Tensor,
  state: { best: GPUBuffer; fused: boolean },
  s: Sweep,
  keep: boolean,
): Dispatch {
  const { xw, voxels, params, tiles } = sweepWindow(env, x, s);
  const ow = env.gpu.window(env.buffer(out), voxels[0], voxels[1], 4);
  const bw = state.fused
    ? wholeBuffer(state.best)
    : env.gpu.window(state.best, voxels[0], voxels[1], 4);
  return {
    kernel: KERNELS.argmax,
    bindings: [xw.binding, ow.binding, bw.binding],
    params: { ...params, x_base: xw.base, out_base: ow.base, best_base: bw.base, keep_best: +keep },
    tiles,
  };
}

function wholeBuffer(buffer: GPUBuffer) {
  return { binding: { buffer }, base: 0 };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
