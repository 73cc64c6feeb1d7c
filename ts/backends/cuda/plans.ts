/**
 * Pure helpers of the cuda backend: the conv3d parameter record the addon takes, the strided
 * copies behind slice and concat, label element sizes and the conv3d kernel setting. Kept free
 * of the addon so tests can check them directly.
 */
import { ACTIVATION_CODES, activationAlpha } from '../../engine/activations.js';
import type { Conv3dParams } from '../../engine/backend.js';
import { didYouMean, VoxsegError } from '../../engine/errors.js';
import { axisSplit } from '../../engine/shapes.js';
import { DTYPE_BYTES, type DType } from '../../engine/tensor.js';
import type { CudaConv3dParams } from './binding.js';

/** conv3d kernels by name, as `VOXSEG_CUDA_CONV` and vx_conv3d_algorithm spell them. */
export const CONV3D_ALGORITHMS = { auto: 0, direct: 1, implicit_gemm: 2 } as const;
/** A conv3d kernel choice: auto (the stated rule), direct or implicit_gemm. */
export type Conv3dAlgorithm = keyof typeof CONV3D_ALGORITHMS;

/**
 * Parse the conv3d kernel choice (`VOXSEG_CUDA_CONV`): auto (default), direct or
 * implicit_gemm.
 *
 * @throws VoxsegError with a did-you-mean for anything else.
 */
export function parseConv3dAlgorithm(value: string | undefined): Conv3dAlgorithm {
  const name = value ?? 'auto';
  if (name in CONV3D_ALGORITHMS) return name as Conv3dAlgorithm;
  const options = Object.keys(CONV3D_ALGORITHMS);
  throw new VoxsegError(
    `expected one of ${options.join(', ')} for VOXSEG_CUDA_CONV, received '${name}'`,
    { field: 'VOXSEG_CUDA_CONV', value: name, hint: didYouMean(name, options) || undefined },
  );
}

/**
 * The addon's conv3d record.
 *
 * @param input - x: (N, Cin, D, H, W).
 * @param weight - (Cout, Cin / groups, KD, KH, KW).
 * @param output - (N, Cout, OD, OH, OW), from conv3dOutputShape.
 */
export function conv3dCallParams(
  input: readonly number[],
  weight: readonly number[],
  output: readonly number[],
  params: Conv3dParams,
  algorithm: Conv3dAlgorithm,
): CudaConv3dParams {
  const [n, cin, d, h, w] = input;
  const [cout, , kd, kh, kw] = weight;
  const [, , od, oh, ow] = output;
  return {
    ...{ n, cin, d, h, w, cout, kd, kh, kw, od, oh, ow },
    stride: params.stride,
    padding: params.padding,
    dilation: params.dilation,
    groups: params.groups,
    activation: ACTIVATION_CODES[params.activation.kind],
    alpha: activationAlpha(params.activation),
    algorithm: CONV3D_ALGORITHMS[algorithm],
  };
}

/** One copyBlocks call, offsets and strides in bytes. */
export interface BlockCopy {
  /** Index of the source among the op's inputs. */
  source: number;
  dstOffset: number;
  srcOffset: number;
  blocks: number;
  blockBytes: number;
  dstStride: number;
  srcStride: number;
}

/** The copy that takes [start, start + size) along `axis` of a tensor of `shape`. */
export function sliceCopy(
  shape: readonly number[],
  dtype: DType,
  axis: number,
  start: number,
  size: number,
): BlockCopy {
  const { outer, inner } = axisSplit(shape, axis);
  const row = inner * DTYPE_BYTES[dtype];
  return {
    source: 0,
    dstOffset: 0,
    srcOffset: start * row,
    blocks: outer,
    blockBytes: size * row,
    dstStride: size * row,
    srcStride: shape[axis] * row,
  };
}

/** One copy per input that places it along `axis` of the concatenated `outShape`. */
export function concatCopies(
  shapes: readonly (readonly number[])[],
  outShape: readonly number[],
  dtype: DType,
  axis: number,
): BlockCopy[] {
  const { outer, inner } = axisSplit(outShape, axis);
  const row = inner * DTYPE_BYTES[dtype];
  let offset = 0;
  return shapes.map((shape, source) => {
    const blockBytes = shape[axis] * row;
    const copy = { source, dstOffset: offset, srcOffset: 0, blocks: outer, blockBytes };
    offset += blockBytes;
    return { ...copy, dstStride: outShape[axis] * row, srcStride: blockBytes };
  });
}

/** Bytes per label of an integer label map (the addon's label type code). */
export function labelBytes(dtype: DType): number {
  if (dtype === 'float32') throw new VoxsegError('expected an integer label map, received float32');
  return DTYPE_BYTES[dtype];
}
