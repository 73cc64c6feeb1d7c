/**
 * slice and concat on WebGPU, both as strided block copies (copy_blocks): a tensor seen as
 * (outer, axis, inner) copies `rows = outer` rows of `row_len` elements. Copies are cut into
 * destination word ranges whose source and destination windows each fit one binding.
 */
import { axisSplit } from '../../../engine/shapes.js';
import { DTYPE_BYTES, type Tensor } from '../../../engine/tensor.js';
import type { Dispatch } from '../gpu.js';
import { KERNELS, WORKGROUP_SIZE } from '../kernels.js';
import { type OpEnv, PACKING_CODE } from './env.js';

/** One strided block copy, in elements. */
interface BlockCopy {
  rows: number;
  rowLen: number;
  srcStart: number;
  srcStride: number;
  dstStart: number;
  dstStride: number;
}

/** A range [start, start + size) along `axis`; `shape` is the checked output shape. */
export async function sliceWebGpu(
  env: OpEnv,
  x: Tensor,
  axis: number,
  start: number,
  shape: readonly number[],
): Promise<Tensor> {
  const out = env.output(shape, x.dtype);
  const { outer, inner } = axisSplit(x.shape, axis);
  const rowLen = shape[axis] * inner;
  const copy = { rows: outer, rowLen, srcStart: start * inner, srcStride: x.shape[axis] * inner };
  await env.gpu.submit(
    env.op,
    copyDispatches(env, x, out, { ...copy, dstStart: 0, dstStride: rowLen }),
  );
  return out;
}

/** Join `xs` along `axis`; `shape` is the checked output shape. */
export async function concatWebGpu(
  env: OpEnv,
  xs: readonly Tensor[],
  axis: number,
  shape: readonly number[],
): Promise<Tensor> {
  const out = env.output(shape, xs[0].dtype);
  const { outer, inner } = axisSplit(shape, axis);
  const dispatches: Dispatch[] = [];
  let offset = 0;
  for (const x of xs) {
    const rowLen = x.shape[axis] * inner;
    const copy = { rows: outer, rowLen, srcStart: 0, srcStride: rowLen };
    const placement = { dstStart: offset * inner, dstStride: shape[axis] * inner };
    dispatches.push(...copyDispatches(env, x, out, { ...copy, ...placement }));
    offset += x.shape[axis];
  }
  await env.gpu.submit(env.op, dispatches);
  return out;
}

/** Dispatches for one block copy, cut so that both windows of each fit a binding. */
function copyDispatches(env: OpEnv, src: Tensor, dst: Tensor, copy: BlockCopy): Dispatch[] {
  if (copy.rows === 0 || copy.rowLen === 0) return [];
  const bytes = DTYPE_BYTES[src.dtype];
  const perWord = 4 / bytes;
  const limit = env.gpu.windowElements(bytes);
  const span = [copy.dstStart, copy.dstStart + (copy.rows - 1) * copy.dstStride + copy.rowLen];
  const dispatches: Dispatch[] = [];
  let first = Math.floor(span[0] / perWord) * perWord;
  while (first < span[1]) {
    let end = Math.min(span[1], first + limit);
    while (end - first > perWord && sourceLength(copy, first, end) > limit) {
      end = first + Math.max(perWord, Math.floor((end - first) / 2 / perWord) * perWord);
    }
    dispatches.push(copyDispatch(env, src, dst, copy, [first, end]));
    first = end;
  }
  return dispatches;
}

function sourceLength(copy: BlockCopy, first: number, end: number): number {
  const [s0, s1] = sourceRange(copy, first, end);
  return s1 - s0;
}

/** Source elements that destination elements [first, end) may read. */
function sourceRange(copy: BlockCopy, first: number, end: number): [number, number] {
  const rowOf = (e: number) => Math.floor((e - copy.dstStart) / copy.dstStride);
  const r0 = Math.max(0, rowOf(Math.max(first, copy.dstStart)));
  const r1 = Math.min(copy.rows - 1, rowOf(end - 1));
  return [copy.srcStart + r0 * copy.srcStride, copy.srcStart + r1 * copy.srcStride + copy.rowLen];
}

function copyDispatch(
  env: OpEnv,
  src: Tensor,
  dst: Tensor,
  copy: BlockCopy,
  [first, end]: [number, number],
): Dispatch {
  const bytes = DTYPE_BYTES[src.dtype];
  const code = PACKING_CODE[src.dtype];
  const [s0, s1] = sourceRange(copy, first, end);
  const sw = env.gpu.window(env.buffer(src), s0, s1, bytes);
  const dw = env.gpu.window(env.buffer(dst), first, end, bytes);
  const firstWord = first >> code;
  const words = Math.ceil(end / (1 << code)) - firstWord;
  return {
    kernel: KERNELS.copy_blocks,
    bindings: [sw.binding, dw.binding],
    params: {
      ...{ word_count: words, first_word: firstWord, code, rows: copy.rows, row_len: copy.rowLen },
      ...{ src_start: copy.srcStart, src_stride: copy.srcStride, dst_start: copy.dstStart },
      ...{ dst_stride: copy.dstStride, src_base: sw.base, dst_base: dw.base },
    },
    tiles: Math.ceil(words / WORKGROUP_SIZE),
  };
}
