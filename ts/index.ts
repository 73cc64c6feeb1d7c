/**
 * voxseg's core entry point: the engine, backends that need no Node built-ins, models,
 * pipeline and metrics. It bundles for browsers; Node-only parts live in `voxseg/node`.
 */
import { ReferenceBackend } from './backends/reference/index.js';
import { registerBackend } from './engine/registry.js';

registerBackend({ name: 'reference', create: async () => new ReferenceBackend() });

export * from './engine/backend.js';
export * from './engine/errors.js';
export * from './engine/log.js';
export * from './engine/registry.js';
export * from './engine/tensor.js';
export { ReferenceBackend } from './backends/reference/index.js';
