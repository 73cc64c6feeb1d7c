/**
 * The wasm backend's memory: blocks of the module's linear memory, counted by a MemoryTracker.
 * `memory.grow` replaces (or, for shared memory, outgrows) the buffer, so views are made fresh
 * from `memory.buffer` after every allocation, never kept.
 */
import { BackendRuntimeError, VoxsegError } from '../../engine/errors.js';
import { MemoryTracker } from '../../engine/memory.js';
import type { MemoryStats } from '../../engine/backend.js';
import type { WasmKernels } from './module.js';

/** Largest block the AssemblyScript allocator hands out: 1 GiB less its block header. */
export const MAX_BLOCK_BYTES = 2 ** 30 - 16;

/**
 * Allocation and typed views over the module's memory, with byte accounting.
 *
 * @example
 * const ptr = heap.alloc(4 * n, 'scratch');
 * heap.f32(ptr, n).fill(0);
 * heap.free(ptr);
 */
export class WasmHeap {
  private readonly tracker = new MemoryTracker();
  private readonly sizes = new Map<number, number>();

  constructor(
    private readonly kernels: WasmKernels,
    private readonly memory: WebAssembly.Memory,
  ) {}

  /**
   * Allocate `bytes` (16-byte aligned) and count them.
   *
   * @param role - what the block is for, named in errors.
   * @throws VoxsegError when the block exceeds 1 GiB; BackendRuntimeError when memory is full.
   */
  alloc(bytes: number, role: string): number {
    if (bytes > MAX_BLOCK_BYTES) {
      throw new VoxsegError(
        `expected at most ${MAX_BLOCK_BYTES} bytes for ${role} on the wasm backend, ` +
          `received ${bytes}`,
        { hint: 'split the volume into slabs, or use another backend' },
      );
    }
    const ptr = this.allocRaw(Math.max(bytes, 16), role);
    this.sizes.set(ptr, bytes);
    this.tracker.allocate(bytes);
    return ptr;
  }

  /** Give a block back; unknown pointers are ignored. */
  free(ptr: number): void {
    const bytes = this.sizes.get(ptr);
    if (bytes === undefined) return;
    this.sizes.delete(ptr);
    this.kernels.free(ptr);
    this.tracker.free(bytes);
  }

  /** Free every block (dispose). */
  freeAll(): void {
    for (const ptr of [...this.sizes.keys()]) this.free(ptr);
  }

  /** Bytes held now and at most since creation or the last resetPeak(). */
  stats(): MemoryStats {
    return this.tracker.stats();
  }

  /** Start a new peak window at the current usage. */
  resetPeak(): void {
    this.tracker.resetPeak();
  }

  /** Bytes of linear memory reserved by the module (grows, never shrinks). */
  reservedBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** A fresh byte view of [ptr, ptr + bytes). */
  bytes(ptr: number, bytes: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, bytes);
  }

  /** A fresh float32 view of `length` elements at `ptr`; f64, i32, u32 likewise. */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  f64(ptr: number, length: number): Float64Array {
    return new Float64Array(this.memory.buffer, ptr, length);
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }

  u32(ptr: number, length: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, length);
  }

  private allocRaw(bytes: number, role: string): number {
    try {
      // wasm returns the address as a signed i32: addresses past 2 GiB come back negative.
      return this.kernels.alloc(bytes) >>> 0;
    } catch (error) {
      throw new BackendRuntimeError(
        `wasm memory exhausted allocating ${bytes} bytes for ${role} ` +
          `(${this.reservedBytes()} bytes reserved, 4 GiB at most)`,
        { cause: error, hint: 'release tensors, process smaller slabs, or use another backend' },
      );
    }
  }
}
