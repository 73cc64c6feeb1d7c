/**
 * Benchmark results: the record every suite fills (machine, versions, threads, limits, rows of
 * repeated timings), the markdown tables printed from it, and the files under bench/results/
 * (JSON and markdown, git-ignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineLimits } from '../machine.js';
import type { Sample } from './stats.js';

/** One measured (or skipped) engine on one case. */
export interface ResultRow {
  /** Suite-specific case id, e.g. `30->30 k3 d4 @ 64^3`. */
  case: string;
  /** Case group for the tables: `brainchop 64^3`, `unet`, `dice 256^3 uint8` ... */
  group: string;
  engine: string;
  threads: number;
  /** Unit of `rate`: GFLOP/s, GB/s, or voxels/s. */
  unit: string;
  /** Work per call in the unit's numerator (GFLOP, GB, voxels) x 1e9. */
  work: number;
  sample?: Sample;
  /** Work per median wall second, in the unit. */
  rate?: number;
  /** Work per median CPU second (all threads), in the unit. */
  cpuRate?: number;
  /** The limit the rate is a share of (FMA peak or bandwidth, times threads), in the unit. */
  limit?: number;
  /** Largest difference from voxseg's result (relative), or the label agreement. */
  agreement?: string;
  /** Extra numbers an engine reports (voxseg's kernel-only rate, stage timings ...). */
  extra?: Record<string, number | string>;
  /** Why the engine did not run this case. */
  skipped?: string;
}

/** Load average samples while a suite ran (1-minute averages from os.loadavg). */
export interface LoadReport {
  before: number;
  after: number;
  mean: number;
  max: number;
  samples: number;
}

/** The whole record of one suite run. */
export interface SuiteReport {
  suite: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: { cpu: string; threads: number; node: string };
  versions: Record<string, string>;
  threads: number[];
  limits?: MachineLimits;
  load: LoadReport;
  rows: ResultRow[];
  notes: string[];
}

/** Median and spread of a row, e.g. `41.2 ±3%`, or the skip reason shortened. */
export function formatRate(row: ResultRow | undefined, digits = 1): string {
  if (!row) return '';
  if (row.skipped) return `skipped`;
  if (row.rate === undefined || !row.sample) return 'n/a';
  return `${row.rate.toFixed(digits)} ±${row.sample.spreadPct.toFixed(0)}%`;
}

/** voxseg's rate over a peer's, e.g. `2.14x`; empty when either is missing. */
export function formatRatio(ours: ResultRow | undefined, peer: ResultRow | undefined): string {
  if (!ours?.rate || !peer?.rate) return '';
  return `${(ours.rate / peer.rate).toFixed(2)}x`;
}

/** A share of a limit in percent, e.g. `23%`. */
export function formatPercent(value: number | undefined, limit: number | undefined): string {
  if (!value || !limit) return '';
  return `${((100 * value) / limit).toFixed(0)}%`;
}

/**
 * A markdown table. Cells are escaped for `|`; columns after the first are right-aligned.
 *
 * @example
 * markdownTable(['case', 'GFLOP/s'], [['5->5', '20.1']]);
 */
export function markdownTable(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const align = headers.map((_, i) => (i === 0 ? '---' : '---:'));
  const lines = [headers, align, ...rows].map((cells) => `| ${cells.map(escape).join(' | ')} |`);
  return lines.join('\n');
}

/** An extra column of voxseg's rows: its header and its cell. */
export interface ExtraColumn {
  header: string;
  cell: (ours: ResultRow | undefined) => string;
}

/** voxseg's `extra[key]` as a rate with one decimal (the kernel alone, the count alone). */
export function extraRate(header: string, key: string): ExtraColumn {
  return {
    header,
    cell: (ours) =>
      typeof ours?.extra?.[key] === 'number' ? (ours.extra[key] as number).toFixed(1) : '',
  };
}

/**
 * The comparison table of one group at one thread count: a line per case with each engine's
 * rate (and any extra columns of voxseg's), voxseg's share of the limit, and voxseg's ratio to
 * each peer.
 */
export function comparisonTable(
  rows: readonly ResultRow[],
  engines: readonly string[],
  extras: readonly ExtraColumn[] = [],
): string {
  const [ours, ...peers] = engines;
  const unit = rows[0]?.unit ?? '';
  const headers = [
    'case',
    `${ours} ${unit}`,
    ...extras.map((x) => x.header),
    ...peers.map((e) => `${e} ${unit}`),
    `${ours} of limit`,
    ...peers.map((p) => `vs ${p}`),
  ];
  const cases = [...new Set(rows.map((r) => r.case))];
  const body = cases.map((id) => {
    const byEngine = (e: string) => rows.find((r) => r.case === id && r.engine === e);
    const mine = byEngine(ours);
    return [
      id,
      formatRate(mine),
      ...extras.map((x) => x.cell(mine)),
      ...peers.map((e) => formatRate(byEngine(e))),
      formatPercent(mine?.rate, mine?.limit),
      ...peers.map((p) => formatRatio(mine, byEngine(p))),
    ];
  });
  return markdownTable(headers, body);
}

/** The smallest and the median of voxseg's ratio to `peer` over the rows that have both. */
export function ratioSummary(rows: readonly ResultRow[], ours: string, peer: string) {
  const ratios: number[] = [];
  for (const mine of rows.filter((r) => r.engine === ours && r.rate)) {
    const other = rows.find((r) => r.case === mine.case && r.engine === peer && r.rate);
    if (other) ratios.push(mine.rate! / other.rate!);
  }
  if (!ratios.length) return null;
  const sorted = [...ratios].sort((a, b) => a - b);
  return { count: ratios.length, min: sorted[0], median: sorted[Math.floor(sorted.length / 2)] };
}

/** Skipped rows as a list: `engine on case: reason`, one line each, repeats collapsed. */
export function skippedList(rows: readonly ResultRow[]): string[] {
  const reasons = new Map<string, string[]>();
  for (const row of rows.filter((r) => r.skipped)) {
    const threads = `${row.threads} thread${row.threads > 1 ? 's' : ''}`;
    const key = `${row.engine} (${threads}): ${row.skipped}`;
    reasons.set(key, [...(reasons.get(key) ?? []), row.case]);
  }
  return [...reasons].map(
    ([key, cases]) =>
      `${key} [${cases.length} case(s): ${cases[0]}${cases.length > 1 ? ', ...' : ''}]`,
  );
}

/** A file-name-safe timestamp, e.g. 2025-01-31T12-00-00-000Z. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/**
 * Write a report as JSON and its markdown under `dir`, named after the suite and the time.
 *
 * @returns the two paths.
 */
export function writeReport(dir: string, name: string, report: unknown, markdown: string) {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${name}-${timestamp()}`);
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2));
  writeFileSync(`${base}.md`, `${markdown}\n`);
  return { json: `${base}.json`, markdown: `${base}.md` };
}
