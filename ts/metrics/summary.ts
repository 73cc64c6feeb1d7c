/**
 * Cohort summaries: per label and over all foreground labels, the mean, median and standard
 * deviation of every metric across cases, NaN values set aside and counted.
 */
import type { LabelResult } from './evaluate.js';
import { type SampleSummary, summarizeSample } from './stats.js';

/** Numeric fields of a {@link LabelResult}, in output order. */
export const METRIC_KEYS = [
  'tp',
  'fp',
  'fn',
  'tn',
  'dice',
  'iou',
  'sensitivity',
  'specificity',
  'precision',
  'fBeta',
  'accuracy',
  'balancedAccuracy',
  'mcc',
  'kappa',
  'volumeSimilarity',
  'volumeDifferenceMl',
  'relativeVolumeDifference',
  'refVoxels',
  'predVoxels',
  'refVolumeMl',
  'predVolumeMl',
  'hd',
  'hdPercentile',
  'assd',
  'masd',
  'nsd',
  'predSurfaceVoxels',
  'refSurfaceVoxels',
] as const;

/** Name of one numeric field of a label result. */
export type MetricKey = (typeof METRIC_KEYS)[number];

/** Summary of every metric over a set of label results. */
export type MetricSummaries = Partial<Record<MetricKey, SampleSummary>>;

/** Per-label and foreground summaries of a cohort. */
export interface CohortSummary {
  /** One entry per label value seen in any case, ascending. */
  labels: { label: number; name?: string; metrics: MetricSummaries }[];
  /** Every case's every label except background (0), pooled. */
  foreground: MetricSummaries;
}

/**
 * Summarise label results across cases.
 *
 * @param cases - each case's label results (as returned by evaluate).
 * @returns per-label and foreground summaries; a metric absent from every result (distances
 *   when they were off) is absent from the summary.
 * @example
 * summarizeCases([a.labels, b.labels]).labels[0].metrics.dice?.mean;
 */
export function summarizeCases(cases: readonly (readonly LabelResult[])[]): CohortSummary {
  const byLabel = new Map<number, LabelResult[]>();
  for (const results of cases) {
    for (const result of results) {
      const list = byLabel.get(result.label) ?? [];
      list.push(result);
      byLabel.set(result.label, list);
    }
  }

  const labels = [...byLabel.keys()]
    .sort((a, b) => a - b)
    .map((label) => {
      const results = byLabel.get(label)!;
      return { label, name: results.find((r) => r.name)?.name, metrics: summarize(results) };
    });
  const foreground = summarize(cases.flat().filter((r) => r.label !== 0));
  return { labels, foreground };
}

function summarize(results: readonly LabelResult[]): MetricSummaries {
  const out: MetricSummaries = {};
  for (const key of METRIC_KEYS) {
    const values = results.map((r) => r[key]).filter((v): v is number => v !== undefined);
    if (values.length) out[key] = summarizeSample(values);
  }
  return out;
}
