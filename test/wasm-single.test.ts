/**
 * The op suite (test/ops.test.ts) again, with the wasm backend on one thread (the build without
 * shared memory) and conv3d padded in slabs under a 16 KiB budget, against the reference.
 */
import { expect, it } from 'vitest';
import '../ts/node.js';
import { createWasmBackend } from '../ts/backends/wasm/index.js';
import { getBackend, registerBackend } from '../ts/engine/registry.js';

registerBackend({
  name: 'wasm',
  create: () => createWasmBackend({ threads: 1, padBudgetBytes: 16384 }),
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

it('runs the wasm backend on 1 thread', async () => {
  expect((await getBackend('wasm')).info().details.threads).toBe(1);
});

await import('./ops.test.js');
