/**
 * labelConfusion and softDice on the wasm backend: each thread counts into its own block,
 * then the host adds the blocks. Label maps are uint8, uint16 or int32, (N, D, H, W).
 */
import type { LabelCounts, SoftDiceSums } from '../../engine/backend.js';
import { VoxsegError } from '../../engine/errors.js';
import { DTYPE_BYTES, type DType } from '../../engine/tensor.js';
import { runItems, type WasmContext } from './context.js';
import { batchPieces } from './executor.js';

/** A label map in wasm memory. */
export interface LabelMap {
  ptr: number;
  dtype: Exclude<DType, 'float32'>;
}

const SUFFIX = { uint8: 'u8', uint16: 'u16', int32: 'i32' } as const;

/**
 * Scratch bytes per thread of label_confusion: a chunk of both maps as bytes, (2, 4080) for the
 * kernel's 255 blocks of 16 voxels (less would only make its chunks smaller).
 */
const SCRATCH_BYTES = 8192;

/**
 * Per-label TP, FP, FN of two maps of `count` voxels in one pass.
 *
 * @throws VoxsegError naming the first voxel (in memory order) whose label is outside
 *   [0, numLabels), as the reference backend does.
 */
export async function runLabelConfusion(
  ctx: WasmContext,
  pred: LabelMap,
  ref: LabelMap,
  count: number,
  numLabels: number,
  ignoreLabel?: number,
): Promise<LabelCounts> {
  const temps: number[] = [];
  try {
    // Maps of different dtypes are compared as int32.
    if (pred.dtype !== ref.dtype) {
      pred = widen(ctx, pred, count, temps);
      ref = widen(ctx, ref, count, temps);
    }
    const threads = ctx.executor.threads;
    const blockBytes = 3 * numLabels * 4;
    const blocks = ctx.heap.alloc(blockBytes * threads, 'labelConfusion counts');
    temps.push(blocks);
    ctx.heap.u32(blocks, 3 * numLabels * threads).fill(0);
    const scratch = ctx.heap.alloc(SCRATCH_BYTES * threads, 'labelConfusion scratch');
    temps.push(scratch);

    const bytes = DTYPE_BYTES[pred.dtype];
    const ignore = ignoreArgument(ignoreLabel);
    const kernel = `label_confusion_${SUFFIX[pred.dtype]}`;
    const runs = await runItems(ctx, count, count * 4, ({ start, end, thread }) => [
      {
        kernel,
        args: [pred.ptr + start * bytes, ref.ptr + start * bytes, end - start, numLabels,
          ignore.value, ignore.has, blocks + thread * blockBytes,
          scratch + thread * SCRATCH_BYTES, SCRATCH_BYTES], // prettier-ignore
      },
    ]);
    throwOnBadLabel(ctx, runs, pred, ref, numLabels);
    return sumCounts(ctx.heap.u32(blocks, 3 * numLabels * ctx.executor.threads), numLabels);
  } finally {
    for (const ptr of temps) ctx.heap.free(ptr);
  }
}

/** The ignore label as kernel arguments: only an int32 value can match a stored label. */
function ignoreArgument(ignoreLabel?: number): { value: number; has: number } {
  const usable = ignoreLabel !== undefined && (ignoreLabel | 0) === ignoreLabel;
  return { value: usable ? ignoreLabel : 0, has: usable ? 1 : 0 };
}

/** Copy a uint8/uint16 map into a new int32 map (temps collects it for freeing). */
function widen(ctx: WasmContext, map: LabelMap, count: number, temps: number[]): LabelMap {
  if (map.dtype === 'int32') return map;
  const ptr = ctx.heap.alloc(count * 4, 'labelConfusion widened labels');
  temps.push(ptr);
  const kernel = map.dtype === 'uint8' ? 'labels_widen_u8' : 'labels_widen_u16';
  (ctx.kernels[kernel] as (src: number, dst: number, n: number) => void)(map.ptr, ptr, count);
  return { ptr, dtype: 'int32' };
}

function throwOnBadLabel(
  ctx: WasmContext,
  runs: Array<{ range: { start: number }; results: number[] }>,
  pred: LabelMap,
  ref: LabelMap,
  numLabels: number,
): void {
  const bad = runs
    .filter((run) => run.results[0] >= 0)
    .map((run) => run.range.start + run.results[0]);
  if (!bad.length) return;
  const voxel = Math.min(...bad);
  const p = readLabel(ctx, pred, voxel);
  const r = readLabel(ctx, ref, voxel);
  throw new VoxsegError(
    `expected labels in [0, ${numLabels}) for voxel ${voxel}, received pred ${p}, ref ${r}`,
  );
}

function readLabel(ctx: WasmContext, map: LabelMap, voxel: number): number {
  const at = map.ptr + voxel * DTYPE_BYTES[map.dtype];
  const buffer = ctx.heap.bytes(at, DTYPE_BYTES[map.dtype]).buffer;
  if (map.dtype === 'uint8') return new Uint8Array(buffer, at, 1)[0];
  if (map.dtype === 'uint16') return new Uint16Array(buffer, at, 1)[0];
  return new Int32Array(buffer, at, 1)[0];
}

/** Add per-thread (3, numLabels) blocks of (tp, pred count, ref count) into LabelCounts. */
function sumCounts(blocks: Uint32Array, numLabels: number): LabelCounts {
  const tp = new Float64Array(numLabels);
  const predCount = new Float64Array(numLabels);
  const refCount = new Float64Array(numLabels);
  for (let base = 0; base < blocks.length; base += 3 * numLabels) {
    for (let l = 0; l < numLabels; l++) {
      tp[l] += blocks[base + l];
      predCount[l] += blocks[base + numLabels + l];
      refCount[l] += blocks[base + 2 * numLabels + l];
    }
  }
  const total = refCount.reduce((sum, count) => sum + count, 0);
  const fp = predCount.map((count, l) => count - tp[l]);
  const fn = refCount.map((count, l) => count - tp[l]);
  return { tp, fp, fn, total };
}

/**
 * Soft Dice sums per channel. probs: (N, C, S) float32 at `probs`; target: (N, S) labels.
 */
export async function runSoftDice(
  ctx: WasmContext,
  probs: number,
  target: LabelMap,
  shape: { n: number; c: number; s: number },
): Promise<SoftDiceSums> {
  const { n, c, s } = shape;
  const threads = ctx.executor.threads;
  const blocks = ctx.heap.alloc(3 * c * 8 * threads, 'softDice sums');
  try {
    ctx.heap.f64(blocks, 3 * c * threads).fill(0);
    const bytes = DTYPE_BYTES[target.dtype];
    const kernel = `soft_dice_${SUFFIX[target.dtype]}`;
    await runItems(ctx, n * s, n * s * c * 3, ({ start, end, thread }) =>
      batchPieces(start, end, s).map((piece) => ({
        kernel,
        args: [probs + piece.batch * c * s * 4, target.ptr + piece.batch * s * bytes, c, s,
          piece.start, piece.end, blocks + thread * 3 * c * 8], // prettier-ignore
      })),
    );
    return sumDice(ctx.heap.f64(blocks, 3 * c * threads), c);
  } finally {
    ctx.heap.free(blocks);
  }
}

function sumDice(blocks: Float64Array, channels: number): SoftDiceSums {
  const sums = [0, 1, 2].map(() => new Float64Array(channels));
  for (let base = 0; base < blocks.length; base += 3 * channels) {
    for (let k = 0; k < 3; k++) {
      for (let ch = 0; ch < channels; ch++) sums[k][ch] += blocks[base + k * channels + ch];
    }
  }
  return { intersection: sums[0], predSum: sums[1], targetSum: sums[2] };
}
