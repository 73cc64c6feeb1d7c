/**
 * The contract every backend implements: one op set, upload/download and release.
 *
 * All ops are asynchronous (GPU and threaded backends finish later) and never modify their
 * inputs. Shapes use (N, C, D, H, W) for activations, W = NIfTI x fastest, and (N, D, H, W)
 * for label maps.
 */
import { expected } from './errors.js';
import type { DType, HostArray, Tensor } from './tensor.js';

/** Names of the backends, in `auto`'s probing order. */
export const BACKEND_NAMES = ['cuda', 'webgpu', 'wasm', 'reference'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Element-wise activations; `alpha` is the negative slope (leakyRelu) or scale (elu). */
export type ActivationKind = 'linear' | 'relu' | 'leakyRelu' | 'elu' | 'gelu' | 'sigmoid';

export interface Activation {
  kind: ActivationKind;
  /** leakyRelu slope for x < 0 (default 0.01); elu alpha (default 1). */
  alpha?: number;
}

/** Parameters of a 3D convolution; every triple is ordered (D, H, W). */
export interface Conv3dParams {
  /** Step between output voxels, default [1, 1, 1]. */
  stride: [number, number, number];
  /** Zero padding added on both sides of each axis, default [0, 0, 0]. */
  padding: [number, number, number];
  /** Spacing between kernel taps, default [1, 1, 1]. */
  dilation: [number, number, number];
  /** Channel groups; Cin and Cout must both divide by it. Default 1. */
  groups: number;
  /** Activation applied to each output after the bias, default linear. */
  activation: Activation;
}

/** Per-label voxel counts from a pair of label maps. TN = total - TP - FP - FN. */
export interface LabelCounts {
  /** Voxels labelled l in both maps, indexed by label value. */
  tp: Float64Array;
  /** Voxels labelled l in the prediction only. */
  fp: Float64Array;
  /** Voxels labelled l in the reference only. */
  fn: Float64Array;
  /** Number of voxels compared. */
  total: number;
}

/** Sums for a soft Dice per channel: sum(p * t), sum(p), sum(t) over the spatial axes. */
export interface SoftDiceSums {
  intersection: Float64Array;
  predSum: Float64Array;
  targetSum: Float64Array;
}

/** What a backend reports about itself for `voxseg info` and logs. */
export interface BackendInfo {
  name: BackendName;
  /** One line: device or runtime, threads, SIMD level. */
  description: string;
  /** Free-form facts (adapter limits, driver version, thread count). */
  details: Record<string, string | number | boolean>;
}

/** Bytes a backend holds now and at most since creation (or the last `resetPeak`). */
export interface MemoryStats {
  bytes: number;
  peakBytes: number;
}

/** Every op of the contract, in the order the contract lists them. */
export const OP_NAMES = [
  'conv3d',
  'activation',
  'instanceNorm',
  'softmax',
  'argmax',
  'labelConfusion',
  'softDice',
  'slice',
  'concat',
  'distanceTransform',
] as const;

/** An op of the contract, by name; `Backend.ops` tells which ones a backend has. */
export type OpName = (typeof OP_NAMES)[number];

/** The whole contract: `ops` of a backend that implements every op. */
export const ALL_OPS: ReadonlySet<OpName> = new Set(OP_NAMES);

export interface Backend {
  readonly name: BackendName;
  /** Ops this backend implements; anything absent is listed in `unsupported`. */
  readonly ops: ReadonlySet<OpName>;
  /** Cases the backend rejects, each with its reason (for tests and readers). */
  readonly unsupported: readonly string[];

  info(): BackendInfo;
  memory(): MemoryStats;
  resetPeak(): void;

  /** Copy host data into a new tensor of the given shape; the dtype follows the array. */
  upload(data: HostArray, shape: readonly number[]): Promise<Tensor>;
  /**
   * Copy a tensor's data back to the host: into `into` when given (same dtype and element
   * count; reusing one array across calls spares a fresh allocation's page faults), else into
   * a new array. Returns the array written.
   */
  download(tensor: Tensor, into?: HostArray): Promise<HostArray>;
  /** A new tensor filled with zeros. */
  zeros(shape: readonly number[], dtype: DType): Promise<Tensor>;
  /** Give the tensor's memory back; idempotent. */
  release(tensor: Tensor): void;

  /**
   * 3D convolution with bias and fused activation.
   * x: (N, Cin, D, H, W); weight: (Cout, Cin / groups, KD, KH, KW); bias: (Cout) or null.
   * Returns (N, Cout, D', H', W') with D' = floor((D + 2p - dil (K - 1) - 1) / stride) + 1.
   */
  conv3d(x: Tensor, weight: Tensor, bias: Tensor | null, params: Conv3dParams): Promise<Tensor>;
  /** Element-wise activation; same shape as x. */
  activation(x: Tensor, activation: Activation): Promise<Tensor>;
  /**
   * Instance norm: per (n, c), (x - mean) / sqrt(var + eps) over D, H, W with the biased
   * variance, then optional per-channel scale and shift (C), then the activation.
   * x: (N, C, D, H, W) -> same shape.
   */
  instanceNorm(
    x: Tensor,
    options: { eps: number; scale?: Tensor; shift?: Tensor; activation?: Activation },
  ): Promise<Tensor>;
  /** Softmax over the channel axis. x: (N, C, D, H, W) -> same shape. */
  softmax(x: Tensor): Promise<Tensor>;
  /** Index of the largest channel, ties to the lower index. x: (N, C, D, H, W) -> int32 (N, D, H, W). */
  argmax(x: Tensor): Promise<Tensor>;
  /**
   * Per-label TP, FP, FN of two integer label maps of equal shape, in one pass.
   * Labels must lie in [0, numLabels); a voxel outside that range is an error.
   * @param ignoreLabel - voxels whose reference label equals this are not counted.
   */
  labelConfusion(
    pred: Tensor,
    ref: Tensor,
    numLabels: number,
    ignoreLabel?: number,
  ): Promise<LabelCounts>;
  /** Soft Dice sums. probs: (N, C, D, H, W) float32; target: int32 labels (N, D, H, W). */
  softDice(probs: Tensor, target: Tensor): Promise<SoftDiceSums>;
  /** A contiguous range [start, start + size) along one axis. */
  slice(x: Tensor, axis: number, start: number, size: number): Promise<Tensor>;
  /** Join tensors along one axis; all other dimensions must agree. */
  concat(xs: readonly Tensor[], axis: number): Promise<Tensor>;
  /**
   * Exact squared Euclidean distance transform of each batch item, separable (lower envelope
   * of parabolas along W, then H, then D) and honouring anisotropic spacing.
   * mask: (N, D, H, W) uint8 / uint16 / int32, non-zero marks a feature voxel.
   * Returns float32 (N, D, H, W): the squared distance in mm^2 from each voxel centre to the
   * nearest feature voxel centre of the same item; 0 on features; Infinity everywhere in an
   * item without features. Values carry float32 rounding (a few ulps).
   * @param spacing - voxel size in mm along (D, H, W), each finite and > 0.
   */
  distanceTransform(mask: Tensor, spacing: readonly [number, number, number]): Promise<Tensor>;

  /** Release everything the backend holds; the backend cannot be used afterwards. */
  dispose(): Promise<void>;
}

/** Fill in defaults for a partial set of conv3d parameters. */
export function conv3dParams(partial: Partial<Conv3dParams> = {}): Conv3dParams {
  return {
    stride: partial.stride ?? [1, 1, 1],
    padding: partial.padding ?? [0, 0, 0],
    dilation: partial.dilation ?? [1, 1, 1],
    groups: partial.groups ?? 1,
    activation: partial.activation ?? { kind: 'linear' },
  };
}

/**
 * Check the spacing of a distanceTransform call; every backend calls this first, so all of
 * them reject the same values with the same message.
 *
 * @param spacing - voxel size in mm along (D, H, W).
 * @returns the spacing as a plain triple.
 * @throws InputError naming `distanceTransform spacing` and the bad value.
 * @example
 * distanceSpacing([3, 0.7, 0.7]); // [3, 0.7, 0.7]
 */
export function distanceSpacing(spacing: readonly number[]): [number, number, number] {
  const ok = spacing.length === 3 && spacing.every((s) => Number.isFinite(s) && s > 0);
  if (!ok) {
    throw expected('three finite voxel sizes > 0 in mm (D, H, W)', 'distanceTransform spacing', [
      ...spacing,
    ]);
  }
  return [spacing[0], spacing[1], spacing[2]];
}
