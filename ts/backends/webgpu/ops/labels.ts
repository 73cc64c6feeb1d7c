/// <reference types="@webgpu/types" />
/**
 * labelConfusion and softDice on WebGPU. Label maps of any integer dtype stay packed as their
 * host bytes (lib/labels.wgsl); both ops read their results back, so each returns a staging
 * buffer from inside the op's scope and a function that turns the mapped bytes into the
 * result.
 */
import type { LabelCounts, SoftDiceSums } from '../../../engine/backend.js';
import { VoxsegError } from '../../../engine/errors.js';
import { DTYPE_BYTES, type Tensor } from '../../../engine/tensor.js';
import type { Dispatch } from '../gpu.js';
import { KERNELS, WORKGROUP_SIZE } from '../kernels.js';
import { chunks, type OpEnv, PACKING_CODE } from './env.js';

/** Voxels each workgroup of label_confusion and soft_dice handles. */
const VOXEL_BLOCK = WORKGROUP_SIZE * 16;
/** Labels one label_confusion dispatch counts: HIST_CAPACITY / 3. */
const LABELS_PER_PASS = KERNELS.label_confusion.overrides.HIST_CAPACITY / 3;

/** Work queued on the GPU and how to turn its mapped result into the op's answer. */
export interface StagedResult<T> {
  staging: GPUBuffer;
  bytes: number;
  finish(data: ArrayBuffer): Promise<T>;
}

/** Queue label_confusion over two label maps of equal shape (N, D, H, W). */
export async function labelConfusionWebGpu(
  env: OpEnv,
  pred: Tensor,
  ref: Tensor,
  numLabels: number,
  ignoreLabel: number | undefined,
): Promise<StagedResult<LabelCounts>> {
  const words = 3 * numLabels + 2;
  if (words * 4 > env.gpu.windowElements(4) * 4) {
    throw new VoxsegError(
      `labelConfusion with ${numLabels} labels exceeds the webgpu binding limit`,
    );
  }
  const counts = env.scratch(words * 4, 'counts');
  const init = new Uint32Array(words);
  init[words - 1] = 0xffffffff;
  env.gpu.device.queue.writeBuffer(counts, 0, init);

  const elementBytes = Math.max(DTYPE_BYTES[pred.dtype], DTYPE_BYTES[ref.dtype]);
  const dispatches: Dispatch[] = [];
  for (const [first, end] of chunks(pred.size, env.gpu.windowElements(elementBytes))) {
    for (const [l0, l1] of chunks(numLabels, LABELS_PER_PASS)) {
      const pw = env.gpu.window(env.buffer(pred), first, end, DTYPE_BYTES[pred.dtype]);
      const rw = env.gpu.window(env.buffer(ref), first, end, DTYPE_BYTES[ref.dtype]);
      dispatches.push({
        kernel: KERNELS.label_confusion,
        bindings: [pw.binding, rw.binding, { buffer: counts, size: words * 4 }],
        params: {
          ...{ count: end - first, first, block_len: VOXEL_BLOCK, pred_base: pw.base },
          ...{ ref_base: rw.base, pred_code: PACKING_CODE[pred.dtype] },
          ...{ ref_code: PACKING_CODE[ref.dtype], num_labels: numLabels },
          ...{ label_begin: l0, label_count: l1 - l0, has_ignore: +(ignoreLabel !== undefined) },
          ignore_label: ignoreLabel ?? 0,
        },
        tiles: Math.ceil((end - first) / VOXEL_BLOCK),
      });
    }
  }
  await env.gpu.submit(env.op, dispatches);
  const staging = env.gpu.stage(env.op, counts, 0, words * 4);
  return {
    staging,
    bytes: words * 4,
    finish: (data) => confusionCounts(env, new Uint32Array(data), numLabels, pred, ref),
  };
}

async function confusionCounts(
  env: OpEnv,
  counts: Uint32Array,
  numLabels: number,
  pred: Tensor,
  ref: Tensor,
): Promise<LabelCounts> {
  if (counts[3 * numLabels] > 0) {
    const voxel = counts[3 * numLabels + 1];
    const [p, r] = await Promise.all([labelAt(env, pred, voxel), labelAt(env, ref, voxel)]);
    throw new VoxsegError(
      `expected labels in [0, ${numLabels}) for voxel ${voxel}, received pred ${p}, ref ${r}`,
    );
  }
  const tp = Float64Array.from(counts.subarray(0, numLabels));
  const fp = tp.map((t, l) => counts[numLabels + l] - t);
  const fn = tp.map((t, l) => counts[2 * numLabels + l] - t);
  let total = 0;
  for (let l = 0; l < numLabels; l++) total += counts[2 * numLabels + l];
  return { tp, fp, fn, total };
}

/** One label of a label map, read back from the GPU. */
async function labelAt(env: OpEnv, labels: Tensor, voxel: number): Promise<number> {
  const bytes = DTYPE_BYTES[labels.dtype];
  const word = Math.floor((voxel * bytes) / 4) * 4;
  const data = await env.gpu.read(env.op, env.buffer(labels), word, 4);
  const view = new DataView(data);
  const at = voxel * bytes - word;
  if (labels.dtype === 'uint8') return view.getUint8(at);
  if (labels.dtype === 'uint16') return view.getUint16(at, true);
  return view.getInt32(at, true);
}

/** Queue soft_dice. probs: (N, C, D, H, W) float32; target: (N, D, H, W) labels. */
export async function softDiceWebGpu(
  env: OpEnv,
  probs: Tensor,
  target: Tensor,
): Promise<StagedResult<SoftDiceSums>> {
  const [n, channels, d, h, w] = probs.shape;
  const spatial = d * h * w;
  const limit = env.gpu.windowElements(4);
  const ranges = diceRanges(n, channels, spatial, limit);
  const blocks = ranges.map((r) => Math.ceil((r.voxels[1] - r.voxels[0]) / VOXEL_BLOCK));
  const tiles = ranges.map((r, i) => (r.planes[1] - r.planes[0]) * blocks[i]);
  const totalTiles = tiles.reduce((a, b) => a + b, 0);
  const partials = env.scratch(totalTiles * 16, 'partials');

  let partialBegin = 0;
  const dispatches = ranges.map((r, i): Dispatch => {
    const out = env.gpu.window(partials, partialBegin, partialBegin + tiles[i], 16);
    const dispatch = diceDispatch(env, probs, target, r, blocks[i], partialBegin - out.base);
    partialBegin += tiles[i];
    return { ...dispatch, bindings: [...dispatch.bindings, out.binding], tiles: tiles[i] };
  });
  await env.gpu.submit(env.op, dispatches);
  const staging = env.gpu.stage(env.op, partials, 0, totalTiles * 16);
  return {
    staging,
    bytes: totalTiles * 16,
    finish: async (data) => diceSums(new Float32Array(data), ranges, blocks, channels),
  };
}

/** Planes (n * C + c) [p0, p1) and voxels [s0, s1) of one soft_dice dispatch. */
interface DiceRange {
  planes: [number, number];
  voxels: [number, number];
}

function diceRanges(n: number, channels: number, spatial: number, limit: number): DiceRange[] {
  const ranges: DiceRange[] = [];
  const planesPerRange = Math.max(1, Math.floor(limit / spatial));
  for (let b = 0; b < n; b++) {
    if (spatial <= limit) {
      for (const [c0, c1] of chunks(channels, planesPerRange)) {
        ranges.push({ planes: [b * channels + c0, b * channels + c1], voxels: [0, spatial] });
      }
      continue;
    }
    for (let c = 0; c < channels; c++) {
      for (const voxels of chunks(spatial, limit)) {
        ranges.push({ planes: [b * channels + c, b * channels + c + 1], voxels });
      }
    }
  }
  return ranges;
}

/**
 * A soft_dice dispatch without its partials binding, whose workgroup 0 writes the partial at
 * `partialBegin` of that binding.
 */
function diceDispatch(
  env: OpEnv,
  probs: Tensor,
  target: Tensor,
  r: DiceRange,
  blocks: number,
  partialBegin: number,
): Omit<Dispatch, 'tiles'> {
  const [, channels, d, h, w] = probs.shape;
  const spatial = d * h * w;
  const batch = Math.floor(r.planes[0] / channels);
  const pFirst = r.planes[0] * spatial + r.voxels[0];
  const pEnd = (r.planes[1] - 1) * spatial + r.voxels[1];
  const pw = env.gpu.window(env.buffer(probs), pFirst, pEnd, 4);
  const tw = env.gpu.window(
    env.buffer(target),
    batch * spatial + r.voxels[0],
    batch * spatial + r.voxels[1],
    DTYPE_BYTES[target.dtype],
  );
  return {
    kernel: KERNELS.soft_dice,
    bindings: [pw.binding, tw.binding],
    params: {
      ...{ plane_begin: r.planes[0], s_begin: r.voxels[0], s_count: r.voxels[1] - r.voxels[0] },
      ...{ block_len: VOXEL_BLOCK, blocks, spatial, channels, probs_base: pw.base },
      ...{ target_base: tw.base, target_code: PACKING_CODE[target.dtype] },
      partial_begin: partialBegin,
    },
  };
}

function diceSums(
  partials: Float32Array,
  ranges: readonly DiceRange[],
  blocks: readonly number[],
  channels: number,
): SoftDiceSums {
  const sums = {
    intersection: new Float64Array(channels),
    predSum: new Float64Array(channels),
    targetSum: new Float64Array(channels),
  };
  let tile = 0;
  ranges.forEach((r, i) => {
    for (let plane = r.planes[0]; plane < r.planes[1]; plane++) {
      const c = plane % channels;
      for (let b = 0; b < blocks[i]; b++, tile++) {
        sums.intersection[c] += partials[4 * tile];
        sums.predSum[c] += partials[4 * tile + 1];
        sums.targetSum[c] += partials[4 * tile + 2];
      }
    }
  });
  return sums;
}
