/**
 * The cuda backend on any machine:
 * - the loader: missing, broken and foreign candidates each leave their reason in one message
 *   with the remedy, and a later good candidate still loads;
 * - the built addon (npm run build:native): its export table, probe() and, without a device,
 *   the one-line reason that create() gives and that selection reports;
 * - the TypeScript layer over a stand-in addon whose "device" is host memory and whose kernels
 *   are the reference backend's functions: parameter records, copy offsets, poisoning, label
 *   checks and error wrapping, compared with the reference backend;
 * - with a GPU, the real backend against the reference (else skipped with the reason).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createCudaBackend, loadCudaAddon, probeCuda } from '../ts/backends/cuda/index.js';
import type {
  CudaAddon,
  CudaBuffer,
  CudaConv3dParams,
  CudaContext,
  CudaFill,
} from '../ts/backends/cuda/binding.js';
import { conv3dReference } from '../ts/backends/reference/conv3d.js';
import {
  activationReference,
  argmaxReference,
  instanceNormReference,
  softDiceReference,
  softmaxReference,
} from '../ts/backends/reference/ops.js';
import { ACTIVATION_KINDS } from '../ts/engine/activations.js';
import { type Backend, conv3dParams } from '../ts/engine/backend.js';
import { BackendRuntimeError, BackendUnavailableError } from '../ts/engine/errors.js';
import { probeBackends, selectBackend } from '../ts/engine/registry.js';
import type { HostArray, Tensor } from '../ts/engine/tensor.js';
import { backendsUnderTest, referenceBackend } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { randomFloats, randomLabels } from './helpers/random.js';

const ADDON = resolve(__dirname, '../build/Release/voxseg_cuda.node');
const notBuilt = existsSync(ADDON) ? '' : `(skipped: ${ADDON} not built; run npm run build:native)`;
const scratch = mkdtempSync(join(tmpdir(), 'voxseg-cuda-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('cuda addon loader', () => {
  it('names every missing candidate and the remedy', () => {
    const tried = () => loadCudaAddon([join(scratch, 'a.node'), join(scratch, 'b.node')]);
    expect(tried).toThrow(BackendUnavailableError);
    expect(tried).toThrow(
      /^addon not built: tried .*a\.node \(not found\), .*b\.node \(not found\)/,
    );
    expect(tried).toThrow(/\(run `npm run build:native`\)$/);
  });

  it('keeps the reason of a broken binary and of a foreign module', () => {
    const broken = join(scratch, 'broken.node');
    const foreign = join(scratch, 'foreign.cjs');
    writeFileSync(broken, 'not a shared object');
    writeFileSync(foreign, 'module.exports = { probe() {} };');
    const tried = () => loadCudaAddon([broken, foreign]);
    expect(tried).toThrow(/broken\.node \(.*(invalid ELF header|file too short).*\)/);
    const missing = 'missing compiled, reason, version, architectures, CudaContext';
    expect(tried).toThrow(`foreign.cjs (not a voxseg CUDA addon: ${missing})`);
  });

  it.skipIf(notBuilt)('loads the first candidate that works', () => {
    const loaded = loadCudaAddon([join(scratch, 'missing.node'), ADDON]);
    expect(loaded.path).toBe(ADDON);
  });
});

describe.skipIf(notBuilt)(`cuda addon as built ${notBuilt}`, () => {
  const { addon } = notBuilt ? ({} as { addon: CudaAddon }) : loadCudaAddon([ADDON]);

  it('exports the table the binding type describes', () => {
    expect(typeof addon.compiled).toBe('boolean');
    expect(addon.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(typeof addon.probe).toBe('function');
    expect(typeof addon.CudaContext).toBe('function');
    if (addon.compiled) {
      expect(addon.architectures).toBe('80-real 90');
      expect(new addon.CudaBuffer()).toMatchObject({ bytes: 0, freed: true });
    } else expect(addon.reason).toMatch(/^CUDA not compiled in/);
  });

  it('probe() reports devices or names the failing call and its code', () => {
    const probe = addon.probe();
    if (probe.ok) {
      expect(probe.deviceCount).toBeGreaterThan(0);
      expect(probe.devices[0].name).not.toBe('');
      return;
    }
    expect(probe.devices).toEqual([]);
    expect(probe.error).toMatch(/^(cudaGetDeviceCount returned \d+ \(.+\)|CUDA not compiled in)/);
  });

  const hasDevice = !notBuilt && addon.probe().ok;
  it.skipIf(hasDevice)(
    'without a device, create() fails with one line; selection says so',
    async () => {
      const probe = addon.probe();
      const reason = addon.compiled ? `no CUDA device: ${probe.error}` : addon.reason;
      await expect(createCudaBackend({ loaded: { addon, path: ADDON } })).rejects.toThrow(reason);
      expect(reason).not.toContain('\n');
      expect(probeCuda()).toMatchObject({ available: false, reason });

      const [cuda] = await probeBackends(['cuda']);
      expect(cuda).toMatchObject({ name: 'cuda', available: false, reason });
      await expect(selectBackend('cuda')).rejects.toThrow(`cuda: ${reason}`);
    },
  );
});

// ------------------------------------------------------------------ a stand-in addon

/** Host "device" memory. */
class HostBuffer implements CudaBuffer {
  freed = false;
  constructor(readonly data: Uint8Array) {}
  get bytes() {
    return this.data.length;
  }
  free() {
    this.freed = true;
  }
  floats() {
    return new Float32Array(this.data.buffer, 0, this.data.length / 4);
  }
  labels(bytes: number) {
    if (bytes === 1) return this.data;
    if (bytes === 2) return new Uint16Array(this.data.buffer, 0, this.data.length / 2);
    return new Int32Array(this.data.buffer, 0, this.data.length / 4);
  }
}

const host = (b: CudaBuffer) => b as HostBuffer;
const copyFloats = (to: CudaBuffer, values: ArrayLike<number>) => host(to).floats().set(values);

/** Runs each op with the reference's functions, reading sizes only from the call's records. */
class HostContext implements CudaContext {
  fills: CudaFill[] = [];
  failing = '';

  alloc(bytes: number, fill: CudaFill) {
    this.fills.push(fill);
    const buffer = new HostBuffer(
      new Uint8Array(bytes).fill(fill === 'a5' ? 0xa5 : fill === 'zero' ? 0 : 0x5a),
    );
    if (fill === 'nan') buffer.floats().fill(NaN);
    return buffer;
  }
  async upload(dst: CudaBuffer, src: ArrayBufferView) {
    host(dst).data.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  }
  async download(src: CudaBuffer, dst: ArrayBufferView) {
    new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(
      host(src).data.subarray(0, dst.byteLength),
    );
  }
  async conv3d(
    out: CudaBuffer,
    x: CudaBuffer,
    w: CudaBuffer,
    b: CudaBuffer | null,
    p: CudaConv3dParams,
  ) {
    this.fail('conv3d');
    const shapes = {
      input: [p.n, p.cin, p.d, p.h, p.w],
      weight: [p.cout, p.cin / p.groups, p.kd, p.kh, p.kw],
      output: [p.n, p.cout, p.od, p.oh, p.ow],
    };
    const kind = ACTIVATION_KINDS[p.activation];
    const params = conv3dParams({
      stride: p.stride as [number, number, number],
      padding: p.padding as [number, number, number],
      dilation: p.dilation as [number, number, number],
      groups: p.groups,
      activation: { kind, alpha: p.alpha },
    });
    const bias = b ? host(b).floats() : null;
    copyFloats(out, conv3dReference(host(x).floats(), host(w).floats(), bias, shapes, params));
  }
  async activation(out: CudaBuffer, x: CudaBuffer, count: number, code: number, alpha: number) {
    const kind = ACTIVATION_KINDS[code];
    copyFloats(out, activationReference(host(x).floats().subarray(0, count), { kind, alpha }));
  }
  async instanceNorm(
    out: CudaBuffer,
    x: CudaBuffer,
    scale: CudaBuffer | null,
    shift: CudaBuffer | null,
    n: number,
    channels: number,
    spatial: number,
    eps: number,
    code: number,
    alpha: number,
  ) {
    const options = {
      eps,
      scale: scale ? host(scale).floats() : undefined,
      shift: shift ? host(shift).floats() : undefined,
      activation: { kind: ACTIVATION_KINDS[code], alpha },
    };
    copyFloats(
      out,
      instanceNormReference(
        host(x)
          .floats()
          .subarray(0, n * channels * spatial),
        channels,
        spatial,
        options,
      ),
    );
  }
  async softmax(out: CudaBuffer, x: CudaBuffer, n: number, channels: number, spatial: number) {
    this.fail('softmax');
    copyFloats(
      out,
      softmaxReference(
        host(x)
          .floats()
          .subarray(0, n * channels * spatial),
        channels,
        spatial,
      ),
    );
  }
  async argmax(out: CudaBuffer, x: CudaBuffer, n: number, channels: number, spatial: number) {
    const result = argmaxReference(
      host(x)
        .floats()
        .subarray(0, n * channels * spatial),
      channels,
      spatial,
    );
    host(out).data.set(new Uint8Array(result.buffer));
  }
  async labelConfusion(
    pred: CudaBuffer,
    ref: CudaBuffer,
    bytes: number,
    count: number,
    numLabels: number,
    ignore: number | null,
  ) {
    const [p, r] = [host(pred).labels(bytes), host(ref).labels(bytes)];
    const counts = {
      tp: new Float64Array(numLabels),
      pred: new Float64Array(numLabels),
      ref: new Float64Array(numLabels),
    };
    for (let i = 0; i < count; i++) {
      if (r[i] === ignore) continue;
      if (p[i] >= numLabels || r[i] >= numLabels || p[i] < 0 || r[i] < 0) {
        return { ...counts, firstInvalid: i, invalidPred: p[i], invalidRef: r[i] };
      }
      counts.pred[p[i]]++;
      counts.ref[r[i]]++;
      if (p[i] === r[i]) counts.tp[p[i]]++;
    }
    return { ...counts, firstInvalid: -1, invalidPred: 0, invalidRef: 0 };
  }
  async softDice(
    probs: CudaBuffer,
    target: CudaBuffer,
    bytes: number,
    n: number,
    channels: number,
    spatial: number,
  ) {
    return softDiceReference(
      host(probs)
        .floats()
        .subarray(0, n * channels * spatial),
      host(target).labels(bytes) as HostArray,
      channels,
      spatial,
    );
  }
  async copyBlocks(
    dst: CudaBuffer,
    dstOffset: number,
    src: CudaBuffer,
    srcOffset: number,
    blocks: number,
    blockBytes: number,
    dstStride: number,
    srcStride: number,
  ) {
    for (let i = 0; i < blocks; i++) {
      const from = srcOffset + i * srcStride;
      host(dst).data.set(
        host(src).data.subarray(from, from + blockBytes),
        dstOffset + i * dstStride,
      );
    }
  }
  async synchronize() {}
  memoryInfo() {
    return { freeBytes: 1 << 30, totalBytes: 1 << 30 };
  }
  dispose() {}

  private fail(op: string) {
    if (this.failing === op)
      throw new Error(`${op}_kernel failed: out of memory (code 2) at kernels/cuda/x.cu:1`);
  }
}

function standIn(context: HostContext) {
  const device = {
    index: 0,
    name: 'stand-in',
    computeCapability: '9.0',
    multiprocessors: 1,
    totalBytes: 1 << 30,
    freeBytes: 1 << 30,
    sharedPerBlockOptin: 232448,
  };
  const probe = {
    ok: true,
    error: '',
    errorCode: 0,
    deviceCount: 1,
    driverVersion: 13000,
    runtimeVersion: 13000,
    devices: [device],
  };
  const addon: CudaAddon = {
    compiled: true,
    reason: '',
    version: '0.1.0',
    architectures: '80-real 90',
    probe: () => probe,
    CudaBuffer: HostBuffer as unknown as CudaAddon['CudaBuffer'],
    CudaContext: class {
      constructor() {
        return context;
      }
    } as unknown as CudaAddon['CudaContext'],
  };
  return createCudaBackend({ loaded: { addon, path: 'stand-in.node' } });
}

/** Run `op` on both backends with the same uploaded inputs and return both results' data. */
async function both(
  cuda: Backend,
  ref: Backend,
  inputs: [HostArray, number[]][],
  op: (b: Backend, t: Tensor[]) => Promise<Tensor>,
) {
  const run = async (b: Backend) =>
    b.download(await op(b, await Promise.all(inputs.map(([d, s]) => b.upload(d, s)))));
  return [await run(cuda), await run(ref)];
}

describe('cuda backend over a stand-in addon', async () => {
  const context = new HostContext();
  const cuda = await standIn(context);
  const ref = await referenceBackend();
  const x = randomFloats(2 * 6 * 4 * 5 * 7, 1);

  it('describes the device, driver and runtime', () => {
    expect(cuda.info()).toMatchObject({
      name: 'cuda',
      description: 'stand-in (compute 9.0), CUDA driver 13.0, runtime 13.0',
    });
  });

  it('passes conv3d sizes, stride, padding, dilation, groups and activation through', async () => {
    const w = randomFloats(4 * 3 * 2 * 3 * 1, 2);
    const params = conv3dParams({
      stride: [1, 2, 1],
      padding: [0, 1, 2],
      dilation: [2, 1, 3],
      groups: 2,
      activation: { kind: 'elu', alpha: 0.3 },
    });
    const [got, want] = await both(
      cuda,
      ref,
      [
        [x, [2, 6, 4, 5, 7]],
        [w, [4, 3, 2, 3, 1]],
        [randomFloats(4, 3), [4]],
      ],
      (b, [xt, wt, bt]) => b.conv3d(xt, wt, bt, params),
    );
    expectClose(got, want, { atol: 0, rtol: 0 });
  });

  it('chooses the conv3d kernel from VOXSEG_CUDA_CONV, with a did-you-mean', async () => {
    const spy = vi.spyOn(context, 'conv3d');
    const [xt, wt] = [
      await cuda.upload(x, [2, 6, 4, 5, 7]),
      await cuda.upload(randomFloats(6 * 6, 4), [6, 6, 1, 1, 1]),
    ];
    vi.stubEnv('VOXSEG_CUDA_CONV', 'implicit_gemm');
    await cuda.conv3d(xt, wt, null, conv3dParams());
    expect(spy.mock.calls[0][4].algorithm).toBe(2);
    vi.stubEnv('VOXSEG_CUDA_CONV', 'implicit-gem');
    await expect(cuda.conv3d(xt, wt, null, conv3dParams())).rejects.toThrow(
      /VOXSEG_CUDA_CONV, received 'implicit-gem' \(did you mean 'implicit_gemm'\?\)/,
    );
    vi.unstubAllEnvs();
    spy.mockRestore();
  });

  it('slices and concatenates along every axis and dtype with the right offsets', async () => {
    const labels = Uint16Array.from(randomLabels(3 * 4 * 5 * 7, 9000, 5));
    for (const [data, shape] of [
      [x, [2, 6, 4, 5, 7]],
      [labels, [3, 4, 5, 7]],
    ] as const) {
      for (let axis = 0; axis < shape.length; axis++) {
        const start = shape[axis] > 2 ? 1 : 0;
        const size = shape[axis] - start - (shape[axis] > 3 ? 1 : 0);
        const [gotSlice, wantSlice] = await both(cuda, ref, [[data, [...shape]]], (b, [t]) =>
          b.slice(t, axis, start, size),
        );
        expectClose(gotSlice, wantSlice, { atol: 0, rtol: 0 }, `slice axis ${axis}`);
        const [gotJoin, wantJoin] = await both(
          cuda,
          ref,
          [
            [data, [...shape]],
            [data, [...shape]],
          ],
          (b, ts) => b.concat(ts, axis),
        );
        expectClose(gotJoin, wantJoin, { atol: 0, rtol: 0 }, `concat axis ${axis}`);
      }
    }
  });

  it('runs activation, instance norm, softmax and argmax as the reference does', async () => {
    const shape = [2, 6, 4, 5, 7];
    const ops: ((b: Backend, t: Tensor[]) => Promise<Tensor>)[] = [
      (b, [t]) => b.activation(t, { kind: 'leakyRelu', alpha: 0.2 }),
      (b, [t, s, h]) =>
        b.instanceNorm(t, { eps: 1e-5, scale: s, shift: h, activation: { kind: 'gelu' } }),
      (b, [t]) => b.softmax(t),
      (b, [t]) => b.argmax(t),
    ];
    for (const op of ops) {
      const [got, want] = await both(
        cuda,
        ref,
        [
          [x, shape],
          [randomFloats(6, 8), [6]],
          [randomFloats(6, 9), [6]],
        ],
        op,
      );
      expectClose(got, want, { atol: 0, rtol: 0 });
    }
  });

  it('counts labels, reports an invalid label as the reference does, sums soft Dice', async () => {
    const pred = Uint8Array.from(randomLabels(4 * 5 * 7, 6, 10));
    const truth = Uint8Array.from(randomLabels(4 * 5 * 7, 6, 11));
    const on = async (b: Backend, p: Uint8Array) =>
      b.labelConfusion(await b.upload(p, [1, 4, 5, 7]), await b.upload(truth, [1, 4, 5, 7]), 6, 2);
    expect(await on(cuda, pred)).toEqual(await on(ref, pred));
    pred[17] = 9;
    const message = await on(ref, pred).catch((e: Error) => e.message);
    await expect(on(cuda, pred)).rejects.toThrow(message);

    const probs = randomFloats(2 * 3 * 35, 12, 0, 1);
    const target = randomLabels(2 * 35, 3, 13);
    const dice = async (b: Backend) =>
      b.softDice(await b.upload(probs, [2, 3, 1, 5, 7]), await b.upload(target, [2, 1, 5, 7]));
    expect(await dice(cuda)).toEqual(await dice(ref));
  });

  it('poisons every output it allocates (VOXSEG_POISON=1)', async () => {
    context.fills = [];
    const t = await cuda.upload(x, [2, 6, 4, 5, 7]);
    await cuda.softmax(t);
    await cuda.argmax(t);
    await cuda.zeros([3], 'int32');
    expect(context.fills).toEqual(['none', 'nan', 'a5', 'zero']);
  });

  it('turns a kernel failure into a runtime error and gives the output back', async () => {
    const t = await cuda.upload(x, [2, 6, 4, 5, 7]);
    const before = cuda.memory().bytes;
    context.failing = 'softmax';
    const failure = cuda.softmax(t);
    await expect(failure).rejects.toThrow(BackendRuntimeError);
    await expect(failure).rejects.toThrow(
      /^cuda softmax failed: softmax_kernel failed: out of memory \(code 2\)/,
    );
    context.failing = '';
    expect(cuda.memory().bytes).toBe(before);
  });

  it('rejects released tensors and tensors of other backends', async () => {
    const t = await cuda.upload(x, [2, 6, 4, 5, 7]);
    cuda.release(t);
    expect((t.handle as CudaBuffer).freed).toBe(true);
    await expect(cuda.softmax(t)).rejects.toThrow(/used after release/);
    await expect(cuda.softmax(await ref.upload(x, [2, 6, 4, 5, 7]))).rejects.toThrow(
      /expected a cuda tensor, received one from reference/,
    );
  });
});

describe('cuda backend on a GPU', async () => {
  const cuda = (await backendsUnderTest()).find((b) => b.name === 'cuda')!;
  const skip = cuda.backend ? '' : `(skipped: ${cuda.skipReason})`;

  it.skipIf(skip)(
    `matches the reference on a wide TF32 conv3d and a thin FP32 one ${skip}`,
    async () => {
      const ref = await referenceBackend();
      for (const [cin, cout, tolerance] of [
        [5, 5, 1e-4],
        [32, 64, 3e-3],
      ] as const) {
        const x = randomFloats(cin * 9 * 10 * 11, 20);
        const w = randomFloats(
          cout * cin * 27,
          21,
          -1 / Math.sqrt(cin * 27),
          1 / Math.sqrt(cin * 27),
        );
        const params = conv3dParams({
          padding: [2, 2, 2],
          dilation: [2, 2, 2],
          activation: { kind: 'relu' },
        });
        const [got, want] = await both(
          cuda.backend!,
          ref,
          [
            [x, [1, cin, 9, 10, 11]],
            [w, [cout, cin, 3, 3, 3]],
          ],
          (b, [xt, wt]) => b.conv3d(xt, wt, null, params),
        );
        expectClose(got, want, { atol: tolerance, rtol: tolerance }, `conv3d ${cin}->${cout}`);
      }
    },
  );
});
