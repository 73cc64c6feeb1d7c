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
  /**
   * Voxel (x, y, z) the three slices pass through, each clamped to the grid; default the
   * centre of the labelled voxels (see {@link labelCentre}).
   */
  centre?: readonly [number, number, number];
}

/** An 8-bit RGBA image, rows top to bottom; the unused corner of a view is transparent. */
export interface PreviewImage {
  width: number;
  height: number;
  /** (height, width, 4) bytes: red, green, blue, alpha. */
  rgba: Uint8Array;
}

/** One view of the preview: its size and the voxel index at each pixel (column u, row v). */
interface View {
  width: number;
  height: number;
  voxel: (u: number, v: number) => number;
}

/**
 * Render the preview as PNG bytes.
 *
 * @param volume - anatomy on the conformed grid (x, y, z), any numeric data.
 * @param labels - labels on the same grid.
 * @param options - label colours, overlay opacity and slice position.
 * @returns the PNG file's bytes (see {@link previewImage} for the layout).
 * @example
 * const png = renderPreview(result.conformed.volume, result.conformed.labels, { colors });
 */
export function renderPreview(
  volume: Volume,
  labels: ArrayLike<number>,
  options: PreviewOptions = {},
): Uint8Array {
  const { width, height, rgba } = previewImage(volume, labels, options);
  return encode({ width, height, data: rgba, channels: 4, depth: 8 });
}

/**
 * Render the preview as RGBA pixels (for a canvas): the axial, coronal and sagittal slices
 * through `options.centre`, left to right, grey-scale anatomy between its 1st and 99th
 * percentiles with the non-zero labels blended in at `options.opacity`.
 *
 * @param volume - anatomy on the conformed grid (x, y, z), any numeric data.
 * @param labels - labels on the same grid, x fastest.
 * @param options - label colours, overlay opacity and slice position.
 * @returns width nx + nx + nz, height max(nz, ny).
 * @example
 * const { width, height, rgba } = previewImage(volume, labels, { centre: [128, 128, 128] });
 * context.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer), width, height), 0, 0);
 */
export function previewImage(
  volume: Volume,
  labels: ArrayLike<number>,
  options: PreviewOptions = {},
): PreviewImage {
  const views = previewViews(volume.dims, options.centre ?? labelCentre(labels, volume.dims));
  const width = views.reduce((sum, view) => sum + view.width, 0);
  const height = Math.max(...views.map((view) => view.height));
  const image = { width, height, rgba: new Uint8Array(width * height * 4) };

  const shade = overlay(greyLevels(volume), labels, options);
  let left = 0;
  for (const view of views) {
    drawView(image, left, view, shade);
    left += view.width;
  }
  return image;
}

/** The three views through voxel `centre` (clamped to the grid), in the fixed LIA layout. */
function previewViews(dims: readonly number[], centre: readonly number[]): View[] {
  const [nx, ny, nz] = dims;
  const [cx, cy, cz] = centre.map((c, axis) =>
    Math.max(0, Math.min(dims[axis] - 1, Math.round(c))),
  );
  return [
    { width: nx, height: nz, voxel: (u, v) => u + nx * (cy + ny * (nz - 1 - v)) },
    { width: nx, height: ny, voxel: (u, v) => u + nx * (v + ny * cz) },
    { width: nz, height: ny, voxel: (u, v) => cx + nx * (v + ny * (nz - 1 - u)) },
  ];
}

/** The colour of one voxel: grey anatomy with its label, if any, blended in. */
function overlay(
  grey: (index: number) => number,
  labels: ArrayLike<number>,
  options: PreviewOptions,
): (index: number, out: Uint8Array, pixel: number) => void {
  const colours = (label: number) =>
    visibleColour(options.colors?.[label]) ?? generatedColour(label);
  const opacity = options.opacity ?? 0.5;
  return (index, out, pixel) => {
    const base = grey(index);
    const label = labels[index];
    const colour: Rgb = label > 0 ? colours(label) : [base, base, base];
    const mix = label > 0 ? opacity : 0;
    for (let c = 0; c < 3; c++) out[pixel + c] = Math.round(base * (1 - mix) + colour[c] * mix);
    out[pixel + 3] = 255;
  };
}

/** Draw one view into the image with its left edge at column `left`. */
function drawView(
  image: PreviewImage,
  left: number,
  view: View,
  shade: ReturnType<typeof overlay>,
): void {
  for (let v = 0; v < view.height; v++) {
    for (let u = 0; u < view.width; u++) {
      shade(view.voxel(u, v), image.rgba, 4 * (v * image.width + left + u));
    }
  }
}

/** Map voxel values to 0..255 between the 1st and 99th percentiles. */
function greyLevels(volume: Volume): (index: number) => number {
  const low = percentile(volume.data, 1);
  const high = percentile(volume.data, 99);
  const scale = high > low ? 255 / (high - low) : 0;
  return (index) => Math.max(0, Math.min(255, (volume.data[index] - low) * scale));
}

/**
 * Integer centre of the labelled (non-zero) voxels, or the grid centre when there are none:
 * where the preview's slices cross by default.
 *
 * @param labels - labels on a grid of `dims`, x fastest.
 * @param dims - the grid's voxel counts (x, y, z).
 * @returns the voxel (x, y, z).
 * @example
 * const [x, y, z] = labelCentre(result.conformed.labels, [256, 256, 256]);
 */
export function labelCentre(labels: ArrayLike<number>, dims: readonly number[]): number[] {
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
