/// <reference types="@webgpu/types" />
/**
 * Device acquisition: the first adapter any provider offers, and a device with the limits the
 * kernels need (storage buffers per stage, workgroup size, the largest binding and buffer the
 * adapter allows).
 */
import { BackendUnavailableError } from '../../engine/errors.js';
import type { GpuLimits } from './gpu.js';
import { MAX_STORAGE_BINDINGS, WORKGROUP_SIZE } from './kernels.js';
import { SLAB_CAPACITY, TAP_CAPACITY } from './ops/conv3d-plan.js';
import type { GpuProvider } from './providers.js';

/** What the adapter says about itself. */
export interface AdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software fallback adapters (SwiftShader in Chromium). */
  isFallbackAdapter: boolean;
}

/** A device ready for the backend. */
export interface AcquiredDevice {
  device: GPUDevice;
  facts: AdapterFacts;
  via: string;
  owner?: unknown;
}

/** Workgroup memory the kernels use at most: conv3d_direct's slab and staged weights. */
const WORKGROUP_BYTES = 4 * (SLAB_CAPACITY + TAP_CAPACITY);

/**
 * Ask each provider in turn for an adapter and make a device on the first one.
 *
 * @throws BackendUnavailableError listing each provider's reason when none has an adapter, or
 *   the limit an adapter lacks.
 */
export async function acquireDevice(providers: readonly GpuProvider[]): Promise<AcquiredDevice> {
  const reasons: string[] = [];
  for (const provider of providers) {
    const choice = await provider.requestAdapter().catch((e: Error) => `failed: ${e.message}`);
    if (typeof choice === 'string') {
      reasons.push(`${provider.name}: ${choice}`);
      continue;
    }
    const { adapter, via, owner } = choice;
    const requiredLimits = neededLimits(adapter);
    const device = await adapter.requestDevice({ label: 'voxseg.device', requiredLimits });
    return { device, facts: adapterFacts(adapter), via, owner };
  }
  const why = reasons.length ? reasons.join('; ') : 'no WebGPU provider is registered';
  throw new BackendUnavailableError(`no WebGPU adapter: ${why}`);
}

/** The limits to request: what the kernels need, and the largest bindings the adapter has. */
function neededLimits(adapter: GPUAdapter): Record<string, number> {
  const has = adapter.limits;
  const lacking: string[] = [];
  const need = (name: keyof GPUSupportedLimits, wanted: number) => {
    if ((has[name] as number) < wanted) lacking.push(`${name} ${has[name]} < ${wanted}`);
    return wanted;
  };
  const limits = {
    maxStorageBuffersPerShaderStage: need('maxStorageBuffersPerShaderStage', MAX_STORAGE_BINDINGS),
    maxComputeWorkgroupStorageSize: need('maxComputeWorkgroupStorageSize', WORKGROUP_BYTES),
    maxComputeInvocationsPerWorkgroup: need('maxComputeInvocationsPerWorkgroup', WORKGROUP_SIZE),
    maxComputeWorkgroupSizeX: need('maxComputeWorkgroupSizeX', WORKGROUP_SIZE),
    maxComputeWorkgroupSizeY: need('maxComputeWorkgroupSizeY', 8),
    maxComputeWorkgroupSizeZ: need('maxComputeWorkgroupSizeZ', 4),
    maxStorageBufferBindingSize: has.maxStorageBufferBindingSize,
    maxBufferSize: has.maxBufferSize,
  };
  if (lacking.length) {
    throw new BackendUnavailableError(`the WebGPU adapter lacks limits: ${lacking.join(', ')}`);
  }
  return limits;
}

function adapterFacts(adapter: GPUAdapter): AdapterFacts {
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const legacy = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean(fallback ?? legacy),
  };
}

/**
 * The limits the ops plan with.
 *
 * @param bindingBytes - lower the tiling limit below maxStorageBufferBindingSize (tests).
 */
export function planningLimits(device: GPUDevice, bindingBytes?: number): GpuLimits {
  const limits = device.limits;
  const maxBinding = limits.maxStorageBufferBindingSize;
  return {
    bindingBytes: Math.min(maxBinding, bindingBytes ?? maxBinding),
    bufferBytes: limits.maxBufferSize,
    offsetAlignment: limits.minStorageBufferOffsetAlignment,
    uniformAlignment: limits.minUniformBufferOffsetAlignment,
    workgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    invocations: Math.min(WORKGROUP_SIZE, limits.maxComputeInvocationsPerWorkgroup),
  };
}
