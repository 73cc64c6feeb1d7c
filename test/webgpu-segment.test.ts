/**
 * `voxseg segment --backend webgpu` through the CLI on real MRI: a 96^3 crop of t1_crop (its
 * own NIfTI with the affine moved to the crop's corner) segmented by model5_gw_ae gives the
 * labels `--backend wasm` gives, Dice >= 0.999 per label. WebGPU in Node is Dawn (llvmpipe on
 * machines without a GPU, about 1-3 GFLOP/s); skips with the reason when there is no adapter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../ts/node.js';
import { BackendUnavailableError } from '../ts/engine/errors.js';
import { disposeBackends, getBackend } from '../ts/engine/registry.js';
import { multiply4 } from '../ts/io/affine.js';
import { readVolume, writeVolume } from '../ts/io/files.js';
import type { Volume } from '../ts/io/volume.js';
import { runCli } from './helpers/cli.js';
import { dataPath, missingData } from './helpers/data.js';

const SIZE = 96;
/** Corner of the crop in t1_crop's voxels (x, y, z): the 96^3 block around the grid centre. */
const CORNER: [number, number, number] = [80, 80, 80];

/** Why these tests cannot run here, or '' when they can. */
async function skipReason(): Promise<string> {
  const data = missingData('brainchop/t1_crop.nii.gz', 'brainchop/models/model5_gw_ae/model.json');
  if (data) return data;
  try {
    await getBackend('webgpu');
    return '';
  } catch (error) {
    if (error instanceof BackendUnavailableError) return error.message;
    throw error;
  } finally {
    await disposeBackends();
  }
}

/** The `size`^3 block of `volume` at `corner`, with the affine of its own first voxel. */
function cropVolume(volume: Volume, corner: [number, number, number], size: number): Volume {
  const [nx, ny] = volume.dims;
  const data = new Uint8Array(size ** 3);
  for (let z = 0; z < size; z++) {
    for (let y = 0; y < size; y++) {
      const from = corner[0] + nx * (corner[1] + y + ny * (corner[2] + z));
      data.set(volume.data.subarray(from, from + size), size * (y + size * z));
    }
  }
  const shift = [1, 0, 0, corner[0], 0, 1, 0, corner[1], 0, 0, 1, corner[2], 0, 0, 0, 1];
  const affine = multiply4(volume.affine, shift);
  return { ...volume, dims: [size, size, size], data, affine };
}

/** Dice of label `label` between two label maps of the same grid. */
function dice(a: ArrayLike<number>, b: ArrayLike<number>, label: number): number {
  let both = 0;
  let inA = 0;
  let inB = 0;
  for (let i = 0; i < a.length; i++) {
    inA += a[i] === label ? 1 : 0;
    inB += b[i] === label ? 1 : 0;
    both += a[i] === label && b[i] === label ? 1 : 0;
  }
  return (2 * both) / (inA + inB);
}

/** Run `voxseg segment` on one backend; returns the labels and the JSON summary. */
async function segmentWith(backend: string, input: string, dir: string) {
  const output = join(dir, `labels-${backend}.nii.gz`);
  const models = dataPath('brainchop');
  const args = ['segment', input, '-m', 'model5_gw_ae', '--models-dir', models, '-o', output];
  const run = runCli([...args, '--backend', backend, '--json']);
  expect(run.status, `voxseg segment --backend ${backend}: ${run.stderr}`).toBe(0);
  const summary = JSON.parse(run.stdout) as { backend: string; timingsMs: Record<string, number> };
  return { labels: await readVolume(output), summary };
}

const skip = await skipReason();

describe('voxseg segment --backend webgpu', () => {
  let dir: string;
  let crop: Volume;
  let input: string;

  beforeAll(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'voxseg-webgpu-segment-'));
    crop = cropVolume(await readVolume(dataPath('brainchop/t1_crop.nii.gz')), CORNER, SIZE);
    input = join(dir, `t1_crop_${SIZE}.nii.gz`);
    await writeVolume(input, crop);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const title = 'matches the wasm backend on a 96^3 crop of t1_crop (Dice >= 0.999 per label)';
  it(title, { timeout: 600_000 }, async (context) => {
    if (skip) return context.skip(skip);
    const gpu = await segmentWith('webgpu', input, dir);
    const cpu = await segmentWith('wasm', input, dir);
    expect(gpu.summary.backend).toBe('webgpu');
    expect(cpu.summary.backend).toBe('wasm');

    for (const { labels } of [gpu, cpu]) {
      expect(labels.dims).toEqual([SIZE, SIZE, SIZE]);
      labels.affine.forEach((value, i) => expect(value).toBeCloseTo(crop.affine[i], 3));
    }
    const scores = [1, 2].map((label) => dice(gpu.labels.data, cpu.labels.data, label));
    const counts = [1, 2].map((label) => cpu.labels.data.filter((v) => v === label).length);
    console.info(
      `webgpu vs wasm on ${SIZE}^3: Dice WM ${scores[0].toFixed(5)}, GM ${scores[1].toFixed(5)}; ` +
        `inference ${gpu.summary.timingsMs.inference} ms (webgpu), ` +
        `${cpu.summary.timingsMs.inference} ms (wasm); voxels WM ${counts[0]}, GM ${counts[1]}`,
    );
    expect(Math.min(...counts)).toBeGreaterThan(10_000);
    for (const score of scores) expect(score).toBeGreaterThanOrEqual(0.999);
  });
});
