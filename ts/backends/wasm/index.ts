/**
 * The wasm backend: AssemblyScript kernels with SIMD (assembly/), tensors in the module's
 * linear memory, and, where shared memory and workers exist, a thread pool that splits the
 * heavy ops (conv3d, instance norm, the channel ops, the metrics, activations) by output range.
 * Node's entry injects worker_threads with setWasmThreadHost(); browsers use the global Worker.
 */
export { WasmBackend } from './backend.js';
export { createWasmBackend, type WasmBackendOptions } from './create.js';
export { setWasmThreadHost, type WasmThreadHost, type WorkerLike } from './pool.js';
