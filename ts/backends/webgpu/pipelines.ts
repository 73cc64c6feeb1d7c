/// <reference types="@webgpu/types" />
/**
 * The pipeline cache. A key is the kernel's name followed by every override constant and its
 * value, sorted by constant name: `conv3d_direct:OC_BLOCK=5,SLAB_CAPACITY=2560,...`. The
 * device, the WGSL source and the bind group layout are fixed per kernel within one cache, so
 * they are not part of the key. Shader modules and bind group layouts are cached per kernel.
 *
 * Debug switch: `VOXSEG_DUMP_KERNEL=<kernel name>` prints that kernel's source (includes
 * expanded) when its shader module is created.
 */
import { VoxsegError } from '../../engine/errors.js';
import { logger, readSetting } from '../../engine/log.js';
import { WGSL_SOURCES } from './generated/wgsl-sources.js';
import type { KernelDescriptor, KernelName } from './kernels.js';

const log = logger('webgpu');

/** A kernel ready to dispatch: its pipeline and bind group layout. */
export interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<CompiledKernel>>();
  private readonly modules = new Map<KernelName, GPUShaderModule>();
  private readonly layouts = new Map<KernelName, GPUBindGroupLayout>();

  constructor(private readonly device: GPUDevice) {}

  /** The cache key of a kernel with its effective override constants. */
  static key(kernel: KernelName, overrides: Readonly<Record<string, number>>): string {
    const constants = Object.keys(overrides)
      .sort()
      .map((name) => `${name}=${overrides[name]}`);
    return `${kernel}:${constants.join(',')}`;
  }

  /**
   * The compiled kernel for `descriptor` with `overrides` replacing its default constants.
   *
   * @throws VoxsegError with the compiler's messages when the WGSL does not compile.
   */
  get(descriptor: KernelDescriptor, overrides: Readonly<Record<string, number>> = {}) {
    const constants = { ...descriptor.overrides, ...overrides };
    const key = PipelineCache.key(descriptor.name, constants);
    let compiled = this.pipelines.get(key);
    if (!compiled) {
      compiled = this.compile(descriptor, constants, key);
      this.pipelines.set(key, compiled);
      compiled.catch(() => this.pipelines.delete(key));
    }
    return compiled;
  }

  /** Number of pipelines created (or being created). */
  get size(): number {
    return this.pipelines.size;
  }

  private async compile(
    descriptor: KernelDescriptor,
    constants: Record<string, number>,
    key: string,
  ): Promise<CompiledKernel> {
    const module = await this.module(descriptor.name);
    const layout = this.bindGroupLayout(descriptor);
    const pipeline = await this.device.createComputePipelineAsync({
      label: `${descriptor.name}.pipeline`,
      layout: this.device.createPipelineLayout({
        label: `${descriptor.name}.pipeline-layout`,
        bindGroupLayouts: [layout],
      }),
      compute: { module, entryPoint: descriptor.name, constants },
    });
    log.debug(() => `compiled ${key}`);
    return { pipeline, layout };
  }

  private async module(name: KernelName): Promise<GPUShaderModule> {
    const cached = this.modules.get(name);
    if (cached) return cached;
    const code = WGSL_SOURCES[name];
    if (readSetting('VOXSEG_DUMP_KERNEL') === name) log.info(`${name}.wgsl:\n${code}`);
    const module = this.device.createShaderModule({ label: `${name}.module`, code });
    const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    if (errors.length) {
      const text = errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
      throw new VoxsegError(`WGSL kernel ${name} does not compile: ${text}`);
    }
    this.modules.set(name, module);
    return module;
  }

  private bindGroupLayout(descriptor: KernelDescriptor): GPUBindGroupLayout {
    const cached = this.layouts.get(descriptor.name);
    if (cached) return cached;
    const storage = descriptor.bindings.map((binding, index) => ({
      binding: index,
      visibility: 4, // GPUShaderStage.COMPUTE
      buffer: { type: binding.access === 'read' ? 'read-only-storage' : 'storage' } as const,
    }));
    const params = { binding: storage.length, visibility: 4, buffer: { type: 'uniform' } as const };
    const layout = this.device.createBindGroupLayout({
      label: `${descriptor.name}.bind-group-layout`,
      entries: [...storage, params],
    });
    this.layouts.set(descriptor.name, layout);
    return layout;
  }
}
