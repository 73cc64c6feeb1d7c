/**
 * Tensors: data that lives on one backend. Activations are float32 and shaped (N, C, D, H, W)
 * with W (the NIfTI x axis) fastest; label maps are integer tensors shaped (N, D, H, W).
 */

import { VoxsegError } from './errors.js';

/** Element types a tensor may hold. float32 for activations; the others for label maps. */
export type DType = 'float32' | 'int32' | 'uint8' | 'uint16';

/** The typed array that holds each dtype on the host. */
export interface DTypeArrays {
  float32: Float32Array;
  int32: Int32Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
}

export type HostArray = DTypeArrays[DType];

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Record<DType, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2 };

/**
 * A handle to data owned by a backend. Tensors are immutable once made; an op returns a new
 * tensor, and `release` gives the memory back. Using a released tensor is an error.
 */
export interface Tensor {
  /** Unique id within the process, for debugging and pipeline cache keys. */
  readonly id: number;
  /** Name of the backend that owns the data. */
  readonly backend: string;
  /** Dimensions, outermost first: (N, C, D, H, W) for activations. */
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Number of elements, the product of `shape`. */
  readonly size: number;
  /** Backend-private storage (a typed array, a wasm pointer, a GPU buffer). */
  readonly handle: unknown;
  /** Set once the backend has released the storage. */
  released: boolean;
}

let nextTensorId = 1;

/**
 * Make a tensor record; backends call this, users get tensors from backend ops.
 *
 * @param backend - owning backend's name.
 * @param shape - dimensions, outermost first.
 * @param dtype - element type.
 * @param handle - backend-private storage.
 */
export function makeTensor(
  backend: string,
  shape: readonly number[],
  dtype: DType,
  handle: unknown,
): Tensor {
  return {
    id: nextTensorId++,
    backend,
    shape: Object.freeze([...shape]),
    dtype,
    size: shapeSize(shape),
    handle,
    released: false,
  };
}

/** Product of the dimensions; 1 for a scalar shape `[]`. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/** Allocate a host array of the given dtype and length. */
export function allocHost<D extends DType>(dtype: D, length: number): DTypeArrays[D] {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length) as DTypeArrays[D];
    case 'int32':
      return new Int32Array(length) as DTypeArrays[D];
    case 'uint8':
      return new Uint8Array(length) as DTypeArrays[D];
    default:
      return new Uint16Array(length) as DTypeArrays[D];
  }
}

/**
 * Where a download lands: `into` when given (checked: the tensor's dtype and element count),
 * else a new host array. Reusing one array across calls spares the page faults of a fresh
 * allocation, which cost more than the copy for large tensors.
 *
 * @throws VoxsegError naming `into` when its type or length does not match the tensor.
 */
export function downloadTarget(tensor: Tensor, into?: HostArray): HostArray {
  if (!into) return allocHost(tensor.dtype, tensor.size);
  const dtype = dtypeOf(into);
  if (dtype !== tensor.dtype) {
    const received = dtype ?? (into as object).constructor?.name ?? typeof into;
    throw new VoxsegError(
      `expected a ${tensor.dtype} array for download's into (the tensor's dtype), received ${received}`,
      { field: 'into', value: received },
    );
  }
  if (into.length !== tensor.size) {
    throw new VoxsegError(
      `expected ${tensor.size} elements in download's into (shape [${tensor.shape}]), ` +
        `received ${into.length}`,
      { field: 'into', value: into.length },
    );
  }
  return into;
}

/** The dtype whose host array `data` is, or undefined for unsupported arrays. */
export function dtypeOf(data: ArrayBufferView): DType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Uint16Array) return 'uint16';
  return undefined;
}

/** Format a shape as `(1, 5, 64, 64, 64)` for messages. */
export function formatShape(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}
