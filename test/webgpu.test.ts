/**
 * The WebGPU backend against the reference on seeded random data (never zeros), with outputs
 * poisoned: every op at odd sizes and at workgroup-tile boundaries, once with the device's
 * binding limit and once with a 4 KiB limit that forces every op to tile; then leaks after
 * dispose, device loss and output poisoning. Skips with the reason when there is no adapter.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import '../ts/node.js';
import { createWebGpuBackend, type WebGpuBackend } from '../ts/backends/webgpu/backend.js';
import { dawnGpuProvider } from '../ts/backends/webgpu/node.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import type { Activation, Backend, Conv3dParams } from '../ts/engine/backend.js';
import { conv3dParams } from '../ts/engine/backend.js';
import { BackendRuntimeError, BackendUnavailableError } from '../ts/engine/errors.js';
import type { HostArray, Tensor } from '../ts/engine/tensor.js';
import { expectClose, expectEqualArrays } from './helpers/compare.js';
import { perturbLabels, randomFloats, randomLabels } from './helpers/random.js';

/** A backend, or the one-line reason there is no adapter. */
async function openWebGpu(options = {}): Promise<WebGpuBackend | string> {
  try {
    return await createWebGpuBackend(options);
  } catch (error) {
    if (error instanceof BackendUnavailableError && /no WebGPU adapter/.test(error.message)) {
      return error.message;
    }
    throw error;
  }
}

const probe = await openWebGpu();
const noAdapter = typeof probe === 'string' ? probe : '';
if (typeof probe !== 'string') await probe.dispose();
if (noAdapter) console.warn(`webgpu tests skipped: ${noAdapter}`);

const reference = new ReferenceBackend();
const TILED_BYTES = 4096;

/** Upload the same host data to both backends. */
async function pair(backend: Backend, data: HostArray, shape: number[]): Promise<[Tensor, Tensor]> {
  return [await backend.upload(data, shape), await reference.upload(data, shape)];
}

async function both(
  backend: Backend,
  run: (b: Backend, t: (i: number) => Tensor) => Promise<Tensor>,
  inputs: Array<[Tensor, Tensor]>,
) {
  const got = await run(backend, (i) => inputs[i][0]);
  const ref = await run(reference, (i) => inputs[i][1]);
  return {
    got: await backend.download(got),
    ref: await reference.download(ref),
    shape: got.shape,
    refShape: ref.shape,
  };
}

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  bias: boolean;
  params: Partial<Conv3dParams>;
}

const CONV_CASES: ConvCase[] = [
  {
    name: '3x3x3 same, odd sizes, relu',
    x: [1, 3, 7, 9, 11],
    w: [5, 3, 3, 3, 3],
    bias: true,
    params: { padding: [1, 1, 1], activation: { kind: 'relu' } },
  },
  {
    name: 'stride 2, dilation 2, uneven padding, N=2',
    x: [2, 2, 9, 8, 7],
    w: [6, 2, 3, 3, 3],
    bias: true,
    params: { stride: [2, 1, 2], dilation: [2, 2, 1], padding: [2, 1, 0] },
  },
  {
    name: 'groups 2, kernel (3, 1, 3), elu 0.7',
    x: [1, 4, 5, 6, 7],
    w: [6, 2, 3, 1, 3],
    bias: true,
    params: { groups: 2, padding: [1, 0, 1], activation: { kind: 'elu', alpha: 0.7 } },
  },
  {
    name: 'dilation 16 (runs slab layout), even depth kernel, gelu',
    x: [1, 2, 5, 17, 19],
    w: [3, 2, 2, 3, 3],
    bias: true,
    params: { dilation: [1, 16, 16], padding: [0, 16, 16], activation: { kind: 'gelu' } },
  },
  {
    name: '9 output channels (8 + 1 block), no bias, sigmoid',
    x: [1, 3, 4, 5, 6],
    w: [9, 3, 3, 3, 3],
    bias: false,
    params: { padding: [1, 1, 1], activation: { kind: 'sigmoid' } },
  },
  {
    name: 'tile boundaries 9x16x17, leakyRelu',
    x: [1, 2, 9, 16, 17],
    w: [3, 2, 3, 3, 3],
    bias: true,
    params: { padding: [1, 1, 1], activation: { kind: 'leakyRelu', alpha: 0.2 } },
  },
  {
    name: '4 voxels per invocation along W, partial last tile',
    x: [1, 3, 3, 5, 27],
    w: [4, 3, 3, 3, 3],
    bias: true,
    params: { padding: [1, 1, 1] },
  },
  { name: '1x1x1 classifier', x: [1, 5, 6, 7, 9], w: [3, 5, 1, 1, 1], bias: true, params: {} },
  {
    name: 'kernel 5, stride 3',
    x: [1, 1, 11, 13, 12],
    w: [2, 1, 5, 5, 5],
    bias: true,
    params: { stride: [3, 2, 3], padding: [2, 2, 2] },
  },
  {
    name: 'depth split with halo (plane over the tiled limit)',
    x: [1, 2, 14, 10, 11],
    w: [3, 2, 3, 3, 3],
    bias: true,
    params: {
      padding: [2, 1, 1],
      dilation: [2, 1, 1],
      stride: [2, 1, 1],
      activation: { kind: 'relu' },
    },
  },
];

const ACTIVATIONS: Activation[] = [
  { kind: 'linear' },
  { kind: 'relu' },
  { kind: 'leakyRelu', alpha: 0.05 },
  { kind: 'elu' },
  { kind: 'gelu' },
  { kind: 'sigmoid' },
];

const CONFIGS = [
  { label: 'device binding limit', options: {} },
  { label: `${TILED_BYTES}-byte binding limit (tiled)`, options: { maxBindingBytes: TILED_BYTES } },
];

describe.skipIf(!!noAdapter).each(CONFIGS)('webgpu ops vs reference, $label', ({ options }) => {
  let gpu: WebGpuBackend;
  beforeAll(async () => {
    gpu = (await openWebGpu(options)) as WebGpuBackend;
  });
  afterAll(async () => {
    await gpu?.dispose();
  });

  it.each(CONV_CASES)('conv3d: $name', async (c) => {
    const cin = c.w[1];
    const inputs = [
      await pair(
        gpu,
        randomFloats(
          c.x.reduce((a, b) => a * b),
          11,
        ),
        c.x,
      ),
      await pair(
        gpu,
        randomFloats(
          c.w.reduce((a, b) => a * b),
          12,
          -0.5,
          0.5,
        ),
        c.w,
      ),
      await pair(gpu, randomFloats(c.w[0], 13), [c.w[0]]),
    ];
    const params = conv3dParams(c.params);
    const r = await both(gpu, (b, t) => b.conv3d(t(0), t(1), c.bias ? t(2) : null, params), inputs);
    expect(r.shape).toEqual(r.refShape);
    expectClose(r.got, r.ref, { atol: 2e-5 * cin * 27, rtol: 1e-4 });
  });

  it('conv3d on the tiled backend runs in several passes', async () => {
    const submit = vi.spyOn(gpu.gpu, 'submit');
    const [x] = await pair(gpu, randomFloats(2 * 14 * 10 * 11, 5), [1, 2, 14, 10, 11]);
    const [w] = await pair(gpu, randomFloats(3 * 2 * 27, 6), [3, 2, 3, 3, 3]);
    gpu.release(await gpu.conv3d(x, w, null, conv3dParams({ padding: [1, 1, 1] })));
    const passes = submit.mock.calls.find(([op]) => op === 'conv3d')![1].length;
    expect(passes > 1).toBe(options.maxBindingBytes !== undefined);
    submit.mockRestore();
  });

  it.each(ACTIVATIONS)('activation $kind on an odd-sized tensor', async (activation) => {
    const inputs = [await pair(gpu, randomFloats(7 * 11 * 13, 21, -4, 4), [7, 11, 13])];
    const r = await both(gpu, (b, t) => b.activation(t(0), activation), inputs);
    expectClose(r.got, r.ref, { atol: 1e-6, rtol: 1e-5 });
  });

  it('instanceNorm with scale, shift and GELU; planes over one stats block', async () => {
    const shape = [2, 3, 17, 19, 23];
    const inputs = [
      await pair(
        gpu,
        randomFloats(
          shape.reduce((a, b) => a * b),
          31,
          -3,
          5,
        ),
        shape,
      ),
      await pair(gpu, randomFloats(3, 32), [3]),
      await pair(gpu, randomFloats(3, 33), [3]),
    ];
    const run = (b: Backend, t: (i: number) => Tensor) =>
      b.instanceNorm(t(0), { eps: 1e-5, scale: t(1), shift: t(2), activation: { kind: 'gelu' } });
    const r = await both(gpu, run, inputs);
    expectClose(r.got, r.ref, { atol: 2e-5, rtol: 2e-4 });
  });

  it('instanceNorm without affine on small odd planes', async () => {
    const inputs = [await pair(gpu, randomFloats(2 * 5 * 3 * 5 * 7, 34), [2, 5, 3, 5, 7])];
    const r = await both(gpu, (b, t) => b.instanceNorm(t(0), { eps: 1e-3 }), inputs);
    expectClose(r.got, r.ref, { atol: 2e-5, rtol: 2e-4 });
  });

  const CHANNEL_SHAPES = [
    [2, 5, 3, 7, 11],
    [1, 3, 7, 11, 13],
  ];

  it.each(CHANNEL_SHAPES)('softmax over channels of (%i, %i, %i, %i, %i)', async (...shape) => {
    const size = shape.reduce((a, b) => a * b);
    const inputs = [await pair(gpu, randomFloats(size, 41, -6, 6), shape)];
    const r = await both(gpu, (b, t) => b.softmax(t(0)), inputs);
    expectClose(r.got, r.ref, { atol: 1e-6, rtol: 1e-5 });
  });

  it.each(CHANNEL_SHAPES)(
    'argmax over (%i, %i, %i, %i, %i), ties to the lower index',
    async (...shape) => {
      const [n, c, d, h, w] = shape;
      const spatial = d * h * w;
      const data = randomFloats(n * (c + 1) * spatial, 42);
      // Channels 1 and c tie at the maximum on every third voxel.
      for (let i = 0; i < spatial; i += 3) data[spatial * c + i] = data[spatial + i] = 2;
      const inputs = [await pair(gpu, data, [n, c + 1, d, h, w])];
      const r = await both(gpu, (b, t) => b.argmax(t(0)), inputs);
      expect(r.shape).toEqual([n, d, h, w]);
      expectEqualArrays(r.got, r.ref);
      expect(r.got[0]).toBe(1);
    },
  );

  it.each([
    ['uint8', 'uint8'],
    ['uint16', 'int32'],
    ['int32', 'uint8'],
  ] as const)('labelConfusion %s vs %s at an odd size, with and without ignore', async (pt, rt) => {
    const shape = [1, 7, 11, 13];
    const base = randomLabels(7 * 11 * 13, 6, 51);
    const cast = { uint8: Uint8Array, uint16: Uint16Array, int32: Int32Array };
    const pred = await gpu.upload(cast[pt].from(perturbLabels(base, 6, 0.7, 52)), shape);
    const refLabels = cast[rt].from(base);
    const ref = await gpu.upload(refLabels, shape);
    const hostPred = await reference.upload(await gpu.download(pred), shape);
    const hostRef = await reference.upload(refLabels, shape);
    for (const ignore of [undefined, 2]) {
      const got = await gpu.labelConfusion(pred, ref, 6, ignore);
      const want = await reference.labelConfusion(hostPred, hostRef, 6, ignore);
      expect(got).toEqual(want);
    }
  });

  it('labelConfusion names the first voxel with a label out of range', async () => {
    const labels = Uint8Array.from({ length: 37 }, (_, i) => (i % 5) + 1);
    labels[29] = 9;
    labels[33] = 7;
    const pred = await gpu.upload(labels, [37]);
    const ref = await gpu.upload(
      Uint8Array.from({ length: 37 }, () => 1),
      [37],
    );
    await expect(gpu.labelConfusion(pred, ref, 6)).rejects.toThrow(
      'expected labels in [0, 6) for voxel 29, received pred 9, ref 1',
    );
  });

  it('softDice sums per channel against uint8 and int32 targets', async () => {
    const shape = [2, 4, 7, 11, 13];
    const spatial = 7 * 11 * 13;
    const probs = await pair(gpu, randomFloats(2 * 4 * spatial, 61, 0, 1), shape);
    for (const make of [Uint8Array, Int32Array]) {
      const target = make.from(randomLabels(2 * spatial, 4, 62));
      const got = await gpu.softDice(probs[0], await gpu.upload(target, [2, 7, 11, 13]));
      const want = await reference.softDice(
        probs[1],
        await reference.upload(target, [2, 7, 11, 13]),
      );
      for (const key of ['intersection', 'predSum', 'targetSum'] as const) {
        expectClose(got[key], want[key], { atol: 1e-3, rtol: 1e-5 }, key);
      }
    }
  });

  it.each([
    ['float32', [2, 5, 3, 5, 7], 1, 1, 3],
    ['float32', [2, 3, 4, 5, 9], 4, 2, 5],
    ['uint8', [4, 9, 11, 13], 3, 1, 5],
    ['uint8', [3, 5, 7], 0, 1, 2],
    ['uint16', [2, 3, 5, 7], 2, 2, 3],
    ['int32', [4, 5, 7], 1, 3, 1],
  ] as const)(
    'slice %s %j along axis %i from %i size %i',
    async (dtype, shape, axis, start, size) => {
      const data = hostData(
        dtype,
        shape.reduce<number>((a, b) => a * b, 1),
        71,
      );
      const r = await both(gpu, (b, t) => b.slice(t(0), axis, start, size), [
        await pair(gpu, data, [...shape]),
      ]);
      expect(r.shape).toEqual(r.refShape);
      expectEqualArrays(r.got, r.ref);
    },
  );

  it.each([
    ['float32', 1],
    ['float32', 4],
    ['uint8', 4],
    ['uint8', 2],
    ['uint16', 3],
    ['int32', 0],
  ] as const)('concat %s along axis %i of three odd-sized tensors', async (dtype, axis) => {
    const shapes = [3, 2, 5].map((k) => [2, 3, 3, 5, 7].map((dim, a) => (a === axis ? k : dim)));
    const inputs = await Promise.all(
      shapes.map((s, i) =>
        pair(
          gpu,
          hostData(
            dtype,
            s.reduce((a, b) => a * b),
            80 + i,
          ),
          s,
        ),
      ),
    );
    const r = await both(gpu, (b, t) => b.concat([t(0), t(1), t(2)], axis), inputs);
    expect(r.shape).toEqual(r.refShape);
    expectEqualArrays(r.got, r.ref);
  });

  it.each(['float32', 'int32', 'uint8', 'uint16'] as const)(
    '%s round trip and zeros',
    async (dtype) => {
      const data = hostData(dtype, 1027, 90);
      const tensor = await gpu.upload(data, [1027]);
      expect(await gpu.download(tensor)).toEqual(data);
      const zeros = await gpu.zeros([3, 5], dtype);
      expect(Array.from(await gpu.download(zeros))).toEqual(new Array(15).fill(0));
    },
  );
});

/** Random host data of a dtype, never all zeros. */
function hostData(dtype: string, length: number, seed: number): HostArray {
  if (dtype === 'float32') return randomFloats(length, seed);
  const labels = randomLabels(length, dtype === 'uint8' ? 251 : 60000, seed).map((v) => v + 1);
  if (dtype === 'uint8') return Uint8Array.from(labels);
  if (dtype === 'uint16') return Uint16Array.from(labels);
  return labels.map((v, i) => (i % 2 ? -v : v));
}

describe.skipIf(!!noAdapter)('webgpu resources and failures', () => {
  it('counts many labels in several histogram passes', async () => {
    const gpu = (await openWebGpu()) as WebGpuBackend;
    const base = randomLabels(40 * 41, 3000, 101);
    const pred = perturbLabels(base, 3000, 0.5, 102);
    const got = await gpu.labelConfusion(
      await gpu.upload(pred, [40, 41]),
      await gpu.upload(base, [40, 41]),
      3000,
    );
    const want = await reference.labelConfusion(
      await reference.upload(pred, [40, 41]),
      await reference.upload(base, [40, 41]),
      3000,
    );
    expect(got).toEqual(want);
    await gpu.dispose();
  });

  it('leaves no buffer alive after dispose and no bytes after release', async () => {
    const gpu = (await openWebGpu({ maxBindingBytes: TILED_BYTES })) as WebGpuBackend;
    const x = await gpu.upload(randomFloats(2 * 3 * 4 * 5 * 6, 111), [2, 3, 4, 5, 6]);
    const w = await gpu.upload(randomFloats(4 * 3 * 27, 112), [4, 3, 3, 3, 3]);
    const y = await gpu.conv3d(x, w, null, conv3dParams({ padding: [1, 1, 1] }));
    const outputs = [
      y,
      await gpu.softmax(y),
      await gpu.argmax(y),
      await gpu.instanceNorm(y, { eps: 1e-5 }),
    ];
    await gpu.softDice(outputs[1], outputs[2]);
    const labels = await gpu.upload(Uint8Array.from([0, 1, 9]), [3]);
    await expect(gpu.labelConfusion(labels, labels, 2)).rejects.toThrow(/voxel 2/);
    for (const t of [x, w, labels, ...outputs]) gpu.release(t);

    expect(gpu.memory().bytes).toBe(0);
    expect(gpu.memory().peakBytes).toBeGreaterThan(0);
    const pooled = gpu.gpu.pool.stats();
    expect(pooled.liveBuffers).toBeGreaterThan(0);
    await gpu.dispose();
    expect(gpu.gpu.pool.stats()).toEqual({ liveBuffers: 0, pooledBytes: 0 });
    await expect(gpu.upload(randomFloats(4, 113), [4])).rejects.toThrow(/disposed/);
  });

  it('releases a failed op’s outputs and tensors still live at dispose', async () => {
    const gpu = (await openWebGpu()) as WebGpuBackend;
    const kept = await gpu.upload(randomFloats(100, 121), [100]);
    expect(gpu.memory().bytes).toBe(400);
    await gpu.dispose();
    expect(kept.released).toBe(true);
    expect(gpu.gpu.pool.stats().liveBuffers).toBe(0);
  });

  it('reports a lost device as a BackendRuntimeError', async () => {
    const gpu = (await openWebGpu()) as WebGpuBackend;
    const x = await gpu.upload(randomFloats(64, 131), [1, 1, 4, 4, 4]);
    gpu.gpu.device.destroy();
    await gpu.gpu.device.lost;
    const failure = gpu.softmax(x);
    await expect(failure).rejects.toBeInstanceOf(BackendRuntimeError);
    await expect(failure).rejects.toThrow(/device lost/);
    await gpu.dispose();
  });

  it('turns a GPU error caught by the error scopes into a BackendRuntimeError', async () => {
    const gpu = (await openWebGpu()) as WebGpuBackend;
    const tooLarge = { size: gpu.gpu.device.limits.maxBufferSize + 4, usage: 0x80 };
    const failure = gpu.gpu.scoped('probe', () => void gpu.gpu.device.createBuffer(tooLarge));
    await expect(failure).rejects.toBeInstanceOf(BackendRuntimeError);
    await expect(failure).rejects.toThrow(/webgpu validation error during probe/);
    const x = await gpu.upload(randomFloats(8, 151), [8]);
    expect(await gpu.download(x)).toEqual(randomFloats(8, 151));
    await gpu.dispose();
  });

  it('poisons new outputs: NaN for float32, 0xA5 bytes for integers', async () => {
    const gpu = (await openWebGpu()) as WebGpuBackend;
    type Produce = (
      op: string,
      work: (env: { output(s: number[], d: string): Tensor }) => Tensor,
    ) => Promise<Tensor>;
    const produce = (gpu as unknown as { produce: Produce }).produce.bind(gpu);
    const floats = await produce('probe', (env) => env.output([5], 'float32'));
    const ints = await produce('probe', (env) => env.output([3], 'int32'));
    expect(Array.from(await gpu.download(floats)).every(Number.isNaN)).toBe(true);
    expect(Array.from(await gpu.download(ints))).toEqual(new Array(3).fill(0xa5a5a5a5 | 0));
    await gpu.dispose();
  });

  it('rejects tensors of another backend and bad label counts with clear messages', async () => {
    const gpu = (await openWebGpu()) as WebGpuBackend;
    const host = await reference.upload(randomFloats(8, 141), [1, 1, 2, 2, 2]);
    await expect(gpu.softmax(host)).rejects.toThrow(
      'expected a webgpu tensor, received one from reference',
    );
    const labels = await gpu.upload(Uint8Array.from([0, 1]), [2]);
    await expect(gpu.labelConfusion(labels, labels, 0)).rejects.toThrow(
      /positive integer for numLabels/,
    );
    await gpu.dispose();
  });

  it('requests every adapter from one Dawn instance per process', async () => {
    const first = await dawnGpuProvider.requestAdapter();
    const second = await dawnGpuProvider.requestAdapter();
    if (typeof first === 'string' || typeof second === 'string') throw new Error(`${first}`);
    expect(second.owner).toBe(first.owner);
    expect(second.adapter).not.toBe(first.adapter);
  });

  it('reopens after dispose while the first backend is garbage-collected', () => {
    // Dawn instances on OpenGL share one EGL display: collecting a dropped instance while
    // another is in use crashed or hung the process. Run in a child with the collector exposed.
    const dir = mkdtempSync(join(tmpdir(), 'voxseg-reopen-'));
    const url = (path: string) => pathToFileURL(fileURLToPath(new URL(path, import.meta.url))).href;
    const script = join(dir, 'reopen.mts');
    writeFileSync(
      script,
      [
        `import '${url('../ts/node.ts')}';`,
        `import { createWebGpuBackend } from '${url('../ts/backends/webgpu/backend.ts')}';`,
        `let first = await createWebGpuBackend();`,
        `await first.dispose();`,
        `first = undefined;`,
        `const second = await createWebGpuBackend();`,
        `for (let i = 0; i < 3; i++) {`,
        `  globalThis.gc();`,
        `  await new Promise((done) => setTimeout(done, 200));`,
        `  const x = await second.upload(new Float32Array(60).fill(-1), [3, 4, 5]);`,
        `  const y = await second.download(await second.activation(x, { kind: 'relu' }));`,
        `  if (y.some((v) => v !== 0)) throw new Error('relu gave ' + y[0]);`,
        `}`,
        `await second.dispose();`,
        `console.log('done');`,
      ].join('\n'),
    );
    try {
      const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], {
        encoding: 'utf8',
        timeout: 90_000,
      });
      expect(run.stdout.trim(), run.stderr).toBe('done');
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
