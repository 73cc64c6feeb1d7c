/**
 * voxseg's Node entry point: everything in the core entry, plus file I/O, the CUDA addon and
 * WebGPU through Dawn.
 */
export * from './index.js';
