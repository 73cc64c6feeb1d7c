/**
 * Machine probes for benchmarks: what the CPU can do at best, to put a kernel's GFLOP/s or GB/s
 * next to. Node only (uses child_process, fs, os).
 *
 * - wasm SIMD ceiling: a tiny AssemblyScript loop with the shape of conv3d_direct's inner loop
 *   (2 vector loads, 6 broadcast loads of moving weights, 12 independent f32x4 accumulators)
 *   over an L1-resident buffer, with mul + add (plain SIMD) or relaxed SIMD's fused
 *   multiply-add. The weights move as in the kernel: with fixed weight addresses the same loop
 *   measured about a third faster here, a speed no convolution can reach.
 * - native FMA peak: a C++ loop of 16 independent fused multiply-adds on 64-byte vectors,
 *   built with g++ -O3 -march=native into build/bench/ when g++ exists.
 * - memory bandwidth: a C++ STREAM-style probe (triad a = b + s c, and a read-only sum) over
 *   arrays far larger than the caches, on 1 thread and on all hardware threads; the best of
 *   five passes, as STREAM reports.
 *
 * Run alone: npx tsx bench/machine.ts (prints every probe).
 */
import asc from 'assemblyscript/asc';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib/stats.js';

/** One probe's result; `gflops` is null when it could not run, with the reason. */
export interface ProbeResult {
  gflops: number | null;
  note: string;
}

/** CPU model, hardware threads and runtime, for the report header. */
export function describeMachine(): { cpu: string; threads: number; node: string } {
  return {
    cpu: cpus()[0]?.model ?? 'unknown CPU',
    threads: availableParallelism(),
    node: process.version,
  };
}

/** The median (from ./lib/stats.ts), for the scripts that import it from here. */
export { median };

const WASM_PROBE = `
@inline function madd(acc: v128, s: v128, x: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(s, x, acc);
  return f32x4.add(acc, f32x4.mul(s, x));
}
export function mul_add_probe(buffer: usize, iterations: i32): f32 {
  let a00 = f32x4.splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
  let a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
  for (let i = 0; i < iterations; i++) {
    // Inputs and weights stream through a small L1-resident window, as in the kernel.
    const p = buffer + (<usize>(i & 15) << 5);
    const w = buffer + 512 + <usize>(i & 15) * 24;
    const x0 = v128.load(p);
    const x1 = v128.load(p, 16);
    let s = v128.load32_splat(w);
    a00 = madd(a00, s, x0); a01 = madd(a01, s, x1);
    s = v128.load32_splat(w, 4);
    a10 = madd(a10, s, x0); a11 = madd(a11, s, x1);
    s = v128.load32_splat(w, 8);
    a20 = madd(a20, s, x0); a21 = madd(a21, s, x1);
    s = v128.load32_splat(w, 12);
    a30 = madd(a30, s, x0); a31 = madd(a31, s, x1);
    s = v128.load32_splat(w, 16);
    a40 = madd(a40, s, x0); a41 = madd(a41, s, x1);
    s = v128.load32_splat(w, 20);
    a50 = madd(a50, s, x0); a51 = madd(a51, s, x1);
  }
  const sum = f32x4.add(f32x4.add(f32x4.add(a00, a01), f32x4.add(a10, a11)),
    f32x4.add(f32x4.add(a20, a21), f32x4.add(f32x4.add(a30, a31), f32x4.add(
      f32x4.add(a40, a41), f32x4.add(a50, a51)))));
  return f32x4.extract_lane(sum, 0);
}
`;

/** Floating-point operations per iteration of the wasm probe: 12 x (4 mul + 4 add). */
const WASM_PROBE_FLOPS = 96;

/**
 * The wasm SIMD multiply-add ceiling of one thread: median GFLOP/s of `runs` timed runs after
 * a warm-up call (so the optimising tier compiled the loop). `relaxed` uses relaxed SIMD's
 * fused multiply-add (the host must validate relaxed SIMD).
 */
export async function probeWasmCeiling(
  relaxed = false,
  runs = 5,
  iterations = 20_000_000,
): Promise<ProbeResult> {
  const { binary, stderr } = await asc.compileString(WASM_PROBE, {
    optimizeLevel: 3,
    runtime: 'stub',
    enable: relaxed ? ['simd', 'relaxed-simd'] : ['simd'],
  } as Parameters<typeof asc.compileString>[1]);
  if (!binary) return { gflops: null, note: `probe did not compile: ${stderr.toString()}` };
  const { instance } = (await WebAssembly.instantiate(binary, {
    env: { abort: () => {} },
  })) as unknown as WebAssembly.WebAssemblyInstantiatedSource;
  const probe = instance.exports.mul_add_probe as (buffer: number, iterations: number) => number;
  const memory = instance.exports.memory as WebAssembly.Memory;
  if (memory.buffer.byteLength < 8192) memory.grow(1);
  new Float32Array(memory.buffer, 4096, 256).fill(0.5);

  probe(4096, 1_000_000);
  const rates: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    probe(4096, iterations);
    const seconds = (performance.now() - start) / 1000;
    rates.push((iterations * WASM_PROBE_FLOPS) / seconds / 1e9);
  }
  const kind = relaxed ? 'relaxed_madd' : 'mul+add';
  return { gflops: median(rates), note: `12 f32x4 ${kind} accumulators, 1 thread` };
}

const FMA_SOURCE = `
#include <chrono>
#include <cstdio>
#include <cstdlib>
typedef float vec __attribute__((vector_size(64)));
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) \\
  X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define DECLARE(i) vec c##i = (vec){} + 1e-3f * i;
#define STEP(i) c##i = c##i * a + b;
#define CHECK(i) check += c##i[0];
int main(int argc, char** argv) {
  const long iterations = argc > 1 ? atol(argv[1]) : 200000000L;
  const vec a = (vec){} + 0.9999f, b = (vec){} + 1e-4f;
  CHAINS(DECLARE)
  auto start = std::chrono::steady_clock::now();
  for (long n = 0; n < iterations; n++) {
    CHAINS(STEP)
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  float check = 0;
  CHAINS(CHECK)
  printf("%.3f %f\\n", iterations * 16.0 * 16 * 2 / seconds / 1e9, check);
  return 0;
}
`;

/**
 * Build a C++ probe into build/bench/<name> (again only when its source changed).
 *
 * @returns the binary's path, or why it could not be built.
 */
function buildNativeProbe(
  root: string,
  name: string,
  source: string,
): { binary?: string; failure?: string } {
  const dir = join(root, 'build', 'bench');
  const binary = join(dir, name);
  const file = `${binary}.cpp`;
  if (existsSync(binary) && existsSync(file) && readFileSync(file, 'utf8') === source)
    return { binary };
  const gpp = spawnSync('g++', ['--version']);
  if (gpp.error || gpp.status !== 0) return { failure: 'g++ not found' };
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, source);
  const flags = ['-O3', '-march=native', '-pthread', '-o', binary, file];
  const build = spawnSync('g++', flags, { encoding: 'utf8' });
  return build.status === 0 ? { binary } : { failure: `g++ failed: ${build.stderr.trim()}` };
}

/**
 * The native single-thread FMA peak: build (once) and run a C++ loop of independent fused
 * multiply-adds; median of `runs` runs.
 */
export function probeNativeFmaPeak(root: string, runs = 3): ProbeResult {
  const { binary, failure } = buildNativeProbe(root, 'fma-peak', FMA_SOURCE);
  if (!binary) return { gflops: null, note: failure! };
  const rates: number[] = [];
  for (let run = 0; run < runs; run++) {
    const result = spawnSync(binary, ['200000000'], { encoding: 'utf8' });
    if (result.status !== 0) return { gflops: null, note: `probe failed: ${result.stderr}` };
    rates.push(Number(result.stdout.split(' ')[0]));
  }
  return {
    gflops: median(rates),
    note: 'g++ -O3 -march=native, 16 x 64-byte FMA chains, 1 thread',
  };
}

const STREAM_SOURCE = `
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>
// Usage: stream <threads> <floats per array>; prints "triad_GBs read_GBs".
static double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
template <class F> static double parallel(int threads, long n, F body) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++)
    pool.emplace_back(body, n * t / threads, n * (t + 1) / threads, t);
  for (auto& th : pool) th.join();
  return seconds_since(start);
}
int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 1;
  const long n = argc > 2 ? atol(argv[2]) : (1L << 25);
  float* a = (float*)aligned_alloc(64, n * sizeof(float));
  float* b = (float*)aligned_alloc(64, n * sizeof(float));
  float* c = (float*)aligned_alloc(64, n * sizeof(float));
  std::vector<double> sums(threads, 0.0);
  parallel(threads, n, [&](long lo, long hi, int) {
    for (long i = lo; i < hi; i++) { a[i] = 1.0f; b[i] = 2.0f; c[i] = 0.5f; }
  });
  double triad = 0, read = 0;
  for (int pass = 0; pass < 5; pass++) {
    double s = parallel(threads, n, [&](long lo, long hi, int) {
      for (long i = lo; i < hi; i++) a[i] = b[i] + 3.0f * c[i];
    });
    if (12.0 * n / s / 1e9 > triad) triad = 12.0 * n / s / 1e9;
    s = parallel(threads, n, [&](long lo, long hi, int t) {
      float acc[16] = {0};
      for (long i = lo; i + 16 <= hi; i += 16)
        for (int k = 0; k < 16; k++) acc[k] += a[i + k];
      float total = 0;
      for (int k = 0; k < 16; k++) total += acc[k];
      sums[t] += total;
    });
    if (4.0 * n / s / 1e9 > read) read = 4.0 * n / s / 1e9;
  }
  double check = 0;
  for (double s : sums) check += s;
  printf("%.3f %.3f %g\\n", triad, read, check);
  return 0;
}
`;

/** Memory bandwidth of one thread count, in GB/s; null when the probe could not run. */
export interface BandwidthResult {
  threads: number;
  triadGBs: number | null;
  readGBs: number | null;
  note: string;
}

/**
 * STREAM-style memory bandwidth on `threads` threads: triad (12 bytes per element) and a
 * read-only sum (4 bytes per element) over three arrays of `floats` floats; the best of five
 * passes.
 */
export function probeMemoryBandwidth(
  root: string,
  threads: number,
  floats = 2 ** 25,
): BandwidthResult {
  const { binary, failure } = buildNativeProbe(root, 'stream', STREAM_SOURCE);
  if (!binary) return { threads, triadGBs: null, readGBs: null, note: failure! };
  const result = spawnSync(binary, [String(threads), String(floats)], { encoding: 'utf8' });
  if (result.status !== 0) {
    return { threads, triadGBs: null, readGBs: null, note: `probe failed: ${result.stderr}` };
  }
  const [triad, read] = result.stdout.trim().split(' ').map(Number);
  const mib = (3 * floats * 4) / 2 ** 20;
  const note = `g++ -O3 -march=native, 3 x ${mib / 3} MiB arrays, ${threads} thread(s), best of 5`;
  return { threads, triadGBs: triad, readGBs: read, note };
}

/** Every limit the reports put results next to. */
export interface MachineLimits {
  fma: ProbeResult;
  wasmSimd: ProbeResult;
  bandwidth: BandwidthResult[];
}

/** Measure every limit: FMA peak and wasm ceiling (1 thread), bandwidth at 1 and all threads. */
export async function measureLimits(root: string, threads: number): Promise<MachineLimits> {
  const counts = [...new Set([1, threads])];
  return {
    fma: probeNativeFmaPeak(root),
    wasmSimd: await probeWasmCeiling(false),
    bandwidth: counts.map((t) => probeMemoryBandwidth(root, t)),
  };
}

/** The repository root (bench/..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<void> {
  const machine = describeMachine();
  console.log(`${machine.cpu}, ${machine.threads} hardware threads, Node ${machine.node}`);
  console.log(JSON.stringify(await measureLimits(REPO_ROOT, machine.threads), null, 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
