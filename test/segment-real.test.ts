/**
 * The main job on real data: brainchop models on real MRI through the whole pipeline.
 * Runs on the wasm backend (the CPU backend everywhere); skips with the reason when it is absent.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../ts/engine/backend.js';
import { getBackend } from '../ts/engine/registry.js';
import { readVolume } from '../ts/io/files.js';
import type { Volume } from '../ts/io/volume.js';
import { loadModelByName } from '../ts/model/resolve.js';
import { keepLargestComponent } from '../ts/pipeline/components.js';
import { segment } from '../ts/pipeline/segment.js';
import { dataPath, missingData } from './helpers/data.js';
import '../ts/node.js';

const MODELS = dataPath('brainchop');
const skipData = missingData(
  'derived/fs_norm.nii.gz',
  'derived/fs_ref_gwm3.nii.gz',
  'brainchop/t1_crop.nii.gz',
  'brainchop/models/model5_gw_ae/model.json',
);

/** Dice of label `a` in x against label `b` in y. */
function dice(x: ArrayLike<number>, a: number, y: ArrayLike<number>, b = a): number {
  let both = 0;
  let nx = 0;
  let ny = 0;
  for (let i = 0; i < x.length; i++) {
    const inX = x[i] === a;
    const inY = y[i] === b;
    nx += inX ? 1 : 0;
    ny += inY ? 1 : 0;
    both += inX && inY ? 1 : 0;
  }
  return (2 * both) / (nx + ny);
}

const load = (name: string, recipe = {}) =>
  loadModelByName(name, { modelsDir: MODELS, download: false }, recipe);

describe.skipIf(skipData)('segmenting real MRI', () => {
  let wasm: Backend | undefined;
  let skipWasm = '';
  let fsNorm: Volume;

  beforeAll(async () => {
    fsNorm = await readVolume(dataPath('derived/fs_norm.nii.gz'));
    wasm = await getBackend('wasm').catch((error) => {
      skipWasm = (error as Error).message;
      return undefined;
    });
  });

  it('model5_gw_ae scores Dice >= 0.90 (WM) and >= 0.80 (GM) against FreeSurfer', async (context) => {
    if (!wasm) return context.skip(skipWasm);
    const reference = await readVolume(dataPath('derived/fs_ref_gwm3.nii.gz'));
    const result = await segment(fsNorm, await load('model5_gw_ae'), { backend: wasm });
    expect(result.labels.dims).toEqual(fsNorm.dims);
    expect(result.labels.affine).toEqual(fsNorm.affine);
    expect(dice(result.labels.data, 1, reference.data)).toBeGreaterThanOrEqual(0.9);
    expect(dice(result.labels.data, 2, reference.data)).toBeGreaterThanOrEqual(0.8);
  });

  it('gives the same labels on wasm and reference (Dice >= 0.999 per label)', async (context) => {
    if (!wasm) return context.skip(skipWasm);
    // A 64 x 56 x 48 block of the brain, zero elsewhere, cropped without margin: small enough
    // for the reference backend, real enough to hold both tissues.
    const block = maskedBlock(fsNorm, [96, 100, 104], [64, 56, 48]);
    const model = await load('model5_gw_ae', { cropPadding: 0 });
    const fast = await segment(block, model, { backend: wasm });
    const slow = await segment(block, model, { backend: await getBackend('reference') });
    for (const label of [1, 2]) {
      expect(dice(fast.labels.data, label, slow.labels.data)).toBeGreaterThanOrEqual(0.999);
    }
    expect(fast.crop).toEqual({ start: [96, 100, 104], end: [160, 156, 152] });
  });

  it('model18cls runs on the same input and finds the subcortical structures', async (context) => {
    if (!wasm) return context.skip(skipWasm);
    const result = await segment(fsNorm, await load('model18cls'), { backend: wasm });
    const present = new Set(result.labels.data);
    expect(present.size).toBeGreaterThanOrEqual(16);
    if (!missingData('derived/fs_ref_aseg18.nii.gz')) {
      const aseg = await readVolume(dataPath('derived/fs_ref_aseg18.nii.gz'));
      expect(dice(result.labels.data, 1, aseg.data)).toBeGreaterThan(0.85); // cerebral WM
      expect(dice(result.labels.data, 7, aseg.data)).toBeGreaterThan(0.75); // thalamus (0.80 measured)
    }
  });

  it('mindgrab gives one connected brain mask of a plausible volume', async (context) => {
    if (!wasm) return context.skip(skipWasm);
    const t1 = await readVolume(dataPath('brainchop/t1_crop.nii.gz'));
    const result = await segment(t1, await load('mindgrab'), { backend: wasm });
    // The network itself finds one brain: what the clean-up drops is noise (< 1 %).
    expect(result.components!.dropped).toBeLessThan(0.01 * result.components!.kept);
    const mask = Uint8Array.from(result.labels.data, (label) => (label > 0 ? 1 : 0));
    const final = keepLargestComponent(mask, t1.dims);
    expect(final.components).toBe(1);
    const millilitres = final.kept / 1000;
    expect(millilitres).toBeGreaterThan(1000);
    expect(millilitres).toBeLessThan(1900);
  }, 600_000);
});

/** A copy of a volume with every voxel outside [start, start + size) set to zero. */
function maskedBlock(volume: Volume, start: number[], size: number[]): Volume {
  const [nx, ny] = volume.dims;
  const data = new Uint8Array(volume.data.length);
  for (let z = start[2]; z < start[2] + size[2]; z++) {
    for (let y = start[1]; y < start[1] + size[1]; y++) {
      const from = start[0] + nx * (y + ny * z);
      data.set((volume.data as Uint8Array).subarray(from, from + size[0]), from);
    }
  }
  return { ...volume, data };
}
