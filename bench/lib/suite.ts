/**
 * What every benchmark suite shares: its options (parsed the same way whether a suite runs
 * alone, `npx tsx bench/<suite>.ts`, or through bench/run.ts and `voxseg bench`), the machine
 * limits measured once per run, the load average sampled while it runs, and the report files.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, type MachineLimits, measureLimits, REPO_ROOT } from '../machine.js';
import { sampleLoad } from './child.js';
import { type ResultRow, type SuiteReport, writeReport } from './report.js';

/** Options every suite understands. */
export interface SuiteOptions {
  /** A short smoke run (small sizes, few repetitions) that CI can afford. */
  quick: boolean;
  /** Thread counts to compare engines at; default 1 and every hardware thread. */
  threads: number[];
  /** Only cases whose id matches. */
  filter?: RegExp;
  /** Only these engines (voxseg-wasm always runs: the ratios need it). */
  engines?: string[];
  /** Suite-specific size selections (conv3d: 64, 128, crop, unet). */
  sizes?: string[];
  /** Longest an engine may spend on one case (warm-up plus the minimum runs), estimated. */
  capSeconds: number;
  /** Measure the machine's limits (FMA peak, bandwidth); off for quick smoke runs. */
  limits: boolean;
  /** Run the relaxed-SIMD build of voxseg as an extra engine (conv3d). */
  relaxed: boolean;
  /** Where results go (bench/results). */
  outDir: string;
  /** The shared data directory (../shared/data from the repository root). */
  dataDir: string;
}

/** What a suite returns: its rows, markdown, versions of what ran, and notes. */
export interface SuiteOutput {
  rows: ResultRow[];
  markdown: string;
  versions: Record<string, string>;
  notes: string[];
  threads: number[];
}

/** A benchmark suite. */
export interface Suite {
  name: string;
  title: string;
  run(options: SuiteOptions, limits?: MachineLimits): Promise<SuiteOutput>;
}

/** Default location of the shared data, relative to the repository root. */
export const DATA_DIR = join(REPO_ROOT, '..', 'shared', 'data');

/** The options every suite understands, as --help prints them. */
export const USAGE = `options:
  --quick            short smoke run (small sizes, 2 runs per case, no limit probes)
  --threads <list>   thread counts to compare at (default: 1,<hardware threads>)
  --filter <regex>   only cases whose id matches
  --engines <list>   only these peers (voxseg-wasm always runs)
  --sizes <list>     conv3d sizes: 64,128,crop,unet (default all; quick: 32)
  --cap <seconds>    skip an engine on a case estimated to take longer (default 15; quick 3)
  --relaxed          also run voxseg's relaxed-SIMD build (fused multiply-add)
  --no-limits        skip the FMA-peak and bandwidth probes
  --out <dir>        results directory (default bench/results)`;

/**
 * Parse suite options from command-line arguments; positionals (suite names for bench/run.ts)
 * come back separately.
 *
 * @throws Error naming the option and the bad value.
 */
export function parseSuiteArgs(argv: string[]): { options: SuiteOptions; positionals: string[] } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      threads: { type: 'string' },
      filter: { type: 'string' },
      engines: { type: 'string' },
      sizes: { type: 'string' },
      cap: { type: 'string' },
      relaxed: { type: 'boolean', default: false },
      'no-limits': { type: 'boolean', default: false },
      out: { type: 'string' },
      data: { type: 'string' },
    },
  });
  const list = (text?: string) =>
    text
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const options: SuiteOptions = {
    quick: values.quick!,
    threads: parseThreads(values.threads),
    filter: values.filter ? new RegExp(values.filter) : undefined,
    engines: list(values.engines),
    sizes: list(values.sizes),
    capSeconds: parsePositive(values.cap, '--cap') ?? (values.quick ? 3 : 15),
    limits: !values['no-limits'] && !values.quick,
    relaxed: values.relaxed!,
    outDir: values.out ?? join(REPO_ROOT, 'bench', 'results'),
    dataDir: values.data ?? DATA_DIR,
  };
  return { options, positionals };
}

function parseThreads(text?: string): number[] {
  if (!text) return [...new Set([1, availableParallelism()])];
  const counts = text.split(',').map((s) => Number(s.trim()));
  if (!counts.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new Error(`expected positive integers for --threads, received '${text}'`);
  }
  return [...new Set(counts)];
}

function parsePositive(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value > 0)) throw new Error(`expected a positive number for ${name}, received '${text}'`);
  return value;
}

/** Whether the shared data directory holds `path`. */
export function hasData(options: SuiteOptions, path: string): boolean {
  return existsSync(join(options.dataDir, path));
}

/**
 * Run suites one after another: the machine limits first (unless turned off), the load average
 * sampled throughout; print each suite's markdown and write one report (JSON and markdown).
 *
 * @returns the report and where it was written.
 */
export async function runSuites(suites: readonly Suite[], options: SuiteOptions, command: string) {
  const startedAt = new Date().toISOString();
  const load = sampleLoad();
  const machine = describeMachine();
  console.log(`${machine.cpu}, ${machine.threads} hardware threads, Node ${machine.node}`);
  const limits = options.limits ? await measureLimits(REPO_ROOT, machine.threads) : undefined;
  if (limits) console.log(limitsMarkdown(limits));

  const outputs: Array<{ suite: Suite; output: SuiteOutput }> = [];
  for (const suite of suites) {
    console.log(`\n## ${suite.title}\n`);
    const output = await suite.run(options, limits);
    console.log(output.markdown);
    outputs.push({ suite, output });
  }
  const report = assemble(outputs, { command, startedAt, machine, limits, load: load.stop() });
  const markdown = reportMarkdown(report, outputs);
  const name = suites.length === 1 ? suites[0].name : 'bench';
  const files = writeReport(options.outDir, name, report, markdown);
  console.log(`\n${loadLine(report)}\nwrote ${files.json}\nwrote ${files.markdown}`);
  return { report, files };
}

function assemble(
  outputs: Array<{ suite: Suite; output: SuiteOutput }>,
  head: Pick<SuiteReport, 'command' | 'startedAt' | 'machine' | 'limits' | 'load'>,
): SuiteReport {
  return {
    suite: outputs.map((o) => o.suite.name).join(','),
    ...head,
    finishedAt: new Date().toISOString(),
    versions: Object.assign({}, ...outputs.map((o) => o.output.versions)),
    threads: [...new Set(outputs.flatMap((o) => o.output.threads))],
    rows: outputs.flatMap((o) => o.output.rows),
    notes: outputs.flatMap((o) => o.output.notes),
  };
}

/** The machine's limits as a short markdown list. */
export function limitsMarkdown(limits: MachineLimits): string {
  const gflops = (p: { gflops: number | null; note: string }) =>
    p.gflops === null ? `n/a (${p.note})` : `${p.gflops.toFixed(1)} GFLOP/s (${p.note})`;
  const lines = [
    `- native FMA peak per core: ${gflops(limits.fma)}`,
    `- wasm SIMD mul+add ceiling per thread: ${gflops(limits.wasmSimd)}`,
  ];
  for (const b of limits.bandwidth) {
    const rate = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(1)} GB/s`);
    lines.push(
      `- memory bandwidth, ${b.threads} thread(s): ` +
        `triad ${rate(b.triadGBs)}, read ${rate(b.readGBs)}`,
    );
  }
  return lines.join('\n');
}

function loadLine(report: SuiteReport): string {
  const { before, mean, max, after } = report.load;
  return (
    `load average (1 min) during the run: before ${before.toFixed(2)}, mean ${mean.toFixed(2)}, ` +
    `max ${max.toFixed(2)}, after ${after.toFixed(2)} on ${report.machine.threads} hardware threads`
  );
}

function reportMarkdown(
  report: SuiteReport,
  outputs: Array<{ suite: Suite; output: SuiteOutput }>,
): string {
  const versions = Object.entries(report.versions).map(([k, v]) => `- ${k}: ${v}`);
  const parts = [
    `# voxseg benchmarks: ${report.suite}`,
    '',
    `\`${report.command}\`, ${report.startedAt} to ${report.finishedAt}`,
    `${report.machine.cpu}, ${report.machine.threads} hardware threads, ` +
      `Node ${report.machine.node}`,
    loadLine(report),
    '',
    ...(report.limits ? [limitsMarkdown(report.limits), ''] : []),
    ...versions,
  ];
  for (const { suite, output } of outputs) parts.push('', `## ${suite.title}`, '', output.markdown);
  return parts.join('\n');
}

/** Entry point of a suite file run directly: parse argv, run it, exit non-zero on failure. */
export async function suiteMain(suite: Suite): Promise<void> {
  try {
    const { options } = parseSuiteArgs(process.argv.slice(2));
    await runSuites(
      [suite],
      options,
      `npx tsx bench/${suite.name}.ts ${process.argv.slice(2).join(' ')}`.trim(),
    );
  } catch (error) {
    console.error(`bench ${suite.name}: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
