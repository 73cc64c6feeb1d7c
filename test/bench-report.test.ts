/**
 * The benchmarks' bookkeeping: repeated timings and their summary (median, spread, the number of
 * runs a budget buys), the markdown tables and ratios the reports print, and option parsing.
 * No timing is asserted: the timed calls here are stubs.
 */
import { describe, expect, it } from 'vitest';
import {
  comparisonTable,
  formatPercent,
  formatRate,
  formatRatio,
  markdownTable,
  ratioSummary,
  type ResultRow,
  skippedList,
} from '../bench/lib/report.js';
import { median, plannedRuns, summarise, timeRepeated } from '../bench/lib/stats.js';
import { parseSuiteArgs } from '../bench/lib/suite.js';
import { trailing } from '../bench/conv3d.js';

describe('repeated timings', () => {
  it('takes the median of odd and even lists', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/empty/);
  });

  it('summarises runs as median, extremes and spread in percent of the median', () => {
    const s = summarise(50, [10, 12, 8, 11], [20, 24, 16, 22]);
    expect(s).toMatchObject({ runs: 4, firstMs: 50, medianMs: 10.5, minMs: 8, maxMs: 12 });
    expect(s.spreadPct).toBeCloseTo((100 * 4) / 10.5, 10);
    expect(s.cpuMs).toBe(21);
  });

  it('buys as many runs as the budget holds, within the minimum and maximum', () => {
    const policy = { budgetMs: 1000, minRuns: 3, maxRuns: 10 };
    expect(plannedRuns(100, policy)).toBe(10);
    expect(plannedRuns(250, policy)).toBe(4);
    expect(plannedRuns(5000, policy)).toBe(3);
    expect(plannedRuns(0, policy)).toBe(10);
  });

  it('calls once to warm up, then the planned number of times', async () => {
    let calls = 0;
    const sample = await timeRepeated(async () => calls++, { budgetMs: 0, minRuns: 4, maxRuns: 9 });
    expect(calls).toBe(5);
    expect(sample.runs).toBe(4);
    expect(sample.timesMs).toHaveLength(4);
  });
});

function row(engine: string, rate: number | undefined, extra: Partial<ResultRow> = {}): ResultRow {
  const sample = rate ? summarise(1, [1, 1.1, 0.9]) : undefined;
  return {
    case: 'c1',
    group: 'g',
    engine,
    threads: 1,
    unit: 'GFLOP/s',
    work: 1e9,
    rate,
    sample,
    ...extra,
  };
}

describe('tables', () => {
  it('escapes pipes and right-aligns every column but the first', () => {
    const table = markdownTable(['case', 'rate'], [['a|b', '1.0']]);
    expect(table.split('\n')).toEqual(['| case | rate |', '| --- | ---: |', '| a\\|b | 1.0 |']);
  });

  it('formats rates with their spread, ratios and shares of a limit', () => {
    expect(formatRate(row('voxseg-wasm', 41.25))).toBe('41.3 ±20%');
    expect(formatRate(row('ort-web', undefined, { skipped: 'too slow' }))).toBe('skipped');
    expect(formatRatio(row('a', 30), row('b', 20))).toBe('1.50x');
    expect(formatRatio(row('a', 30), row('b', undefined))).toBe('');
    expect(formatPercent(25, 100)).toBe('25%');
    expect(formatPercent(25, undefined)).toBe('');
  });

  it('puts one line per case with each engine, the share of the limit and the ratios', () => {
    const rows = [row('voxseg-wasm', 40, { limit: 200 }), row('ort-web', 20), row('ort-node', 80)];
    const lines = comparisonTable(rows, ['voxseg-wasm', 'ort-web', 'ort-node']).split('\n');
    expect(lines[0]).toBe(
      '| case | voxseg-wasm GFLOP/s | ort-web GFLOP/s | ort-node GFLOP/s | ' +
        'voxseg-wasm of limit | vs ort-web | vs ort-node |',
    );
    expect(lines[2]).toBe('| c1 | 40.0 ±20% | 20.0 ±20% | 80.0 ±20% | 20% | 2.00x | 0.50x |');
  });

  it('summarises ratios over the cases both engines ran, and lists skips once per reason', () => {
    const rows = [
      row('voxseg-wasm', 30),
      row('ort-web', 10),
      { ...row('voxseg-wasm', 20), case: 'c2' },
      { ...row('ort-web', 20), case: 'c2' },
      { ...row('voxseg-wasm', 20), case: 'c3' },
      { ...row('tfjs-cpu', undefined, { skipped: 'estimated 40 s' }), case: 'c2' },
      { ...row('tfjs-cpu', undefined, { skipped: 'estimated 40 s' }), case: 'c3' },
    ];
    expect(ratioSummary(rows, 'voxseg-wasm', 'ort-web')).toEqual({ count: 2, min: 1, median: 3 });
    expect(ratioSummary(rows, 'voxseg-wasm', 'ort-node')).toBeNull();
    expect(skippedList(rows)).toEqual(['tfjs-cpu (1 thread): estimated 40 s [2 case(s): c2, ...]']);
  });
});

describe('suite options', () => {
  it('parses lists, filters and suites, with defaults for the rest', () => {
    const { options, positionals } = parseSuiteArgs([
      'conv3d',
      '--threads',
      '1,2',
      '--filter',
      'd16',
      '--engines',
      'ort-web',
      '--quick',
    ]);
    expect(positionals).toEqual(['conv3d']);
    expect(options.threads).toEqual([1, 2]);
    expect(options.filter!.test('5->5 k3 d16 @ 64^3')).toBe(true);
    expect(options.engines).toEqual(['ort-web']);
    expect(options).toMatchObject({ quick: true, capSeconds: 3, limits: false });
  });

  it('names the option and the value it rejects', () => {
    expect(() => parseSuiteArgs(['--threads', '0'])).toThrow(
      /positive integers for --threads, received '0'/,
    );
    expect(() => parseSuiteArgs(['--cap', 'soon'])).toThrow(
      /positive number for --cap, received 'soon'/,
    );
  });
});

describe('conv3d cases under the target ratio', () => {
  /** A brainchop row with a median of `ms` (1 GFLOP per call) and its kernel's median. */
  const timed = (engine: string, ms: number, kernelMs?: number): ResultRow => ({
    case: '30->18 k1 d1 @ 64^3',
    group: 'brainchop 64^3',
    engine,
    threads: 1,
    unit: 'GFLOP/s',
    work: 1e9,
    rate: 1e3 / ms,
    sample: summarise(ms, [ms, ms, ms]),
    ...(kernelMs === undefined ? {} : { extra: { kernelMs, kernelRate: 1e3 / kernelMs } }),
  });

  it('takes apart a case under 1.5x: kernel, the time around it, and the bounds', () => {
    const lines = trailing([timed('voxseg-wasm', 50, 40), timed('ort-web', 60)], 25);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('30->18 k1 d1 @ 64^3, 1 thread(s): 1.20x');
    expect(lines[0]).toContain('voxseg 50.0 ms = kernel 40.0 ms + 10.0 ms of host copies and call');
    // No kernel time: 60 / 10; kernel at 25 GFLOP/s (40 ms for 1 GFLOP): 60 / (10 + 40).
    expect(lines[0]).toContain('6.00x with a kernel taking no time');
    expect(lines[0]).toContain('1.20x with the kernel at the wasm mul+add ceiling (25.0 GFLOP/s');
  });

  it('leaves out cases at or over 1.5x and rows without a kernel time', () => {
    expect(trailing([timed('voxseg-wasm', 40, 30), timed('ort-web', 60)], 25)).toEqual([]);
    expect(trailing([timed('voxseg-wasm', 50), timed('ort-web', 60)], 25)).toEqual([]);
    const lines = trailing([timed('voxseg-wasm', 50, 40), timed('ort-web', 60)], null);
    expect(lines[0]).not.toContain('ceiling');
  });
});
