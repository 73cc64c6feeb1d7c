/**
 * The distance transform beyond the op suite (test/ops.test.ts runs the op on every backend
 * against the reference and brute force):
 * - the float64 refinement the metrics apply to a backend's float32 map: exact on perturbed
 *   maps, and a loud error naming the backend when a map is wrong;
 * - the metrics really compute their maps through `backend.distanceTransform`;
 * - WebGPU windows (a tiny binding limit forces rows, planes and items into several windows)
 *   and its error for an item larger than one binding;
 * - the cuda backend's call into the addon (a stand-in context records the arguments);
 * - the CUDA kernel through the harness: its CPU reference and the kernels on the CPU emulator
 *   against the TypeScript reference. No GPU runs here: the kernel is unverified on hardware
 *   until `native/harness/run-on-gpu.sh` (which validates it with the other kernels) runs on one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../ts/node.js';
import { createCudaBackend } from '../ts/backends/cuda/index.js';
import type { CudaAddon, CudaBuffer } from '../ts/backends/cuda/binding.js';
import { distanceTransformReference } from '../ts/backends/reference/edt.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { createWebGpuBackend, type WebGpuBackend } from '../ts/backends/webgpu/backend.js';
import type { Backend } from '../ts/engine/backend.js';
import type { HostArray, Tensor } from '../ts/engine/tensor.js';
import { evaluate } from '../ts/metrics/index.js';
import { expectClose } from './helpers/compare.js';
import { rng } from './helpers/random.js';

type Triple = [number, number, number];
const reference = new ReferenceBackend();

/** A (N, D, H, W) uint8 mask with about `density` ones, seeded. */
function randomMask(shape: number[], density: number, seed: number): Uint8Array {
  const next = rng(seed);
  const length = shape.reduce((a, b) => a * b, 1);
  return Uint8Array.from({ length }, () => (next() < density ? 1 : 0));
}

/** Run distanceTransform on a backend and bring the map back. */
async function transform(backend: Backend, mask: HostArray, shape: number[], spacing: Triple) {
  const input = await backend.upload(mask, shape);
  const out = await backend.distanceTransform(input, spacing);
  const data = (await backend.download(out)) as Float32Array;
  backend.release(input);
  backend.release(out);
  return data;
}

/** Random blobs of labels 1..3 in a (z, y, x) volume; x fastest. */
function blobs(dims: Triple, seed: number): Uint8Array {
  const [nx, ny, nz] = dims;
  const next = rng(seed);
  const data = new Uint8Array(nx * ny * nz);
  for (let label = 1; label <= 3; label++) {
    const size = [nx, ny, nz].map((n) => 2 + Math.floor(next() * (n / 2)));
    const at = [nx, ny, nz].map((n, a) => Math.floor(next() * (n - size[a])));
    for (let z = 0; z < size[2]; z++)
      for (let y = 0; y < size[1]; y++)
        for (let x = 0; x < size[0]; x++) {
          if (next() < 0.8) data[at[0] + x + nx * (at[1] + y + ny * (at[2] + z))] = label;
        }
  }
  return data;
}

/** The reference backend with its distance maps passed through `change`. */
function alteredBackend(change: (map: Float32Array) => void): Backend & { calls: number } {
  const altered = Object.create(reference) as Backend & { calls: number };
  altered.calls = 0;
  altered.distanceTransform = async (mask: Tensor, spacing: Triple) => {
    altered.calls++;
    const out = await reference.distanceTransform(mask, spacing);
    change(out.handle as Float32Array);
    return out;
  };
  return altered;
}

/** Squared distance of every voxel to the nearest site, float64, by trying every site. */
function bruteForce(sites: Uint8Array, shape: Triple, spacing: Triple): Float64Array {
  const [, h, w] = shape;
  const at = (i: number) => [Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w];
  const list = [...sites.keys()].filter((i) => sites[i]).map(at);
  return Float64Array.from(sites, (_, i) => {
    const p = at(i);
    let best = Infinity;
    for (const s of list) {
      best = Math.min(
        best,
        [0, 1, 2].reduce((a, k) => a + ((p[k] - s[k]) * spacing[k]) ** 2, 0),
      );
    }
    return best;
  });
}

describe('evaluate() computes its distance maps on the backend', () => {
  const dims: Triple = [23, 19, 11];
  const volume = (data: Uint8Array) => ({ data, dims, spacing: [0.8, 0.8, 2.5] as Triple });
  const pred = volume(blobs(dims, 1));
  const ref = volume(blobs(dims, 2));

  it('calls distanceTransform once per label and uses its maps', async () => {
    const oracle = await evaluate(pred, ref, { backend: reference });
    const counted = alteredBackend(() => {});
    const result = await evaluate(pred, ref, { backend: counted });
    expect(counted.calls).toBe(3);
    const keys = ['hd', 'hdPercentile', 'assd', 'masd', 'nsd'] as const;
    for (const [i, m] of result.labels.entries()) {
      for (const key of keys) expect(m[key], `label ${m.label} ${key}`).toBe(oracle.labels[i][key]);
    }
    // A map scaled by 1.21 scales every finite distance by 1.1: the metrics read the op's maps.
    const scaled = await evaluate(pred, ref, {
      backend: alteredBackend((map) => map.forEach((v, k) => (map[k] = v * 1.21))),
    });
    for (const [i, m] of scaled.labels.entries()) {
      if (Number.isFinite(oracle.labels[i].hd) && oracle.labels[i].hd > 0) {
        expect(m.hd).toBeCloseTo(oracle.labels[i].hd * 1.1, 5);
      }
    }
  });
});

// ------------------------------------------------------------------ webgpu windows

async function openWebGpu(options = {}): Promise<WebGpuBackend | string> {
  try {
    return await createWebGpuBackend(options);
  } catch (error) {
    return (error as Error).message;
  }
}

const TILED_BYTES = 4096;
const tiled = await openWebGpu({ maxBindingBytes: TILED_BYTES });
const noWebGpu = typeof tiled === 'string' ? `(skipped: ${tiled})` : '';

describe.skipIf(!!noWebGpu)(`webgpu distanceTransform in windows ${noWebGpu}`, () => {
  const gpu = tiled as WebGpuBackend;
  afterAll(() => gpu.dispose());

  it('matches the reference when rows, planes and items take several windows', async () => {
    // 960 float32 per window: 3 items of 7 x 9 x 13 = 819 voxels, one item per D window.
    const shape = [3, 7, 9, 13];
    const mask = randomMask(shape, 0.01, 11);
    mask[5] = mask[900] = mask[2000] = 1;
    const spacing: Triple = [1.7, 0.9, 0.6];
    const got = await transform(gpu, mask, shape, spacing);
    expectClose(got, await transform(reference, mask, shape, spacing), { atol: 1e-5, rtol: 1e-5 });
  });

  it('names the limit when one item does not fit one binding', async () => {
    const shape = [1, 10, 10, 10];
    const input = await gpu.upload(new Uint8Array(1000).fill(1), shape);
    await expect(gpu.distanceTransform(input, [1, 1, 1])).rejects.toThrow(
      /binds one batch item whole: \(1, 10, 10, 10\) has 1000 voxels per item, .* at most 960/,
    );
    gpu.release(input);
  });
});

// ------------------------------------------------------------------ the CUDA backend's call

/** Host memory standing in for a device buffer. */
class HostBuffer implements CudaBuffer {
  freed = false;
  constructor(readonly data: Uint8Array) {}
  get bytes() {
    return this.data.length;
  }
  free() {
    this.freed = true;
  }
}

/** A CUDA context that runs distanceTransform with the reference, from the call's arguments. */
function standInContext(calls: unknown[][]) {
  const view = (b: CudaBuffer) => (b as HostBuffer).data;
  return {
    alloc: (bytes: number) => new HostBuffer(new Uint8Array(bytes)),
    upload: async (dst: CudaBuffer, src: ArrayBufferView) => {
      view(dst).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
    },
    download: async (src: CudaBuffer, dst: ArrayBufferView) => {
      new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(view(src));
    },
    distanceTransform: async (out: CudaBuffer, mask: CudaBuffer, ...rest: number[]) => {
      calls.push(rest);
      const [bytes, n, d, h, w, sd, sh, sw] = rest;
      const labels = bytes === 2 ? new Uint16Array(view(mask).buffer) : view(mask);
      const map = distanceTransformReference(labels, [n, d, h, w], [sd, sh, sw]);
      view(out).set(new Uint8Array(map.buffer));
    },
    dispose: () => {},
  };
}

describe('cuda backend distanceTransform over a stand-in addon', () => {
  it('passes the label width, (N, D, H, W) and the (D, H, W) spacing through', async () => {
    const calls: unknown[][] = [];
    const context = standInContext(calls);
    const device = { index: 0, name: 'stand-in', computeCapability: '9.0', multiprocessors: 1 };
    const devices = [{ ...device, totalBytes: 1, freeBytes: 1, sharedPerBlockOptin: 1 }];
    const probe = { ok: true, error: '', errorCode: 0, deviceCount: 1, devices };
    const addon = {
      ...{ compiled: true, reason: '', version: '0.1.0', architectures: '90' },
      probe: () => ({ ...probe, driverVersion: 13000, runtimeVersion: 13000 }),
      CudaContext: function () {
        return context;
      },
      CudaBuffer: HostBuffer,
    } as unknown as CudaAddon;
    const cuda = await createCudaBackend({ loaded: { addon, path: 'stand-in.node' } });

    const shape = [2, 3, 4, 5];
    const mask = Uint16Array.from(randomMask(shape, 0.1, 9), (v) => v * 300);
    const spacing: Triple = [2, 0.5, 0.75];
    const got = await transform(cuda, mask, shape, spacing);
    expect(calls).toEqual([[2, 2, 3, 4, 5, 2, 0.5, 0.75]]);
    expect(got).toEqual(await transform(reference, mask, shape, spacing));
    await expect(cuda.distanceTransform(await cuda.upload(mask, [120]), spacing)).rejects.toThrow(
      /rank-4 tensor for distanceTransform mask/,
    );
  });
});

// ------------------------------------------------------------------ CUDA through the harness

const HARNESS = resolve(__dirname, '../build/harness');
const binaries = {
  'CPU reference': join(HARNESS, 'voxseg_harness'),
  'kernels on the CPU emulator': join(HARNESS, 'voxseg_harness_emulated'),
};
const scratch = mkdtempSync(join(tmpdir(), 'voxseg-edt-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Write a distance_transform case directory (native/harness/case.h) and run one binary on it. */
function runHarnessCase(binary: string, mask: Uint8Array, shape: number[], spacing: Triple) {
  const dir = mkdtempSync(join(scratch, 'case-'));
  const lines = ['op distance_transform', `param spacing ${spacing.join(' ')}`];
  lines.push(`tensor mask uint8 ${shape.join(' ')}`);
  writeFileSync(join(dir, 'case.txt'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'mask.bin'), mask);
  const args = binary.endsWith('emulated') ? ['--op', dir] : ['--cpu', '--op', dir];
  const run = spawnSync(binary, args, { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`${binary} exited ${run.status}: ${run.stderr}`);
  expect(readFileSync(join(dir, 'result.txt'), 'utf8')).toMatch(/^tensor out float32 /);
  const bytes = readFileSync(join(dir, 'out.bin'));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

const harnessCases: Array<{ name: string; shape: number[]; density: number; spacing: Triple }> = [
  {
    name: 'odd sizes, anisotropic, batch 2',
    shape: [2, 5, 8, 11],
    density: 0.03,
    spacing: [0.7, 1.3, 2.9],
  },
  { name: 'an empty item and a full one', shape: [2, 3, 4, 5], density: -1, spacing: [1, 2, 3] },
  { name: 'a single far voxel', shape: [1, 9, 6, 7], density: 0, spacing: [3, 0.5, 0.5] },
];

for (const [label, binary] of Object.entries(binaries)) {
  const skip = existsSync(binary) ? '' : `(skipped: ${binary} not built; run npm run build:native)`;
  describe.skipIf(!!skip)(`CUDA distance_transform: ${label} ${skip}`, () => {
    for (const [k, c] of harnessCases.entries()) {
      it(`${c.name} matches the TypeScript reference`, async () => {
        const mask = randomMask(c.shape, Math.max(c.density, 0), 40 + k);
        if (c.density < 0) mask.fill(1, mask.length / 2); // item 0 empty, item 1 full
        if (c.density === 0) mask[mask.length - 1] = 1;
        const got = runHarnessCase(binary, mask, c.shape, c.spacing);
        const want = await transform(reference, mask, c.shape, c.spacing);
        // Infinity (an item without features) must come back as Infinity, the rest close.
        const finite = (values: Float32Array) =>
          values.map((v, i) => (want[i] === Infinity && v === Infinity ? 0 : v));
        expectClose(finite(got), finite(want), { atol: 1e-5, rtol: 1e-5 });
      });
    }
  });
}
