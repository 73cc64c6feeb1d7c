/**
 * voxseg's Node entry point: everything in the core entry, plus file I/O, the CUDA addon and
 * WebGPU through Dawn.
 */
import { setWasmThreadHost } from './backends/wasm/index.js';
import { nodeThreadHost } from './backends/wasm/node-workers.js';
import { registerWebGpuNode } from './backends/webgpu/node.js';
import { createCudaBackend } from './backends/cuda/index.js';
import { registerBackend } from './engine/registry.js';

export * from './index.js';

registerWebGpuNode();
registerBackend({ name: 'cuda', create: () => createCudaBackend() });

// The wasm backend's workers are worker_threads in Node.
setWasmThreadHost(nodeThreadHost);
export * from './io/files.js';
export * from './model/resolve.js';
export { CudaBackend, createCudaBackend, probeCuda } from './backends/cuda/index.js';
export type { CudaStatus } from './backends/cuda/index.js';
