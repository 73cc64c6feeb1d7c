/**
 * voxseg's core entry point: the engine, backends that need no Node built-ins, models,
 * pipeline and metrics. It bundles for browsers; Node-only parts live in `voxseg/node`.
 */
import { ReferenceBackend } from './backends/reference/index.js';
import { createWasmBackend } from './backends/wasm/index.js';
import { webgpuFactory } from './backends/webgpu/factory.js';
import { navigatorGpuProvider, registerGpuProvider } from './backends/webgpu/providers.js';
import { registerBackend } from './engine/registry.js';

registerBackend({ name: 'reference', create: async () => new ReferenceBackend() });
registerBackend({ name: 'wasm', create: () => createWasmBackend() });
registerGpuProvider(navigatorGpuProvider);
registerBackend(webgpuFactory);

export * from './engine/backend.js';
export * from './engine/errors.js';
export * from './engine/log.js';
export * from './engine/registry.js';
export * from './engine/tensor.js';
export { ReferenceBackend } from './backends/reference/index.js';
export {
  createWasmBackend,
  setWasmThreadHost,
  WasmBackend,
  type WasmBackendOptions,
  type WasmThreadHost,
  type WorkerLike,
} from './backends/wasm/index.js';
export * from './io/index.js';
export * from './metrics/index.js';
export * from './model/catalog.js';
export * from './model/graph.js';
export * from './model/model.js';
export * from './model/runner.js';
export * from './model/tfjs.js';
export * from './pipeline/components.js';
export * from './pipeline/conform.js';
export * from './pipeline/crop.js';
export * from './pipeline/intensity.js';
export * from './pipeline/preview.js';
export * from './pipeline/segment.js';
