/**
 * Shape checks and output-shape rules shared by every backend, so each one rejects the same
 * inputs with the same message.
 */
import type { Conv3dParams } from './backend.js';
import { VoxsegError } from './errors.js';
import { type DType, type Tensor, formatShape } from './tensor.js';

/** Output extent of one convolution axis, or <= 0 when the kernel does not fit. */
export function convOutputExtent(
  size: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation: number,
): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/**
 * Check a conv3d call and return its output shape.
 * x: (N, Cin, D, H, W); weight: (Cout, Cin / groups, KD, KH, KW); bias: (Cout).
 *
 * @returns (N, Cout, D', H', W').
 * @throws VoxsegError naming both shapes when they do not fit together.
 */
export function conv3dOutputShape(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  params: Conv3dParams,
): number[] {
  requireRank(x, 5, 'conv3d input x (N, C, D, H, W)');
  requireRank(weight, 5, 'conv3d weight (Cout, Cin/groups, KD, KH, KW)');
  requireDType(x, 'float32', 'conv3d input x');
  const [n, cin, d, h, w] = x.shape;
  const [cout, cinPerGroup, kd, kh, kw] = weight.shape;
  const { groups, stride, padding, dilation } = params;

  if (!Number.isInteger(groups) || groups < 1 || cin % groups || cout % groups) {
    throw new VoxsegError(
      `expected groups dividing Cin=${cin} and Cout=${cout} for conv3d groups, received ${groups}`,
    );
  }
  if (cinPerGroup * groups !== cin) {
    throw new VoxsegError(
      `conv3d channel mismatch: input x ${formatShape(x.shape)} has ${cin} channels but ` +
        `weight ${formatShape(weight.shape)} expects ${cinPerGroup * groups}`,
      { field: 'channels', value: cin },
    );
  }
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== cout)) {
    throw new VoxsegError(
      `expected bias of shape (${cout}) for conv3d bias, received ${formatShape(bias.shape)}`,
    );
  }

  const extents = [d, h, w].map((size, axis) =>
    convOutputExtent(size, [kd, kh, kw][axis], stride[axis], padding[axis], dilation[axis]),
  );
  if (extents.some((extent) => extent < 1)) {
    throw new VoxsegError(
      `conv3d kernel does not fit: input ${formatShape(x.shape)}, weight ` +
        `${formatShape(weight.shape)}, padding [${padding}], dilation [${dilation}]`,
    );
  }
  return [n, cout, ...extents];
}

/** Throw unless the tensor has exactly `rank` dimensions. */
export function requireRank(t: Tensor, rank: number, role: string): void {
  if (t.shape.length !== rank) {
    throw new VoxsegError(
      `expected a rank-${rank} tensor for ${role}, received shape ${formatShape(t.shape)}`,
    );
  }
}

/** Throw unless the tensor has the given dtype. */
export function requireDType(t: Tensor, dtype: DType, role: string): void {
  if (t.dtype !== dtype) {
    throw new VoxsegError(`expected ${dtype} for ${role}, received ${t.dtype}`);
  }
}

/** Throw unless both tensors have the same shape. */
export function requireSameShape(a: Tensor, b: Tensor, roles: [string, string]): void {
  if (a.shape.length !== b.shape.length || a.shape.some((dim, i) => dim !== b.shape[i])) {
    throw new VoxsegError(
      `shape mismatch: ${roles[0]} ${formatShape(a.shape)} vs ${roles[1]} ${formatShape(b.shape)}`,
    );
  }
}

/** Throw unless the label dtype is an integer type. */
export function requireLabels(t: Tensor, role: string): void {
  if (t.dtype === 'float32') {
    throw new VoxsegError(`expected an integer label map for ${role}, received float32`);
  }
}

/** Check a slice request and return the output shape. */
export function sliceShape(x: Tensor, axis: number, start: number, size: number): number[] {
  requireAxis(x, axis);
  if (!Number.isInteger(start) || !Number.isInteger(size) || start < 0 || size < 0) {
    throw new VoxsegError(
      `expected a non-negative integer range for slice, received ${start}+${size}`,
    );
  }
  if (start + size > x.shape[axis]) {
    throw new VoxsegError(
      `slice [${start}, ${start + size}) exceeds axis ${axis} of ${formatShape(x.shape)}`,
    );
  }
  const shape = [...x.shape];
  shape[axis] = size;
  return shape;
}

/** Check a concat request and return the output shape. */
export function concatShape(xs: readonly Tensor[], axis: number): number[] {
  if (xs.length === 0) throw new VoxsegError('expected at least one tensor for concat');
  const first = xs[0];
  requireAxis(first, axis);
  const shape = [...first.shape];
  shape[axis] = 0;
  for (const x of xs) {
    const agrees =
      x.dtype === first.dtype &&
      x.shape.length === first.shape.length &&
      x.shape.every((dim, i) => i === axis || dim === first.shape[i]);
    if (!agrees) {
      throw new VoxsegError(
        `concat along axis ${axis}: ${formatShape(x.shape)} ${x.dtype} does not match ` +
          `${formatShape(first.shape)} ${first.dtype}`,
      );
    }
    shape[axis] += x.shape[axis];
  }
  return shape;
}

function requireAxis(x: Tensor, axis: number): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= x.shape.length) {
    throw new VoxsegError(`expected an axis in [0, ${x.shape.length}) for axis, received ${axis}`);
  }
}

/**
 * Strides (in elements) of an outer-to-inner index split around `axis`:
 * outer = product of dims before axis, inner = product after it.
 */
export function axisSplit(
  shape: readonly number[],
  axis: number,
): { outer: number; inner: number } {
  let outer = 1;
  let inner = 1;
  shape.forEach((dim, i) => {
    if (i < axis) outer *= dim;
    if (i > axis) inner *= dim;
  });
  return { outer, inner };
}
