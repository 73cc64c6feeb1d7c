/// <reference types="@webgpu/types" />
/** What an op sees of the backend while it runs: the GPU context and tensor allocation. */
import type { DType, Tensor } from '../../../engine/tensor.js';
import type { GpuContext } from '../gpu.js';

/** Packing code of each dtype as the kernels read it (lib/labels.wgsl, copy_blocks.wgsl). */
export const PACKING_CODE: Readonly<Record<DType, number>> = {
  float32: 0,
  int32: 0,
  uint16: 1,
  uint8: 2,
};

export interface OpEnv {
  /** The op's name, used in GPU object labels (`op.role`) and errors. */
  readonly op: string;
  readonly gpu: GpuContext;
  /** A new output tensor, poisoned when VOXSEG_POISON=1; released if the op fails. */
  output(shape: readonly number[], dtype: DType): Tensor;
  /** A scratch storage buffer of at least `bytes` bytes, given back when the op ends. */
  scratch(bytes: number, role: string): GPUBuffer;
  /** The GPU buffer holding a tensor. */
  buffer(tensor: Tensor): GPUBuffer;
}

/** [first, end) ranges that cut `total` items into chunks of at most `size`. */
export function chunks(total: number, size: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let first = 0; first < total; first += size) {
    ranges.push([first, Math.min(total, first + size)]);
  }
  return ranges;
}
