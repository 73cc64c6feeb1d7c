/// <reference types="@webgpu/types" />
/**
 * The GPU context every op goes through: one device, its limits, the buffer pool, the
 * pipeline cache, dispatch encoding, asynchronous readback and GPU error handling.
 *
 * Errors: each op's GPU work runs inside out-of-memory, validation and internal error scopes,
 * serialised so that scopes of concurrent ops never interleave; a captured error or a lost
 * device becomes a BackendRuntimeError naming the op.
 */
import { BackendRuntimeError, VoxsegError } from '../../engine/errors.js';
import { logger } from '../../engine/log.js';
import { BufferPool, USAGE } from './buffers.js';
import type { KernelDescriptor } from './kernels.js';
import { packParams, type ParamValues, roundUp } from './params.js';
import { PipelineCache } from './pipelines.js';

const log = logger('webgpu');

/** The device limits the ops plan with. */
export interface GpuLimits {
  /** Largest storage binding the tiler allows (maxStorageBufferBindingSize or lower). */
  bindingBytes: number;
  /** maxBufferSize: the largest tensor. */
  bufferBytes: number;
  /** minStorageBufferOffsetAlignment. */
  offsetAlignment: number;
  /** minUniformBufferOffsetAlignment. */
  uniformAlignment: number;
  /** maxComputeWorkgroupsPerDimension. */
  workgroupsPerDimension: number;
  /** maxComputeInvocationsPerWorkgroup, capped at 256. */
  invocations: number;
}

/** One kernel dispatch: what to bind, the Params values and how many workgroups carry work. */
export interface Dispatch {
  kernel: KernelDescriptor;
  /** Override constants replacing the descriptor's defaults. */
  overrides?: Readonly<Record<string, number>>;
  /** Storage bindings in the kernel's binding order. */
  bindings: readonly GPUBufferBinding[];
  /** Params members except `tile_count`, which is `tiles`. */
  params: ParamValues;
  /** Workgroups that carry work; the grid is folded into two dimensions when needed. */
  tiles: number;
}

/** A bound range of a buffer and the global element index of its first element. */
export interface BoundWindow {
  binding: GPUBufferBinding;
  base: number;
}

/** One device and everything the ops need to run on it; see the module comment. */
export class GpuContext {
  /** Every buffer of this device, for reuse and leak counts. */
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private disposed = false;
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * @param device - the device; the context owns it and destroys it on dispose.
   * @param limits - limits to plan with.
   * @param poolBytes - bytes of freed buffers kept for reuse.
   */
  constructor(
    readonly device: GPUDevice,
    readonly limits: GpuLimits,
    poolBytes: number,
  ) {
    this.pool = new BufferPool(device, limits.bufferBytes, poolBytes);
    this.pipelines = new PipelineCache(device);
    device.lost.then((info) => {
      this.lostInfo = info;
      if (!this.disposed) log.error(`device lost (${info.reason}): ${info.message}`);
    });
    device.addEventListener('uncapturederror', (event) => {
      log.error(`uncaptured GPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
    });
  }

  /** Throw unless the device can take work. */
  guard(op: string): void {
    if (this.disposed) throw new VoxsegError(`the webgpu backend was disposed before ${op}`);
    if (this.lostInfo) throw lostError(op, this.lostInfo);
  }

  /**
   * Run `work` (allocations, encoding, submission) inside GPU error scopes, one op at a time.
   *
   * @throws BackendRuntimeError when the device is lost, out of memory, or rejects the work.
   */
  scoped<T>(op: string, work: () => Promise<T> | T): Promise<T> {
    const run = this.tail.then(() => this.runScoped(op, work));
    this.tail = run.catch(() => {});
    return run;
  }

  /**
   * Encode `dispatches` into one compute pass, in order (each sees the writes of the ones
   * before it), and submit it; dispatches without work are dropped. Call inside scoped.
   */
  async submit(op: string, all: readonly Dispatch[]): Promise<void> {
    const dispatches = all.filter((d) => d.tiles > 0);
    if (!dispatches.length) return;
    const compiled = await Promise.all(
      dispatches.map((d) => this.pipelines.get(d.kernel, d.overrides)),
    );
    const arena = this.paramsArena(op, dispatches);
    const encoder = this.device.createCommandEncoder({ label: `${op}.encoder` });
    const pass = encoder.beginComputePass({ label: `${op}.pass` });
    dispatches.forEach((dispatch, i) => {
      const params = { buffer: arena.buffer, offset: i * arena.slot, size: arena.size };
      const entries = [...dispatch.bindings, params].map((resource, binding) => ({
        binding,
        resource,
      }));
      const layout = compiled[i].layout;
      pass.setPipeline(compiled[i].pipeline);
      pass.setBindGroup(
        0,
        this.device.createBindGroup({ label: `${op}.bind-group`, layout, entries }),
      );
      pass.dispatchWorkgroups(...this.grid(dispatch.tiles));
    });
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    this.pool.destroy(arena.buffer);
  }

  /** Fill a whole buffer with zeros. Call inside scoped. */
  clear(op: string, buffer: GPUBuffer): void {
    const encoder = this.device.createCommandEncoder({ label: `${op}.encoder` });
    encoder.clearBuffer(buffer);
    this.device.queue.submit([encoder.finish()]);
  }

  /**
   * Copy `bytes` bytes from `offset` of a buffer back to the host.
   *
   * @throws BackendRuntimeError when the device is lost before the copy arrives.
   */
  async read(op: string, buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const staging = await this.scoped(op, () => this.stage(op, buffer, offset, bytes));
    return this.mapRead(op, staging, bytes);
  }

  /**
   * Submit a copy of `bytes` bytes from `offset` of `buffer` into a new staging buffer. Call
   * inside scoped, so that no later op reuses `buffer` before the copy is queued.
   */
  stage(op: string, buffer: GPUBuffer, offset: number, bytes: number): GPUBuffer {
    const size = roundUp(Math.max(bytes, 4), 4);
    const staging = this.pool.create(size, USAGE.MAP_READ | USAGE.COPY_DST, `${op}.staging`);
    const encoder = this.device.createCommandEncoder({ label: `${op}.encoder` });
    encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    return staging;
  }

  /** Map a staging buffer from `stage`, copy its first `bytes` bytes out and destroy it. */
  async mapRead(op: string, staging: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    try {
      await staging.mapAsync(1 /* GPUMapMode.READ */).catch((error) => {
        throw this.lostInfo ? lostError(op, this.lostInfo) : runtimeError(op, error);
      });
      const data = staging.getMappedRange().slice(0, bytes);
      staging.unmap();
      return data;
    } finally {
      this.pool.destroy(staging);
    }
  }

  /**
   * A binding of elements [first, end) of `buffer`, widened down to the storage offset
   * alignment; `base` is the element index at the binding's start.
   */
  window(buffer: GPUBuffer, first: number, end: number, elementBytes: number): BoundWindow {
    const alignment = this.limits.offsetAlignment;
    const lastByte = Math.min(buffer.size, roundUp(Math.max(end, first + 1) * elementBytes, 4));
    const offset = Math.min(
      Math.floor((first * elementBytes) / alignment) * alignment,
      Math.floor((lastByte - 4) / alignment) * alignment,
    );
    const binding = { buffer, offset, size: lastByte - offset };
    if (binding.size > this.device.limits.maxStorageBufferBindingSize) {
      throw new VoxsegError(`internal: a ${binding.size}-byte window exceeds the binding limit`);
    }
    return { binding, base: offset / elementBytes };
  }

  /** Elements of `elementBytes` bytes that always fit one window (a multiple of 4). */
  windowElements(elementBytes: number): number {
    const usable = this.limits.bindingBytes - this.limits.offsetAlignment;
    return Math.floor(usable / elementBytes / 4) * 4;
  }

  /** Destroy every buffer and the device. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pool.dispose();
    this.device.destroy();
  }

  private async runScoped<T>(op: string, work: () => Promise<T> | T): Promise<T> {
    this.guard(op);
    const scopes = ['internal', 'validation', 'out-of-memory'] as const;
    for (const filter of scopes) this.device.pushErrorScope(filter);
    let result: T | undefined;
    let failure: unknown;
    try {
      result = await work();
    } catch (error) {
      failure = error;
    }
    const errors = [];
    for (const filter of [...scopes].reverse()) {
      errors.push({ filter, error: await this.device.popErrorScope().catch(() => null) });
    }
    if (this.lostInfo) throw lostError(op, this.lostInfo);
    const captured = errors.find((e) => e.error);
    if (captured) throw gpuError(op, captured.filter, captured.error!);
    if (failure !== undefined) {
      throw failure instanceof VoxsegError ? failure : runtimeError(op, failure);
    }
    return result as T;
  }

  private paramsArena(op: string, dispatches: readonly Dispatch[]) {
    const size = roundUp(Math.max(...dispatches.map((d) => d.kernel.layout.size)), 16);
    const slot = roundUp(size, this.limits.uniformAlignment);
    const host = new ArrayBuffer(slot * dispatches.length);
    const view = new DataView(host);
    dispatches.forEach((d, i) => {
      packParams(
        d.kernel.name,
        d.kernel.layout,
        { ...d.params, tile_count: d.tiles },
        view,
        i * slot,
      );
    });
    const buffer = this.pool.create(
      host.byteLength,
      USAGE.UNIFORM | USAGE.COPY_DST,
      `${op}.params`,
    );
    this.device.queue.writeBuffer(buffer, 0, host);
    return { buffer, slot, size };
  }

  private grid(tiles: number): [number, number] {
    const x = Math.min(tiles, this.limits.workgroupsPerDimension);
    return [x, Math.ceil(tiles / x)];
  }
}

function lostError(op: string, info: GPUDeviceLostInfo): BackendRuntimeError {
  const hint = 'create the backend again, or run on another backend such as wasm';
  return new BackendRuntimeError(
    `webgpu device lost (${info.reason}) during ${op}: ${info.message}`,
    { hint },
  );
}

function gpuError(op: string, filter: string, error: GPUError): BackendRuntimeError {
  if (filter === 'out-of-memory') {
    return new BackendRuntimeError(`webgpu ran out of memory during ${op}: ${error.message}`, {
      hint: 'process a smaller volume or crop, or run on the wasm backend',
    });
  }
  return new BackendRuntimeError(`webgpu ${filter} error during ${op}: ${error.message}`);
}

function runtimeError(op: string, error: unknown): BackendRuntimeError {
  const message = error instanceof Error ? error.message : String(error);
  return new BackendRuntimeError(`webgpu ${op} failed: ${message}`, { cause: error });
}
