/**
 * Tensors placed past 2 GiB of wasm memory: addresses there do not fit a signed 32-bit integer,
 * so every path from JavaScript to the kernels must treat them as unsigned.
 */
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { conv3dParams } from '../ts/engine/backend.js';
import { getBackend } from '../ts/engine/registry.js';
import type { Tensor } from '../ts/engine/tensor.js';
import '../ts/node.js';
import { expectClose } from './helpers/compare.js';
import { randomFloats } from './helpers/random.js';

describe('wasm tensors above 2 GiB', () => {
  it('computes conv3d, argmax and label counts there as the reference does', async (context) => {
    const wasm = await getBackend('wasm').catch(() => undefined);
    if (!wasm) return context.skip('wasm backend unavailable');
    const ballast: Tensor[] = [];
    for (let i = 0; i < 3; i++) ballast.push(await wasm.zeros([180, 1024, 1024], 'float32'));
    expect(wasm.memory().bytes).toBeGreaterThan(2 ** 31);

    const reference = new ReferenceBackend();
    const x = randomFloats(2 * 9 * 10 * 11, 1);
    const w = randomFloats(3 * 2 * 27, 2);
    const params = conv3dParams({ padding: [1, 1, 1], activation: { kind: 'elu' } });
    const run = async (backend: typeof wasm) => {
      const y = await backend.conv3d(
        await backend.upload(x, [1, 2, 9, 10, 11]),
        await backend.upload(w, [3, 2, 3, 3, 3]),
        null,
        params,
      );
      const labels = await backend.argmax(y);
      const counts = await backend.labelConfusion(labels, labels, 3);
      return { y: await backend.download(y), labels: await backend.download(labels), counts };
    };
    const [got, want] = [await run(wasm), await run(reference)];
    expectClose(got.y, want.y, { atol: 1e-4, rtol: 1e-4 });
    expect(Array.from(got.labels)).toEqual(Array.from(want.labels));
    expect(Array.from(got.counts.tp)).toEqual(Array.from(want.counts.tp));
    ballast.forEach((t) => wasm.release(t));
  });
});
