/**
 * A PNG preview: three orthogonal slices (axial, coronal, sagittal) through the labels'
 * centre, side by side, grey-scale anatomy with the labels overlaid in colour.
 *
 * It draws in the conformed LIA grid (x to the left, y down, z to the front), which gives a
 * fixed radiological view: patient's right on the image's left, anterior/superior at the top.
 */
import { encode } from 'fast-png';
import type { Volume } from '../io/volume.js';
import type { Rgb } from '../model/model.js';
import { percentile } from './intensity.js';

export interface PreviewOptions {
  /** Colour of each label value; labels beyond the list get generated colours. */
  colors?: Rgb[];
  /** Overlay opacity in [0, 1], default 0.5. */
  opacity?: number;
}

/**
 * Render the preview as PNG bytes.
 *
 * @param volume - anatomy on the conformed grid (x, y, z), any numeric data.
 * @param labels - labels on the same grid.
 */
export function renderPreview(
  volume: Volume,
  labels: ArrayLike<number>,
  options: PreviewOptions = {},
): Uint8Array {
  const [nx, ny, nz] = volume.dims;
  const [cx, cy, cz] = labelCentre(labels, volume.dims);
  const grey = greyLevels(volume);
  const colours = (label: number) =>
    visibleColour(options.colors?.[label]) ?? generatedColour(label);
  const opacity = options.opacity ?? 0.5;

  // Each view maps an image pixel (column u, row v) to a voxel index.
  const views = [
    { width: nx, height: nz, voxel: (u: number, v: number) => u + nx * (cy + ny * (nz - 1 - v)) },
    { width: nx, height: ny, voxel: (u: number, v: number) => u + nx * (v + ny * cz) },
    { width: nz, height: ny, voxel: (u: number, v: number) => cx + nx * (v + ny * (nz - 1 - u)) },
  ];
  const width = views.reduce((sum, view) => sum + view.width, 0);
  const height = Math.max(...views.map((view) => view.height));
  const rgba = new Uint8Array(width * height * 4);

  let left = 0;
  for (const view of views) {
    for (let v = 0; v < view.height; v++) {
      for (let u = 0; u < view.width; u++) {
        const index = view.voxel(u, v);
        const pixel = 4 * (v * width + left + u);
        const base = grey(index);
        const label = labels[index];
        const colour: Rgb = label > 0 ? colours(label) : [base, base, base];
        const mix = label > 0 ? opacity : 0;
        for (let c = 0; c < 3; c++)
          rgba[pixel + c] = Math.round(base * (1 - mix) + colour[c] * mix);
        rgba[pixel + 3] = 255;
      }
    }
    left += view.width;
  }
  return encode({ width, height, data: rgba, channels: 4, depth: 8 });
}

/** Map voxel values to 0..255 between the 1st and 99th percentiles. */
function greyLevels(volume: Volume): (index: number) => number {
  const low = percentile(volume.data, 1);
  const high = percentile(volume.data, 99);
  const scale = high > low ? 255 / (high - low) : 0;
  return (index) => Math.max(0, Math.min(255, (volume.data[index] - low) * scale));
}

/** Integer centre of the labelled voxels, or the grid centre when there are none. */
function labelCentre(labels: ArrayLike<number>, dims: readonly number[]): number[] {
  const [nx, ny, nz] = dims;
  const sum = [0, 0, 0];
  let count = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 0) continue;
    sum[0] += i % nx;
    sum[1] += Math.floor(i / nx) % ny;
    sum[2] += Math.floor(i / (nx * ny));
    count++;
  }
  if (count === 0) return [nx >> 1, ny >> 1, nz >> 1];
  return sum.map((s) => Math.round(s / count));
}

/** The colour, unless it is missing or a grey that would vanish on the grey anatomy. */
function visibleColour(colour: Rgb | undefined): Rgb | undefined {
  if (!colour) return undefined;
  return Math.max(...colour) - Math.min(...colour) < 48 ? undefined : colour;
}

/** A distinct colour per label value from the golden-angle hue sequence. */
function generatedColour(label: number): Rgb {
  const hue = (label * 137.508) % 360;
  const f = (n: number) => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (0.5 - 0.5 * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}
