/** The oracle itself, checked on cases small enough to compute by hand. */
import { describe, expect, it } from 'vitest';
import { conv3dParams } from '../ts/engine/backend.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { erf } from '../ts/engine/activations.js';
import { expectClose } from './helpers/compare.js';

const backend = new ReferenceBackend();
const f32 = (values: number[]) => Float32Array.from(values);

describe('reference conv3d', () => {
  it('sums a 3x3x3 neighbourhood with zero padding', async () => {
    // x: (1, 1, 3, 3, 3) all ones; a ones kernel counts in-volume neighbours.
    const x = await backend.upload(new Float32Array(27).fill(1), [1, 1, 3, 3, 3]);
    const w = await backend.upload(new Float32Array(27).fill(1), [1, 1, 3, 3, 3]);
    const b = await backend.upload(f32([0.5]), [1]);
    const y = await backend.conv3d(x, w, b, conv3dParams({ padding: [1, 1, 1] }));
    const out = (await backend.download(y)) as Float32Array;
    expect(y.shape).toEqual([1, 1, 3, 3, 3]);
    expect(out[0]).toBe(8.5); // corner: 2x2x2 neighbours
    expect(out[13]).toBe(27.5); // centre
    expect(out[4]).toBe(18.5); // face centre: 3x3x2
  });

  it('applies dilation, stride, groups and activation', async () => {
    // x: (1, 2, 1, 1, 5); channel 0 = 1..5, channel 1 = -1..-5; kernel (2, 1, 1, 1, 2).
    const x = await backend.upload(f32([1, 2, 3, 4, 5, -1, -2, -3, -4, -5]), [1, 2, 1, 1, 5]);
    const w = await backend.upload(f32([1, 10, 1, 10]), [2, 1, 1, 1, 2]);
    const params = conv3dParams({ dilation: [1, 1, 2], stride: [1, 1, 2], groups: 2 });
    const y = await backend.conv3d(x, w, null, { ...params, activation: { kind: 'relu' } });
    // out[c][i] = x[c][2i] + 10 x[c][2i + 2], i = 0..1
    expect(y.shape).toEqual([1, 2, 1, 1, 2]);
    expect(Array.from((await backend.download(y)) as Float32Array)).toEqual([31, 53, 0, 0]);
  });

  it('rejects a channel mismatch naming both shapes', async () => {
    const x = await backend.upload(new Float32Array(8).fill(1), [1, 1, 2, 2, 2]);
    const w = await backend.upload(new Float32Array(2).fill(1), [1, 2, 1, 1, 1]);
    await expect(backend.conv3d(x, w, null, conv3dParams())).rejects.toThrow(
      /\(1, 1, 2, 2, 2\).*\(1, 2, 1, 1, 1\)/,
    );
  });
});

describe('reference element-wise and reductions', () => {
  it('computes activations from their definitions', async () => {
    const x = await backend.upload(f32([-2, -0.5, 0.5, 2]), [4]);
    const run = async (kind: 'relu' | 'leakyRelu' | 'elu' | 'gelu' | 'sigmoid', alpha?: number) =>
      Array.from(
        (await backend.download(await backend.activation(x, { kind, alpha }))) as Float32Array,
      );
    expect(await run('relu')).toEqual([0, 0, 0.5, 2]);
    expectClose(await run('leakyRelu', 0.1), [-0.2, -0.05, 0.5, 2]);
    expectClose(await run('elu'), [Math.exp(-2) - 1, Math.exp(-0.5) - 1, 0.5, 2]);
    expectClose(
      await run('sigmoid'),
      [-2, -0.5, 0.5, 2].map((v) => 1 / (1 + Math.exp(-v))),
    );
    expectClose(await run('gelu'), [-0.04550026, -0.15426877, 0.34573123, 1.95449974], {
      atol: 1e-6,
      rtol: 1e-6,
    });
    expect(erf(1)).toBeCloseTo(0.8427007929, 6);
  });

  it('normalises each channel to zero mean and unit biased variance', async () => {
    const x = await backend.upload(f32([1, 2, 3, 4, 10, 10, 10, 14]), [1, 2, 1, 2, 2]);
    const y = (await backend.download(await backend.instanceNorm(x, { eps: 0 }))) as Float32Array;
    const s = Math.sqrt(1.25);
    expectClose(y, [
      -1.5 / s,
      -0.5 / s,
      0.5 / s,
      1.5 / s,
      -1 / Math.sqrt(3),
      -1 / Math.sqrt(3),
      -1 / Math.sqrt(3),
      Math.sqrt(3),
    ]);
  });

  it('softmax sums to one and argmax breaks ties to the lower channel', async () => {
    const x = await backend.upload(f32([1, 3, 2, 3, 0, 3]), [1, 3, 1, 1, 2]);
    const p = (await backend.download(await backend.softmax(x))) as Float32Array;
    expectClose([p[0] + p[2] + p[4], p[1] + p[3] + p[5]], [1, 1]);
    const labels = await backend.download(await backend.argmax(x));
    expect(Array.from(labels)).toEqual([1, 0]);
  });

  it('counts per-label TP, FP, FN and honours the ignore label', async () => {
    const pred = await backend.upload(Int32Array.from([0, 1, 1, 2, 2, 2]), [1, 1, 2, 3]);
    const ref = await backend.upload(Int32Array.from([0, 1, 2, 2, 1, 3]), [1, 1, 2, 3]);
    const counts = await backend.labelConfusion(pred, ref, 4);
    expect(Array.from(counts.tp)).toEqual([1, 1, 1, 0]);
    expect(Array.from(counts.fp)).toEqual([0, 1, 2, 0]);
    expect(Array.from(counts.fn)).toEqual([0, 1, 1, 1]);
    const ignored = await backend.labelConfusion(pred, ref, 4, 3);
    expect(ignored.total).toBe(5);
    expect(Array.from(ignored.fp)).toEqual([0, 1, 1, 0]);
  });

  it('slices and concatenates along an inner axis', async () => {
    const x = await backend.upload(f32([0, 1, 2, 3, 4, 5, 6, 7]), [2, 4]);
    const a = await backend.slice(x, 1, 1, 2);
    expect(Array.from((await backend.download(a)) as Float32Array)).toEqual([1, 2, 5, 6]);
    const joined = await backend.concat([a, a], 1);
    expect(Array.from((await backend.download(joined)) as Float32Array)).toEqual([
      1, 2, 1, 2, 5, 6, 5, 6,
    ]);
  });
});
