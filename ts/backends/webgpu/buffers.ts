/// <reference types="@webgpu/types" />
/**
 * The buffer pool: storage buffers are bucketed by size class and reused, so a network run
 * does not create and destroy a buffer per op. Every buffer the backend creates goes through
 * here, which keeps a count of live buffers for leak checks.
 */
import { roundUp } from './params.js';

/** GPUBufferUsage bits (fixed by the WebGPU specification). */
export const USAGE = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** Usage of every tensor and scratch buffer: bound as storage, copied to and from. */
export const STORAGE_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;

/** What the pool holds, for `info()` and tests. */
export interface PoolStats {
  /** Buffers created and not yet destroyed, pooled ones included. */
  liveBuffers: number;
  /** Bytes of buffers waiting in the pool for reuse. */
  pooledBytes: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  private pooledBytes = 0;

  /**
   * @param device - the device that owns the buffers.
   * @param maxBufferBytes - the device's maxBufferSize; size classes never exceed it.
   * @param keepBytes - at most this many bytes wait in the pool; more are destroyed.
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferBytes: number,
    private readonly keepBytes: number,
  ) {}

  /** A storage buffer of at least `bytes` bytes (contents undefined), labelled `label`. */
  acquire(bytes: number, label: string): GPUBuffer {
    const size = Math.min(sizeClass(bytes), this.maxBufferBytes);
    const reused = this.free.get(size)?.pop();
    if (reused) {
      this.pooledBytes -= size;
      reused.label = label;
      return reused;
    }
    return this.create(size, STORAGE_USAGE, label);
  }

  /** Create a buffer outside the size classes (uniform arenas, readback staging). */
  create(size: number, usage: number, label: string): GPUBuffer {
    const buffer = this.device.createBuffer({ size, usage, label });
    this.live.add(buffer);
    return buffer;
  }

  /** Give a storage buffer back for reuse; it is destroyed when the pool is full. */
  release(buffer: GPUBuffer): void {
    if (!this.live.has(buffer)) return;
    if (this.pooledBytes + buffer.size > this.keepBytes) {
      this.destroy(buffer);
      return;
    }
    const bucket = this.free.get(buffer.size) ?? [];
    bucket.push(buffer);
    this.free.set(buffer.size, bucket);
    this.pooledBytes += buffer.size;
  }

  /** Destroy a buffer now (queued work that uses it still completes). */
  destroy(buffer: GPUBuffer): void {
    if (this.live.delete(buffer)) buffer.destroy();
  }

  stats(): PoolStats {
    return { liveBuffers: this.live.size, pooledBytes: this.pooledBytes };
  }

  /** Destroy every buffer, pooled or in use. */
  dispose(): void {
    for (const buffer of this.live) buffer.destroy();
    this.live.clear();
    this.free.clear();
    this.pooledBytes = 0;
  }
}

/**
 * Size class of a request: multiples of 256 bytes up to 64 KiB, then four classes per power
 * of two (so a buffer wastes at most a fifth of its size).
 */
export function sizeClass(bytes: number): number {
  const size = Math.max(bytes, 4);
  if (size <= 65536) return roundUp(size, 256);
  const step = 2 ** (Math.floor(Math.log2(size)) - 2);
  return roundUp(size, step);
}
