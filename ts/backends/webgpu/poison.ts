/// <reference types="@webgpu/types" />
/**
 * Output poisoning for tests (`VOXSEG_POISON=1`): every new output buffer is filled with NaN
 * (float32) or 0xA5 bytes (integer dtypes) before a kernel writes it, so an element a kernel
 * forgets shows up in the comparison with the reference.
 */
import type { DType } from '../../engine/tensor.js';

const CHUNK_BYTES = 1 << 20;
const patterns = new Map<boolean, Uint32Array<ArrayBuffer>>();

/** Fill the whole of `buffer` with the poison pattern of `dtype`. */
export function fillPoison(device: GPUDevice, buffer: GPUBuffer, dtype: DType): void {
  const pattern = patternFor(dtype === 'float32');
  for (let offset = 0; offset < buffer.size; offset += CHUNK_BYTES) {
    const bytes = Math.min(CHUNK_BYTES, buffer.size - offset);
    device.queue.writeBuffer(buffer, offset, pattern, 0, bytes / 4);
  }
}

function patternFor(float: boolean): Uint32Array<ArrayBuffer> {
  let pattern = patterns.get(float);
  if (!pattern) {
    pattern = new Uint32Array(CHUNK_BYTES / 4).fill(float ? 0x7fc00000 : 0xa5a5a5a5);
    patterns.set(float, pattern);
  }
  return pattern;
}
