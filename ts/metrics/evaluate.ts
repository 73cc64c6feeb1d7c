/**
 * `evaluate`: per-label overlap and surface-distance metrics of a predicted label volume against
 * a reference, with every convention stated in the result. Runs in browsers and Node (no Node
 * built-ins). The confusion counts and the distance maps run on the chosen backend; surfaces,
 * the float64 refinement of each distance and the statistics run in TypeScript.
 */
import type { Backend, LabelCounts } from '../engine/backend.js';
import type { Tensor } from '../engine/tensor.js';
import { InputError, expected } from '../engine/errors.js';
import { countHostLabels } from './confusion.js';
import { selectBackend } from '../engine/registry.js';
import {
  describeConventions,
  type EvaluateOptions,
  type EvaluationConventions,
  type ResolvedOptions,
  resolveOptions,
} from './conventions.js';
import { type DistanceMetrics, type DistanceSettings, distanceMetrics } from './distance.js';
import {
  type InputNames,
  type LabelVolume,
  imageDiagonalMm,
  requireSameGrid,
  resampleNearest,
} from './geometry.js';
import { type DenseLabels, type LabelArray, denseLabels, requireIntegerLabels } from './labels.js';
import { type OverlapMetrics, overlapMetrics } from './overlap.js';
import { type LabelGridView, directedDistances, distanceBox, labelBoxes } from './surface.js';

/** Every metric of one label; distance fields are absent when distances are off. */
export interface LabelResult extends OverlapMetrics, Partial<DistanceMetrics> {
  /** The label value as stored in the files. */
  label: number;
  /** Its name, when label names were given. */
  name?: string;
}

/** The result of one evaluation. */
export interface Evaluation {
  /** How every number was computed; echo it with the numbers. */
  conventions: EvaluationConventions;
  /** One entry per reported label, ascending by value. */
  labels: LabelResult[];
  /** Backend that computed the confusion counts and the distance maps. */
  backend: string;
  /** Voxels compared (the grid minus ignored voxels). */
  comparedVoxels: number;
  /** Voxels left out because their reference label is the ignore label. */
  ignoredVoxels: number;
  /** Wall time of the two stages, in ms. */
  timing: { countMs: number; distanceMs: number };
}

/**
 * Evaluate a predicted label volume against a reference.
 *
 * Labels: every value present in either map is relabelled to a dense index (sorted ascending)
 * before counting, so sparse values up to any integer cost K entries, not max-label ones.
 *
 * @param pred - predicted labels: a `Volume` or `{ data, dims, spacing?, affine? }`.
 * @param ref - reference labels on the same grid (or any grid with `resample: 'nearest'`).
 * @param options - see {@link EvaluateOptions} for each option and its default.
 * @returns per-label metrics and the conventions used.
 * @throws InputError on differing grids, non-integer labels, 4D input or a bad option.
 * @example
 * const result = await evaluate(predVolume, refVolume, { ignoreLabel: 255 });
 * result.labels.find((l) => l.label === 1)?.dice;
 */
export async function evaluate(
  pred: LabelVolume,
  ref: LabelVolume,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const settings = resolveOptions(options);
  const names = options.names ?? { pred: 'pred', ref: 'ref' };
  const dense = denseLabels(alignedPrediction(pred, ref, settings, names), ref.data);
  const spacing = chooseSpacing(ref, settings);
  const ignore = settings.ignoreLabel === null ? -1 : (dense.indexOf(settings.ignoreLabel) ?? -1);

  const started = now();
  const backend = await resolveBackend(options.backend);
  const counts = await countLabels(backend, dense, ignore);
  const countMs = now() - started;

  const voxelMm3 = spacing.mm[0] * spacing.mm[1] * spacing.mm[2];
  const context = { dense, counts, voxelMm3, beta: settings.beta, names: options.labelNames };
  const labels = reportedLabels(dense, settings).map((label) => overlapResult(label, context));
  if (settings.distances) {
    const grid = { pred: dense.pred, ref: dense.ref, dims: ref.dims, spacing: spacing.mm, ignore };
    const distance = distanceSettings(settings, ref.dims, spacing.mm);
    await addDistances(backend, labels, grid, dense, distance);
  }

  return {
    conventions: describeConventions(settings, spacing),
    labels,
    backend: backend.name,
    comparedVoxels: counts.total,
    ignoredVoxels: ref.data.length - counts.total,
    timing: { countMs, distanceMs: now() - started - countMs },
  };
}

/** Check both inputs and return the prediction's labels on the reference grid. */
function alignedPrediction(
  pred: LabelVolume,
  ref: LabelVolume,
  settings: ResolvedOptions,
  names: InputNames,
): LabelArray {
  for (const [volume, name] of [
    [pred, names.pred],
    [ref, names.ref],
  ] as const) {
    requireLabelVolume(volume, name);
    requireIntegerLabels(volume.data, volume.dims, name);
  }
  if (settings.resample === 'nearest') return resampleNearest(pred, ref, names);
  requireSameGrid(pred, ref, names);
  return pred.data;
}

function requireLabelVolume(volume: LabelVolume, name: string): void {
  if ((volume.frames ?? 1) !== 1) {
    throw expected('a 3D label volume (1 frame)', 'frames', volume.frames, { file: name });
  }
  const voxels = volume.dims[0] * volume.dims[1] * volume.dims[2];
  if (volume.data.length !== voxels) {
    throw new InputError(
      `expected ${voxels} labels for dims ${volume.dims.join('x')}, received ${volume.data.length}`,
      { file: name, field: 'data', value: volume.data.length },
    );
  }
}

function chooseSpacing(
  ref: LabelVolume,
  settings: ResolvedOptions,
): { mm: [number, number, number]; source: 'header' | 'option' | 'default' } {
  if (settings.spacing) return { mm: settings.spacing, source: 'option' };
  if (ref.spacing)
    return { mm: [ref.spacing[0], ref.spacing[1], ref.spacing[2]], source: 'header' };
  return { mm: [1, 1, 1], source: 'default' };
}

async function resolveBackend(request: Backend | string | undefined): Promise<Backend> {
  if (request && typeof request !== 'string') return request;
  return (await selectBackend(request)).backend;
}

/** Confusion counts of the dense maps on the backend, streamed in slabs. */
async function countLabels(backend: Backend, dense: DenseLabels, ignore: number) {
  const numLabels = dense.values.length;
  return countHostLabels(
    backend,
    dense.pred,
    dense.ref,
    numLabels,
    ignore < 0 ? undefined : ignore,
  );
}

/** Label values to report, ascending: the requested ones, or all present minus background. */
function reportedLabels(dense: DenseLabels, settings: ResolvedOptions): number[] {
  const ignore = settings.ignoreLabel;
  if (settings.labels) {
    if (ignore !== null && settings.labels.includes(ignore)) {
      throw expected(`labels other than the ignore label ${ignore}`, 'labels', settings.labels);
    }
    return [...new Set(settings.labels)].sort((a, b) => a - b);
  }
  return dense.values.filter((v) => v !== ignore && (v !== 0 || settings.includeBackground));
}

/** What every label's overlap result draws on. */
interface OverlapContext {
  dense: DenseLabels;
  counts: LabelCounts;
  voxelMm3: number;
  beta: number;
  names?: Readonly<Record<number, string>>;
}

function overlapResult(label: number, context: OverlapContext): LabelResult {
  const { counts, dense } = context;
  const i = dense.indexOf(label);
  const [tp, fp, fn] = i === undefined ? [0, 0, 0] : [counts.tp[i], counts.fp[i], counts.fn[i]];
  const tn = counts.total - tp - fp - fn;
  const metrics = overlapMetrics({ tp, fp, fn, tn }, context.voxelMm3, context.beta);
  const name = context.names?.[label];
  return name === undefined ? { label, ...metrics } : { label, name, ...metrics };
}

function distanceSettings(
  settings: ResolvedOptions,
  dims: readonly [number, number, number],
  spacing: [number, number, number],
): DistanceSettings {
  return {
    percentile: settings.percentile,
    percentileRule: settings.percentileRule,
    nsdTolerance: settings.nsdTolerance,
    emptyDistance: settings.emptyDistance === 'inf' ? Infinity : imageDiagonalMm(dims, spacing),
  };
}

/** Fill each result's distance metrics, one label box (one backend call) at a time. */
async function addDistances(
  backend: Backend,
  results: LabelResult[],
  grid: LabelGridView,
  dense: DenseLabels,
  settings: DistanceSettings,
): Promise<void> {
  const boxes = labelBoxes(grid, dense.values.length);
  const none = { predToRef: new Float64Array(0), refToPred: new Float64Array(0) };
  for (const result of results) {
    const index = dense.indexOf(result.label);
    const box = index === undefined ? undefined : distanceBox(boxes.pred[index], boxes.ref[index]);
    const sets = box ? await directedDistances(backend, grid, index!, box) : none;
    Object.assign(result, distanceMetrics(sets, settings));
  }
}

function now(): number {
  return globalThis.performance?.now() ?? Date.now();
}
