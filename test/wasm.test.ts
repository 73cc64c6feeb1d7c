/**
 * What only the wasm backend has: loading and its feature test, threads and their lifetime,
 * memory accounting, the packed-weight cache, memory growth, float64 statistics. Whether each op
 * agrees with the reference is test/ops.test.ts (also rerun by wasm-single and wasm-threads).
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import '../ts/node.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import {
  createWasmBackend,
  setWasmThreadHost,
  type WasmBackend,
  type WasmThreadHost,
  type WorkerLike,
} from '../ts/backends/wasm/index.js';
import { nodeThreadHost } from '../ts/backends/wasm/node-workers.js';
import { conv3dParams } from '../ts/engine/backend.js';
import { expectClose } from './helpers/compare.js';
import { randomFloats } from './helpers/random.js';

const reference = new ReferenceBackend();
const created: WasmBackend[] = [];

async function wasm(options: Parameters<typeof createWasmBackend>[0] = {}) {
  const backend = await createWasmBackend(options);
  created.push(backend);
  return backend;
}

afterEach(async () => {
  for (const backend of created.splice(0)) await backend.dispose();
  setWasmThreadHost(nodeThreadHost);
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

/** A worker host whose workers answer `init` with an error. */
function failingHost(message: string): WasmThreadHost {
  return {
    concurrency: 4,
    createWorker(): WorkerLike {
      let handler: (reply: { type: 'error'; message: string }) => void = () => {};
      return {
        postMessage: () => queueMicrotask(() => handler({ type: 'error', message })),
        onMessage: (h) => (handler = h),
        onError: () => {},
        terminate: () => {},
      };
    },
  };
}

describe('wasm loading', () => {
  it('fails with a one-line reason when WebAssembly SIMD is unavailable', async () => {
    vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    const failure = await createWasmBackend({ threads: 1 }).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/^WebAssembly SIMD is not available/);
    expect((failure as Error).message).not.toContain('\n');
  });

  it('rejects bad options, naming the setting and the value', async () => {
    vi.stubEnv('VOXSEG_WASM_THREADS', 'many');
    await expect(createWasmBackend()).rejects.toThrow(/VOXSEG_WASM_THREADS, received 'many'/);
    await expect(createWasmBackend({ threads: 0 })).rejects.toThrow(
      /positive integer for threads, received 0/,
    );
    await expect(createWasmBackend({ padBudgetBytes: -1 })).rejects.toThrow(
      /number >= 0 for padBudgetBytes, received -1/,
    );
  });

  it('takes its default thread count from VOXSEG_WASM_THREADS', async () => {
    vi.stubEnv('VOXSEG_WASM_THREADS', '2');
    expect((await wasm()).info().details.threads).toBe(2);
  });

  it('runs on one thread, saying why, where no worker host exists', async () => {
    setWasmThreadHost(null);
    const backend = await wasm({ threads: 4 });
    expect(backend.info().details.threads).toBe(1);
    expect(backend.info().details.singleThreadReason).toMatch(/no worker host/);
  });

  it('reports a worker that cannot start', async () => {
    setWasmThreadHost(failingHost('instantiate failed: out of memory'));
    await expect(createWasmBackend({ threads: 3 })).rejects.toThrow(
      /wasm worker could not start: instantiate failed: out of memory/,
    );
  });
});

describe('wasm in a browser bundle', () => {
  it('bundles with platform "browser": no Node built-in, the binaries and worker embedded', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../ts/backends/wasm/index.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles.map((file) => file.text).join('\n');
    expect(code).not.toMatch(/from ["']node:|require\(["']node:|["']worker_threads["']/);
    expect(code).toContain('relaxed-simd-threads');
    expect(code).toContain('self.onmessage');
  });

  it('fails the same check for the Node worker host (the check can fail)', async () => {
    const attempt = build({
      entryPoints: [fileURLToPath(new URL('../ts/backends/wasm/node-workers.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    await expect(attempt).rejects.toThrow(/node:/);
  });
});

describe('wasm threads', () => {
  it('describes its threads', async () => {
    const backend = await wasm({ threads: 3 });
    expect(backend.info().details.threads).toBe(3);
    expect(backend.info().description).toMatch(/SIMD.*3 threads/);
  });

  it('runs ops concurrently and keeps inputs released mid-op until the op ends', async () => {
    // A 2 KiB slab budget makes conv3d await between many slabs.
    const backend = await wasm({ threads: 3, minParallelWork: 0, padBudgetBytes: 2048 });
    const shape = [1, 3, 9, 10, 11];
    const data = randomFloats(3 * 9 * 10 * 11, 5);
    const weights = randomFloats(4 * 3 * 27, 6);
    const params = conv3dParams({ padding: [1, 1, 1], activation: { kind: 'elu' } });
    const expected = await conv(reference, data, shape, weights, params);

    const x = await backend.upload(data, shape);
    const w = await backend.upload(weights, [4, 3, 3, 3, 3]);
    const pending = [backend.conv3d(x, w, null, params), backend.conv3d(x, w, null, params)];
    backend.release(x);
    const outputs = await Promise.all(pending);
    for (const y of outputs)
      expectClose(await backend.download(y), expected, { atol: 1e-4, rtol: 1e-4 });

    outputs.forEach((y) => backend.release(y));
    backend.release(w);
    expect(backend.memory().bytes).toBe(0);
  });

  it('rejects ops after dispose', async () => {
    const backend = await wasm({ threads: 2 });
    const x = await backend.upload(randomFloats(8, 1), [8]);
    await backend.dispose();
    await expect(backend.activation(x, { kind: 'relu' })).rejects.toThrow(/disposed/);
  });

  it('lets the process exit when a threaded backend is never disposed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'voxseg-wasm-exit-'));
    const entry = pathToFileURL(fileURLToPath(new URL('../ts/node.ts', import.meta.url))).href;
    const script = join(dir, 'exit.mts');
    writeFileSync(
      script,
      [
        `import { createWasmBackend, conv3dParams } from '${entry}';`,
        `const b = await createWasmBackend({ threads: 3, minParallelWork: 0 });`,
        `const x = await b.upload(new Float32Array(512).fill(0.5), [1, 1, 8, 8, 8]);`,
        `const w = await b.upload(new Float32Array(27).fill(0.1), [1, 1, 3, 3, 3]);`,
        `await b.conv3d(x, w, null, conv3dParams());`,
        `console.log('done');`,
      ].join('\n'),
    );
    try {
      // A hang would hit the timeout and leave status null.
      const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('done');
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('wasm memory', () => {
  it('counts the bytes of live tensors and their peak', async () => {
    const backend = await wasm({ threads: 1 });
    const a = await backend.upload(randomFloats(1000, 1), [10, 100]);
    const b = await backend.zeros([3, 7], 'uint16');
    expect(backend.memory()).toEqual({ bytes: 4000 + 42, peakBytes: 4042 });
    backend.release(a);
    backend.release(a);
    expect(backend.memory()).toEqual({ bytes: 42, peakBytes: 4042 });
    backend.resetPeak();
    backend.release(b);
    expect(backend.memory()).toEqual({ bytes: 0, peakBytes: 42 });
  });

  it('packs a weight tensor once and frees the packed copy with it', async () => {
    const backend = await wasm({ threads: 1 });
    const x = await backend.upload(randomFloats(2 * 5 * 5 * 5, 2), [1, 2, 5, 5, 5]);
    const w = await backend.upload(randomFloats(7 * 2 * 27, 3), [7, 2, 3, 3, 3]);
    const inputs = backend.memory().bytes;
    for (let i = 0; i < 3; i++) backend.release(await backend.conv3d(x, w, null, conv3dParams()));
    expect(backend.info().details.packedWeights).toBe(1);
    // 7 output channels pack as 2 blocks of 5: 2 * 54 taps * 5 floats.
    expect(backend.memory().bytes).toBe(inputs + 2 * 54 * 5 * 4);
    backend.release(w);
    expect(backend.info().details.packedWeights).toBe(0);
    expect(backend.memory().bytes).toBe(x.size * 4);
  });

  for (const threads of [1, 2]) {
    it(`keeps data and results intact when memory grows (${threads} thread(s))`, async () => {
      const backend = await wasm({ threads });
      const data = randomFloats(4 * 6 * 6 * 6, 9);
      const a = await backend.upload(data, [1, 4, 6, 6, 6]);
      const reserved = backend.info().details.reservedBytes as number;
      const big = await backend.zeros([64, 2 ** 20], 'float32');
      expect(backend.info().details.reservedBytes).toBeGreaterThan(reserved);
      expect(await backend.download(a)).toEqual(data);
      const y = await backend.activation(a, { kind: 'sigmoid' });
      const want = await reference.activation(await reference.upload(data, [1, 4, 6, 6, 6]), {
        kind: 'sigmoid',
      });
      expectClose(await backend.download(y), await reference.download(want), {
        atol: 1e-6,
        rtol: 1e-5,
      });
      [a, big, y].forEach((t) => backend.release(t));
    });
  }

  it('refuses a tensor over 1 GiB before allocating', async () => {
    const backend = await wasm({ threads: 1 });
    await expect(backend.zeros([2 ** 28 + 4], 'float32')).rejects.toThrow(/at most 1 GiB/);
    expect(backend.memory().peakBytes).toBe(0);
  });

  it('rejects tensors of other backends or instances, and tensors used after release', async () => {
    const backend = await wasm({ threads: 1 });
    const foreign = await reference.upload(randomFloats(4, 1), [4]);
    await expect(backend.activation(foreign, { kind: 'relu' })).rejects.toThrow(
      /expected a wasm tensor, received one from reference/,
    );
    const other = await wasm({ threads: 1 });
    const elsewhere = await other.upload(randomFloats(4, 1), [4]);
    backend.release(elsewhere);
    expect(other.memory().bytes).toBe(16);
    await expect(backend.download(elsewhere)).rejects.toThrow(/another wasm backend instance/);
    const x = await backend.upload(randomFloats(4, 1), [4]);
    backend.release(x);
    await expect(backend.download(x)).rejects.toThrow(/used after release/);
  });
});

describe('wasm precision', () => {
  it('normalises a plane with mean 1000 and spread 1 from float64 statistics', async () => {
    const backend = await wasm({ threads: 1 });
    const data = randomFloats(3 * 7 * 9 * 11, 4, 1000, 1001);
    const shape = [1, 3, 7, 9, 11];
    const got = await backend.instanceNorm(await backend.upload(data, shape), { eps: 1e-5 });
    const want = await reference.instanceNorm(await reference.upload(data, shape), { eps: 1e-5 });
    expectClose(await backend.download(got), await reference.download(want), {
      atol: 1e-5,
      rtol: 1e-5,
    });
  });

  it('keeps exp-based activations finite and accurate far from zero', async () => {
    const backend = await wasm({ threads: 1 });
    const data = randomFloats(4001, 8, -120, 120);
    for (const kind of ['sigmoid', 'elu', 'gelu'] as const) {
      const got = await backend.activation(await backend.upload(data, [4001]), { kind });
      const want = await reference.activation(await reference.upload(data, [4001]), { kind });
      expectClose(await backend.download(got), await reference.download(want), {
        atol: 1e-6,
        rtol: 1e-5,
      });
    }
  });
});

async function conv(
  backend: ReferenceBackend,
  data: Float32Array,
  shape: number[],
  weights: Float32Array,
  params: ReturnType<typeof conv3dParams>,
) {
  const x = await backend.upload(data, shape);
  const w = await backend.upload(weights, [4, 3, 3, 3, 3]);
  return backend.download(await backend.conv3d(x, w, null, params));
}
