/**
 * conv3d on the wasm backend: GFLOP/s of a 16 -> 16 channel, 3x3x3 convolution over a 64^3
 * volume ('same' padding, bias, no activation) at dilation 1 and 4, on one thread and on all
 * hardware threads, for the plain SIMD build (what Node 20 runs) and the relaxed-SIMD build
 * (fused multiply-add; what Chromium runs, enabled here with --experimental-wasm-relaxed-simd),
 * next to the machine's wasm ceilings and native FMA peak (bench/machine.ts). Prints a
 * markdown table and writes the numbers to bench/results/ as JSON.
 *
 * Run: npx tsx bench/conv3d.ts [--runs 7] [--size 64] [--threads N] [--plain-only]
 *
 * Each row: one warm-up call (its time reported as "first": it includes the wasm tier-up and
 * weight packing), then the median of `runs` timed calls, in wall time and in process CPU time
 * (all threads; on a shared machine, GFLOP per CPU second shows the kernel's own speed when
 * other processes take turns on the cores). The probes run before and after the conv rows
 * and are averaged, so a noisy machine shows in both.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import '../ts/node.js';
import { createWasmBackend } from '../ts/backends/wasm/index.js';
import { conv3dParams } from '../ts/engine/backend.js';
import {
  describeMachine,
  median,
  probeNativeFmaPeak,
  probeWasmCeiling,
  type ProbeResult,
} from './machine.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHANNELS = 16;

/** One configuration of the wasm backend. */
interface Config {
  relaxed: boolean;
  dilation: number;
  threads: number;
}

interface Row extends Config {
  firstMs: number;
  medianMs: number;
  gflops: number;
  /** Median process CPU time (all threads) per call, and GFLOP per CPU second. */
  cpuMs: number;
  gflopsPerCpu: number;
}

/** Seeded uniform floats in [-1, 1), never zero. */
function randomData(length: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 2 ** 32) * 2 - 1 || 1e-3;
  });
}

/** Time one configuration: a warm-up call, then the median of `runs` calls. */
async function measure(size: number, config: Config, runs: number): Promise<Row> {
  const { relaxed, dilation, threads } = config;
  const backend = await createWasmBackend({ threads, relaxedSimd: relaxed });
  // x: (1, 16, S, S, S); weight: (16, 16, 3, 3, 3); bias: (16).
  const x = await backend.upload(randomData(CHANNELS * size ** 3, 1), [
    1,
    CHANNELS,
    size,
    size,
    size,
  ]);
  const w = await backend.upload(randomData(CHANNELS ** 2 * 27, 2), [CHANNELS, CHANNELS, 3, 3, 3]);
  const bias = await backend.upload(randomData(CHANNELS, 3), [CHANNELS]);
  const d = dilation;
  const params = conv3dParams({ padding: [d, d, d], dilation: [d, d, d] });

  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    backend.release(await backend.conv3d(x, w, bias, params));
    const used = process.cpuUsage(cpu);
    times.push(performance.now() - start);
    cpuTimes.push((used.user + used.system) / 1000);
  }
  await backend.dispose();

  const flops = 2 * CHANNELS * CHANNELS * 27 * size ** 3;
  const medianMs = median(times.slice(1));
  const cpuMs = median(cpuTimes.slice(1));
  const rates = { gflops: flops / medianMs / 1e6, gflopsPerCpu: flops / cpuMs / 1e6 };
  return { ...config, firstMs: times[0], medianMs, cpuMs, ...rates };
}

/** The mean of two probe results (either may be missing). */
function mean(a: ProbeResult, b: ProbeResult): ProbeResult {
  if (a.gflops === null || b.gflops === null) return a.gflops === null ? b : a;
  return { gflops: (a.gflops + b.gflops) / 2, note: a.note };
}

function percent(value: number, of: number | null): string {
  return of ? `${((100 * value) / of).toFixed(0)} %` : 'n/a';
}

/** Per-thread references: the wasm ceiling of each build and the native FMA peak. */
interface Peaks {
  plain: ProbeResult;
  relaxed: ProbeResult;
  fma: ProbeResult;
}

function table(rows: Row[], peaks: Peaks, size: number): string {
  const lines = [
    `| conv3d 16->16, 3x3x3, ${size}^3 | build | threads | first ms | median ms | GFLOP/s | ` +
      'of wasm ceiling x threads | of FMA peak x threads | CPU ms | GFLOP per CPU s |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const ceiling = (row.relaxed ? peaks.relaxed : peaks.plain).gflops;
    const cells = [
      `dilation ${row.dilation}`,
      row.relaxed ? 'relaxed SIMD (FMA)' : 'SIMD',
      row.threads,
      row.firstMs.toFixed(1),
      row.medianMs.toFixed(1),
      row.gflops.toFixed(1),
      percent(row.gflops, ceiling && ceiling * row.threads),
      percent(row.gflops, peaks.fma.gflops && peaks.fma.gflops * row.threads),
      row.cpuMs.toFixed(1),
      row.gflopsPerCpu.toFixed(1),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const probe = (p: ProbeResult) =>
    p.gflops === null ? `n/a (${p.note})` : `${p.gflops.toFixed(1)} GFLOP/s (${p.note})`;
  lines.push('', `wasm SIMD ceiling per thread: ${probe(peaks.plain)}`);
  lines.push(`wasm relaxed-SIMD ceiling per thread: ${probe(peaks.relaxed)}`);
  lines.push(`native FMA peak per thread: ${probe(peaks.fma)}`);
  return lines.join('\n');
}

async function probeAll(withRelaxed: boolean): Promise<Peaks> {
  const skipped: ProbeResult = { gflops: null, note: 'not measured' };
  return {
    plain: await probeWasmCeiling(false),
    relaxed: withRelaxed ? await probeWasmCeiling(true) : skipped,
    fma: probeNativeFmaPeak(root),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '7' },
      size: { type: 'string', default: '64' },
      threads: { type: 'string' },
      'plain-only': { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  const size = Number(values.size);
  const withRelaxed = !values['plain-only'];
  if (withRelaxed) setFlagsFromString('--experimental-wasm-relaxed-simd');
  const machine = describeMachine();
  const allThreads = Number(values.threads ?? machine.threads);
  console.log(`${machine.cpu}, ${machine.threads} hardware threads, Node ${machine.node}`);

  const before = await probeAll(withRelaxed);
  const rows: Row[] = [];
  for (const relaxed of withRelaxed ? [false, true] : [false]) {
    for (const dilation of [1, 4]) {
      for (const threads of new Set([1, allThreads])) {
        rows.push(await measure(size, { relaxed, dilation, threads }, runs));
      }
    }
  }
  const after = await probeAll(withRelaxed);
  const peaks: Peaks = {
    plain: mean(before.plain, after.plain),
    relaxed: mean(before.relaxed, after.relaxed),
    fma: mean(before.fma, after.fma),
  };

  console.log(`\n${table(rows, peaks, size)}`);
  const results = join(root, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  const file = join(results, `conv3d-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const report = { machine, size, runs, rows, peaks, before, after };
  writeFileSync(file, JSON.stringify(report, null, 2));
  console.log(`\nwrote ${file}`);
}

await main();
