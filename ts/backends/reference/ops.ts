/**
 * Reference implementations of the non-convolution ops, on host typed arrays.
 * Activations are (N, C, D, H, W) float32; label maps are (N, D, H, W) integers.
 */
import { activate, activationAlpha } from '../../engine/activations.js';
import type { Activation, LabelCounts, SoftDiceSums } from '../../engine/backend.js';
import { VoxsegError } from '../../engine/errors.js';
import type { HostArray } from '../../engine/tensor.js';

/** Element-wise activation into a new array. */
export function activationReference(x: Float32Array, activation: Activation): Float32Array {
  const alpha = activationAlpha(activation);
  return x.map((value) => activate(activation.kind, alpha, value));
}

/**
 * Instance norm over the spatial axes of each (n, c), biased variance, then scale, shift and
 * activation. x: (N, C, S) with S = D * H * W.
 */
export function instanceNormReference(
  x: Float32Array,
  channels: number,
  spatial: number,
  options: { eps: number; scale?: Float32Array; shift?: Float32Array; activation?: Activation },
): Float32Array {
  const out = new Float32Array(x.length);
  const activation = options.activation ?? { kind: 'linear' };
  const alpha = activationAlpha(activation);

  for (let plane = 0; plane < x.length / spatial; plane++) {
    const base = plane * spatial;
    let sum = 0;
    for (let i = 0; i < spatial; i++) sum += x[base + i];
    const mean = sum / spatial;
    let squares = 0;
    for (let i = 0; i < spatial; i++) squares += (x[base + i] - mean) ** 2;
    const invStd = 1 / Math.sqrt(squares / spatial + options.eps);

    const c = plane % channels;
    const scale = options.scale ? options.scale[c] : 1;
    const shift = options.shift ? options.shift[c] : 0;
    for (let i = 0; i < spatial; i++) {
      const normed = (x[base + i] - mean) * invStd * scale + shift;
      out[base + i] = activate(activation.kind, alpha, normed);
    }
  }
  return out;
}

/** Softmax over channels. x: (N, C, S). */
export function softmaxReference(x: Float32Array, channels: number, spatial: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < x.length / (channels * spatial); b++) {
    const base = b * channels * spatial;
    for (let s = 0; s < spatial; s++) {
      let max = -Infinity;
      for (let c = 0; c < channels; c++) max = Math.max(max, x[base + c * spatial + s]);
      let sum = 0;
      for (let c = 0; c < channels; c++) sum += Math.exp(x[base + c * spatial + s] - max);
      for (let c = 0; c < channels; c++) {
        out[base + c * spatial + s] = Math.exp(x[base + c * spatial + s] - max) / sum;
      }
    }
  }
  return out;
}

/** Argmax over channels, ties to the lower index. x: (N, C, S) -> (N, S) int32. */
export function argmaxReference(x: Float32Array, channels: number, spatial: number): Int32Array {
  const batches = x.length / (channels * spatial);
  const out = new Int32Array(batches * spatial);
  for (let b = 0; b < batches; b++) {
    const base = b * channels * spatial;
    for (let s = 0; s < spatial; s++) {
      let best = 0;
      let bestValue = x[base + s];
      for (let c = 1; c < channels; c++) {
        const value = x[base + c * spatial + s];
        if (value > bestValue) [best, bestValue] = [c, value];
      }
      out[b * spatial + s] = best;
    }
  }
  return out;
}

/**
 * Per-label TP, FP, FN of two label maps of equal length.
 * @throws VoxsegError naming the first voxel whose label is outside [0, numLabels).
 */
export function labelConfusionReference(
  pred: HostArray,
  ref: HostArray,
  numLabels: number,
  ignoreLabel?: number,
): LabelCounts {
  const tp = new Float64Array(numLabels);
  const predCount = new Float64Array(numLabels);
  const refCount = new Float64Array(numLabels);
  let total = 0;

  for (let i = 0; i < pred.length; i++) {
    const p = pred[i];
    const r = ref[i];
    if (r === ignoreLabel) continue;
    if (!(p >= 0 && p < numLabels && r >= 0 && r < numLabels)) {
      throw new VoxsegError(
        `expected labels in [0, ${numLabels}) for voxel ${i}, received pred ${p}, ref ${r}`,
      );
    }
    predCount[p]++;
    refCount[r]++;
    if (p === r) tp[p]++;
    total++;
  }
  const fp = predCount.map((count, l) => count - tp[l]);
  const fn = refCount.map((count, l) => count - tp[l]);
  return { tp, fp, fn, total };
}

/** Soft Dice sums per channel. probs: (N, C, S); target: (N, S) labels. */
export function softDiceReference(
  probs: Float32Array,
  target: HostArray,
  channels: number,
  spatial: number,
): SoftDiceSums {
  const intersection = new Float64Array(channels);
  const predSum = new Float64Array(channels);
  const targetSum = new Float64Array(channels);
  for (let b = 0; b < probs.length / (channels * spatial); b++) {
    for (let c = 0; c < channels; c++) {
      const base = (b * channels + c) * spatial;
      for (let s = 0; s < spatial; s++) {
        const p = probs[base + s];
        const t = target[b * spatial + s] === c ? 1 : 0;
        intersection[c] += p * t;
        predSum[c] += p;
        targetSum[c] += t;
      }
    }
  }
  return { intersection, predSum, targetSum };
}
