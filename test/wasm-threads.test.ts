/**
 * The op suite (test/ops.test.ts) again, with the wasm backend split over 3 threads for every
 * op (minParallelWork 0, so even the smallest case crosses the workers, in uneven ranges) and
 * conv3d padded in slabs of a few planes (a 4 KiB slab budget), against the reference.
 */
import { expect, it } from 'vitest';
import '../ts/node.js';
import { createWasmBackend } from '../ts/backends/wasm/index.js';
import { getBackend, registerBackend } from '../ts/engine/registry.js';

registerBackend({
  name: 'wasm',
  create: () => createWasmBackend({ threads: 3, minParallelWork: 0, padBudgetBytes: 4096 }),
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

it('runs the wasm backend on 3 threads', async () => {
  expect((await getBackend('wasm')).info().details.threads).toBe(3);
});

await import('./ops.test.js');
