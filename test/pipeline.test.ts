/** Pipeline pieces: normalisation, foreground box, connected components, preview. */
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { keepLargestComponent } from '../ts/pipeline/components.js';
import { boxSize, cropVolume, foregroundBox, pasteVolume } from '../ts/pipeline/crop.js';
import { normalizeIntensities, percentile, requireFinite } from '../ts/pipeline/intensity.js';
import { renderPreview } from '../ts/pipeline/preview.js';
import type { Volume } from '../ts/io/volume.js';
import { randomFloats } from './helpers/random.js';

describe('intensity normalisation', () => {
  it('maps min and max to 0 and 1', () => {
    const out = normalizeIntensities(Int16Array.from([-100, 0, 300]), 'minmax');
    expect(Array.from(out)).toEqual([0, 0.25, 1]);
  });

  it('uses linearly interpolated 5th/95th percentiles, without clipping', () => {
    const values = Uint8Array.from({ length: 101 }, (_, i) => i);
    expect(percentile(values, 5)).toBe(5);
    expect(percentile(Float32Array.from([0, 10]), 25)).toBe(2.5);
    const out = normalizeIntensities(values, 'quantile');
    expect(out[5]).toBeCloseTo(0, 6);
    expect(out[95]).toBeCloseTo(1, 6);
    expect(out[100]).toBeCloseTo(95 / 90, 5);
  });

  it('gives the same percentile from the histogram and from sorting', () => {
    const values = Uint8Array.from(randomFloats(999, 4, 0, 255), (v) => Math.floor(v));
    for (const p of [1, 5, 50, 95, 99]) {
      expect(percentile(values, p)).toBeCloseTo(percentile(Float32Array.from(values), p), 9);
    }
  });

  it('rejects NaN voxels naming the file and the voxel', () => {
    const data = new Float32Array(24).fill(1);
    data[13] = NaN;
    expect(() => requireFinite(data, [2, 3, 4], 'scan.nii')).toThrow(
      /scan\.nii: expected finite voxel values for voxel \(1, 0, 2\), received NaN/,
    );
  });
});

describe('foreground box and crop', () => {
  const dims: [number, number, number] = [6, 5, 4];
  const data = new Float32Array(120);
  data[2 + 6 * (1 + 5 * 1)] = 1; // (2, 1, 1)
  data[3 + 6 * (3 + 5 * 2)] = 1; // (3, 3, 2)

  it('bounds the voxels above the threshold, grown by the padding and clipped', () => {
    expect(foregroundBox(data, dims, 0, 0)).toEqual({ start: [2, 1, 1], end: [4, 4, 3] });
    expect(foregroundBox(data, dims, 0, 2)).toEqual({ start: [0, 0, 0], end: [6, 5, 4] });
    expect(foregroundBox(new Float32Array(120), dims, 0, 1)).toEqual({
      start: [0, 0, 0],
      end: [6, 5, 4],
    });
  });

  it('crops and pastes back to the same voxels', () => {
    const values = randomFloats(120, 9);
    const box = foregroundBox(data, dims, 0, 0);
    const crop = cropVolume(values, dims, box);
    expect(crop.length).toBe(boxSize(box).reduce((a, b) => a * b));
    const back = pasteVolume(new Float32Array(120), dims, crop, box);
    expect(back[2 + 6 * (1 + 5 * 1)]).toBe(values[2 + 6 * (1 + 5 * 1)]);
    expect(back[3 + 6 * (3 + 5 * 2)]).toBe(values[3 + 6 * (3 + 5 * 2)]);
    expect(back[0]).toBe(0);
  });
});

describe('largest connected component', () => {
  it('keeps the biggest 26-connected blob across labels and drops the rest', () => {
    const dims: [number, number, number] = [5, 5, 5];
    const labels = new Int32Array(125);
    const at = (x: number, y: number, z: number) => x + 5 * (y + 5 * z);
    labels[at(0, 0, 0)] = 1;
    labels[at(1, 1, 1)] = 2; // diagonal neighbour: same component under 26-connectivity
    labels[at(2, 2, 2)] = 1;
    labels[at(4, 4, 0)] = 2; // isolated
    labels[at(4, 0, 4)] = 1; // isolated
    const result = keepLargestComponent(labels, dims);
    expect(result).toEqual({ components: 3, kept: 3, dropped: 2 });
    expect([labels[at(0, 0, 0)], labels[at(1, 1, 1)], labels[at(2, 2, 2)]]).toEqual([1, 2, 1]);
    expect(labels[at(4, 4, 0)]).toBe(0);
    expect(labels[at(4, 0, 4)]).toBe(0);
  });
});

describe('preview', () => {
  it('draws three views side by side with the labels in colour', () => {
    const dims: [number, number, number] = [8, 6, 4];
    const volume: Volume = {
      dims,
      frames: 1,
      spacing: [1, 1, 1],
      affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
      datatype: 'float32',
      data: randomFloats(192, 1, 0, 100),
      description: '',
    };
    const labels = new Uint8Array(192);
    labels[3 + 8 * (2 + 6 * 1)] = 1;
    const png = decode(
      renderPreview(volume, labels, {
        colors: [
          [0, 0, 0],
          [255, 0, 0],
        ],
        opacity: 1,
      }),
    );
    expect([png.width, png.height]).toEqual([8 + 8 + 4, 6]);
    const pixels = png.data as Uint8Array;
    let red = 0;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i] === 255 && pixels[i + 1] === 0) red++;
    expect(red).toBe(3); // the labelled voxel shows once in each view
  });
});
