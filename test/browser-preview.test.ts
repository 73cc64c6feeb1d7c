/**
 * The slice renderer the demo page draws with: `previewImage` gives the pixels `renderPreview`
 * encodes as PNG, and its `centre` option moves the three slices (clamped to the grid).
 */
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import type { Volume } from '../ts/io/volume.js';
import { labelCentre, previewImage, renderPreview } from '../ts/pipeline/preview.js';
import { randomFloats } from './helpers/random.js';

const DIMS: [number, number, number] = [7, 5, 6];
const RED: [number, number, number] = [255, 0, 0];

function volume(): Volume {
  return {
    dims: DIMS,
    frames: 1,
    spacing: [1, 1, 1],
    affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
    datatype: 'float32',
    data: randomFloats(7 * 5 * 6, 3, 10, 100),
    description: '',
  };
}

/** Count the pure red pixels (labelled voxels at opacity 1). */
function redPixels(rgba: Uint8Array): number {
  let red = 0;
  for (let i = 0; i < rgba.length; i += 4) if (rgba[i] === 255 && rgba[i + 1] === 0) red++;
  return red;
}

describe('previewImage', () => {
  const anatomy = volume();
  const labels = new Uint8Array(7 * 5 * 6);
  const at = (x: number, y: number, z: number) => x + 7 * (y + 5 * z);
  labels[at(1, 1, 1)] = 1;
  labels[at(5, 3, 4)] = 1;
  const options = { colors: [RED, RED], opacity: 1 };

  it('gives the pixels renderPreview encodes', () => {
    const image = previewImage(anatomy, labels, options);
    const png = decode(renderPreview(anatomy, labels, options));
    expect([image.width, image.height]).toEqual([7 + 7 + 6, 6]);
    expect([png.width, png.height]).toEqual([image.width, image.height]);
    expect(Array.from(png.data as Uint8Array)).toEqual(Array.from(image.rgba));
  });

  it('draws the slices through the labels centre by default, through `centre` when given', () => {
    expect(labelCentre(labels, DIMS)).toEqual([3, 2, 3]);
    expect(redPixels(previewImage(anatomy, labels, options).rgba)).toBe(0);
    const first = previewImage(anatomy, labels, { ...options, centre: [1, 1, 1] });
    expect(redPixels(first.rgba)).toBe(3);
    const second = previewImage(anatomy, labels, { ...options, centre: [5, 3, 4] });
    expect(redPixels(second.rgba)).toBe(3);
  });

  it('clamps a centre outside the grid to its edge', () => {
    const inside = previewImage(anatomy, labels, { ...options, centre: [6, 4, 5] });
    const outside = previewImage(anatomy, labels, { ...options, centre: [60, -4, 50] });
    const edge = previewImage(anatomy, labels, { ...options, centre: [6, 0, 5] });
    expect(Array.from(outside.rgba)).toEqual(Array.from(edge.rgba));
    expect(Array.from(outside.rgba)).not.toEqual(Array.from(inside.rgba));
  });
});
