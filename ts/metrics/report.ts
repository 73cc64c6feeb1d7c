/**
 * Evaluation reports over one or many cases, rendered as JSON, CSV or a text table.
 *
 * Non-finite numbers: JSON writes NaN as null and infinite values as the strings "Infinity" /
 * "-Infinity"; CSV and the table write NaN, Infinity and -Infinity as words.
 * The percentile Hausdorff distance is named after its percentile: `hd95` by default.
 */
import { InputError, expected } from '../engine/errors.js';
import type { EvaluationConventions } from './conventions.js';
import type { Evaluation, LabelResult } from './evaluate.js';
import type { SampleSummary } from './stats.js';
import { type CohortSummary, METRIC_KEYS, type MetricKey, summarizeCases } from './summary.js';

/** One evaluated case. */
export interface CaseReport {
  /** Case name (file name without its extension). */
  name: string;
  pred: string;
  ref: string;
  /** Voxel size (x, y, z) in mm used for this case. */
  spacingMm: [number, number, number];
  comparedVoxels: number;
  ignoredVoxels: number;
  labels: LabelResult[];
}

/** Every case of a run, the summary, and the conventions stated once. */
export interface EvaluationReport {
  /** Conventions shared by every case (spacing is per case). */
  conventions: Omit<EvaluationConventions, 'spacingMm'> & {
    /** Relabelling applied to each prediction before scoring ("1->2, 2->1"), when any. */
    predLabelMap?: string;
  };
  backend: string;
  cases: CaseReport[];
  summary: CohortSummary;
  /** Files without a partner in the other folder, and cases that failed (folder mode). */
  problems: RunProblems;
  /** "I/N" when this report covers share I of N of the cases (`--part`). */
  part?: string;
}

/** What a folder run could not evaluate. */
export interface RunProblems {
  /** Files with no file of the same case name in the other folder. */
  unmatched: { pred: string[]; ref: string[] };
  /** Cases that could not be read or evaluated, with the error message. */
  failed: { name: string; error: string }[];
}

/** A case to put in a report: its evaluation and where it came from. */
export interface EvaluatedCase {
  name: string;
  pred: string;
  ref: string;
  evaluation: Evaluation;
}

/**
 * Assemble a report from evaluated cases (at least one).
 *
 * @param cases - evaluations, in the order to report them.
 * @param problems - files left without a partner and failed cases, listed in the report.
 */
export function buildReport(
  cases: readonly EvaluatedCase[],
  problems: RunProblems = { unmatched: { pred: [], ref: [] }, failed: [] },
): EvaluationReport {
  const { spacingMm: _spacing, ...conventions } = cases[0].evaluation.conventions;
  return {
    conventions,
    backend: cases[0].evaluation.backend,
    cases: cases.map(({ name, pred, ref, evaluation }) => ({
      name,
      pred,
      ref,
      spacingMm: evaluation.conventions.spacingMm,
      comparedVoxels: evaluation.comparedVoxels,
      ignoredVoxels: evaluation.ignoredVoxels,
      labels: evaluation.labels,
    })),
    summary: summarizeCases(cases.map((c) => c.evaluation.labels)),
    problems,
  };
}

/** The output name of a metric: `hdPercentile` is named after its percentile (`hd95`). */
export function metricName(key: MetricKey, percentile: number): string {
  return key === 'hdPercentile' ? `hd${String(percentile).replace('.', '_')}` : key;
}

/**
 * The report as JSON: conventions first, then per case an object per label value, then the
 * summary per label and over the foreground.
 *
 * @example
 * JSON.parse(reportToJson(report)).cases[0].labels['1'].dice;
 */
export function reportToJson(report: EvaluationReport): string {
  const p = report.conventions.percentile;
  const document = {
    conventions: report.conventions,
    backend: report.backend,
    cases: report.cases.map((c) => ({ ...c, labels: labelsByValue(c.labels, p) })),
    summary: {
      labels: Object.fromEntries(
        report.summary.labels.map((s) => [s.label, { name: s.name, ...renameKeys(s.metrics, p) }]),
      ),
      foreground: renameKeys(report.summary.foreground, p),
    },
    problems: report.problems,
    ...(report.part ? { part: report.part } : {}),
  };
  return `${JSON.stringify(document, jsonNumber, 2)}\n`;
}

/**
 * Read back a report written by `reportToJson` (null as NaN, "Infinity" as Infinity), the
 * summary recomputed from its cases.
 *
 * @param text - the JSON text.
 * @param file - named in errors.
 * @throws InputError when the text is not such a report.
 */
export function reportFromJson(text: string, file: string): EvaluationReport {
  let document: JsonReport;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InputError(`not JSON: ${(error as Error).message}`, { file });
  }
  if (!document || typeof document.conventions !== 'object' || !Array.isArray(document.cases)) {
    throw expected('a voxseg eval JSON report (conventions, cases)', 'top level', typeof document, {
      file,
      hint: "write one with 'voxseg eval --json'",
    });
  }
  const percentileKey = metricName('hdPercentile', document.conventions.percentile);
  const cases = document.cases.map((c) => ({
    ...c,
    labels: Object.entries(c.labels).map(([label, metrics]) =>
      labelFromJson(Number(label), metrics, percentileKey),
    ),
  }));
  return {
    conventions: document.conventions,
    backend: document.backend,
    cases,
    summary: summarizeCases(cases.map((c) => c.labels)),
    problems: document.problems ?? { unmatched: { pred: [], ref: [] }, failed: [] },
    part: document.part,
  };
}

/**
 * Combine the reports of the parts of one run (`voxseg eval --part I/N`) into the report a
 * single run over all cases gives: cases in name order, the summary over all of them.
 *
 * @param reports - one report per part, with the files they came from.
 * @throws InputError naming the files when conventions differ, a part is missing or given
 *   twice, or a case appears in two parts.
 */
export function mergeReports(reports: readonly { file: string; report: EvaluationReport }[]) {
  const [first] = reports;
  const conventions = JSON.stringify(first.report.conventions);
  const partCount = Number(first.report.part?.split('/')[1] ?? 1);
  const seenParts = new Map<string, string>();
  const caseFiles = new Map<string, string>();
  for (const { file, report } of reports) {
    if (JSON.stringify(report.conventions) !== conventions) {
      throw new InputError(
        `conventions differ from those of ${first.file}: ${JSON.stringify(report.conventions)}`,
        { file, field: 'conventions', hint: 'merge only the parts of one run' },
      );
    }
    const part = report.part ?? '1/1';
    if (Number(part.split('/')[1]) !== partCount || seenParts.has(part)) {
      const other = seenParts.get(part);
      throw expected(
        `a distinct part of ${partCount}`,
        'part',
        part,
        other ? { file, hint: `${other} is the same part` } : { file },
      );
    }
    seenParts.set(part, file);
    for (const c of report.cases) {
      if (caseFiles.has(c.name)) {
        throw new InputError(`case '${c.name}' is also in ${caseFiles.get(c.name)}`, { file });
      }
      caseFiles.set(c.name, file);
    }
  }
  const missing = Array.from({ length: partCount }, (_, i) => `${i + 1}/${partCount}`).filter(
    (part) => !seenParts.has(part),
  );
  if (missing.length) {
    throw new InputError(`parts missing: ${missing.join(', ')} (of ${reports.length} given)`, {
      field: 'part',
    });
  }
  const cases = reports.flatMap(({ report }) => report.cases);
  cases.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const backends = [...new Set(reports.map(({ report }) => report.backend))];
  const merged: EvaluationReport = {
    conventions: first.report.conventions,
    backend: backends.join(', '),
    cases,
    summary: summarizeCases(cases.map((c) => c.labels)),
    problems: {
      unmatched: {
        pred: reports.flatMap(({ report }) => report.problems.unmatched.pred).sort(),
        ref: reports.flatMap(({ report }) => report.problems.unmatched.ref).sort(),
      },
      failed: reports.flatMap(({ report }) => report.problems.failed),
    },
  };
  merged.problems.failed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return merged;
}

/** The shape `reportToJson` writes. */
interface JsonReport {
  conventions: EvaluationReport['conventions'];
  backend: string;
  cases: (Omit<CaseReport, 'labels'> & { labels: Record<string, Record<string, unknown>> })[];
  problems?: RunProblems;
  part?: string;
}

function labelFromJson(
  label: number,
  metrics: Record<string, unknown>,
  percentileKey: string,
): LabelResult {
  const result: Record<string, unknown> = { label };
  for (const [key, value] of Object.entries(metrics)) {
    const name = key === percentileKey ? 'hdPercentile' : key;
    if (name === 'name') result.name = value;
    else if (value === null) result[name] = NaN;
    else if (value === 'Infinity' || value === '-Infinity') result[name] = Number(value);
    else result[name] = value;
  }
  return result as unknown as LabelResult;
}

function labelsByValue(labels: readonly LabelResult[], percentile: number) {
  return Object.fromEntries(
    labels.map(({ label, ...rest }) => [label, renameKeys(rest, percentile)]),
  );
}

function renameKeys<T>(record: Partial<Record<string, T>>, percentile: number): Record<string, T> {
  return Object.fromEntries(
    Object.entries(record).map(([key, value]) => [
      (METRIC_KEYS as readonly string[]).includes(key)
        ? metricName(key as MetricKey, percentile)
        : key,
      value as T,
    ]),
  );
}

function jsonNumber(_key: string, value: unknown): unknown {
  if (typeof value !== 'number' || Number.isFinite(value)) return value;
  if (Number.isNaN(value)) return null;
  return value > 0 ? 'Infinity' : '-Infinity';
}

/**
 * The report as CSV: `#`-prefixed convention lines, a header, one row per case and label, then
 * summary rows whose case column is `(mean)`, `(median)`, `(std)`, `(n)` or `(nan)` and whose
 * label column is a value or `foreground`.
 */
export function reportToCsv(report: EvaluationReport): string {
  const keys = presentKeys(report);
  const p = report.conventions.percentile;
  const lines = conventionLines(report).map((line) => `# ${line}`);
  lines.push(['case', 'label', 'name', ...keys.map((k) => metricName(k, p))].join(','));

  for (const c of report.cases) {
    for (const r of c.labels) {
      lines.push(
        [
          csvField(c.name),
          r.label,
          csvField(r.name ?? ''),
          ...keys.map((k) => csvNumber(r[k])),
        ].join(','),
      );
    }
  }
  for (const stat of ['mean', 'median', 'std', 'n', 'nan'] as const) {
    for (const s of summaryRows(report.summary)) {
      const values = keys.map((k) => csvNumber(s.metrics[k]?.[stat]));
      lines.push([`(${stat})`, s.label, csvField(s.name ?? ''), ...values].join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}

function summaryRows(summary: CohortSummary) {
  return [
    ...summary.labels,
    { label: 'foreground' as const, name: '', metrics: summary.foreground },
  ];
}

function presentKeys(report: EvaluationReport): MetricKey[] {
  const first = report.cases.flatMap((c) => c.labels)[0];
  return METRIC_KEYS.filter((key) => !first || first[key] !== undefined);
}

function csvNumber(value: number | undefined): string {
  if (value === undefined) return '';
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  return String(value);
}

function csvField(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The conventions as `key: value` lines, the same for every output format. */
export function conventionLines(report: EvaluationReport): string[] {
  return Object.entries(report.conventions).map(([key, value]) => `${key}: ${value ?? 'none'}`);
}

const TABLE_COLUMNS: readonly MetricKey[] = [
  'dice',
  'iou',
  'hd',
  'hdPercentile',
  'assd',
  'nsd',
  'sensitivity',
  'precision',
  'refVolumeMl',
  'predVolumeMl',
];

/**
 * The report as a text table for a terminal: conventions, one row per case and label with the
 * main metrics (JSON and CSV carry all of them), then the per-label summary (mean±std).
 */
export function reportToTable(report: EvaluationReport): string {
  const p = report.conventions.percentile;
  const present = presentKeys(report);
  const columns = TABLE_COLUMNS.filter((k) => present.includes(k));
  const names = columns.map((k) => metricName(k, p));

  const rows = report.cases.flatMap((c) =>
    c.labels.map((r) => [
      c.name,
      `${r.label}`,
      r.name ?? '',
      ...columns.map((k) => formatNumber(r[k])),
    ]),
  );
  const summary = summaryRows(report.summary).map((s) => [
    `${s.label}`,
    s.name ?? '',
    `${s.metrics.dice?.n ?? 0}`,
    ...columns.map((k) => formatMeanStd(s.metrics[k])),
  ]);

  const title = `summary over ${report.cases.length} case(s), mean±std; n: cases with a Dice`;
  return [
    conventionLines(report)
      .map((line) => `# ${line}\n`)
      .join(''),
    alignColumns(withoutEmptyColumn([['case', 'label', 'name', ...names], ...rows], 2)),
    `${title}\n${alignColumns(withoutEmptyColumn([['label', 'name', 'n', ...names], ...summary], 1))}\n`,
  ].join('\n');
}

function formatNumber(value: number | undefined): string {
  if (value === undefined) return '';
  if (!Number.isFinite(value)) return String(value);
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

function formatMeanStd(summary: SampleSummary | undefined): string {
  return summary ? `${formatNumber(summary.mean)}±${formatNumber(summary.std)}` : '';
}

/** The rows without column `index` when no row below the header fills it (names not given). */
function withoutEmptyColumn(rows: string[][], index: number): string[][] {
  if (rows.slice(1).some((row) => row[index])) return rows;
  return rows.map((row) => row.filter((_, i) => i !== index));
}

function alignColumns(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
