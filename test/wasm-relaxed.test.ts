/**
 * The op suite (test/ops.test.ts) again on the relaxed-SIMD build of the wasm backend (fused
 * multiply-add in conv3d), the build browsers that validate relaxed SIMD get. Node 20 validates
 * it only behind --experimental-wasm-relaxed-simd, which this file turns on for its own
 * process. Two threads, every op split, against the reference.
 */
import { setFlagsFromString } from 'node:v8';
import { expect, it } from 'vitest';
import '../ts/node.js';
import { createWasmBackend } from '../ts/backends/wasm/index.js';
import { getBackend, registerBackend } from '../ts/engine/registry.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

registerBackend({
  name: 'wasm',
  create: () => createWasmBackend({ relaxedSimd: true, threads: 2, minParallelWork: 0 }),
});

// test/ops.test.ts covers the other backends; this file reruns the suite for wasm only.
for (const name of ['webgpu', 'cuda'] as const) {
  registerBackend({
    name,
    create: async () => {
      throw new Error('not rerun here: test/ops.test.ts covers it');
    },
  });
}

it('runs the relaxed-SIMD build of the wasm backend', async () => {
  const info = (await getBackend('wasm')).info();
  expect(info.details.relaxedSimd).toBe(true);
  expect(info.description).toMatch(/relaxed SIMD/);
});

await import('./ops.test.js');
