/**
 * conv3d side by side: voxseg's wasm backend against onnxruntime-node (CPU), onnxruntime-web
 * (wasm) and TensorFlow.js (wasm and cpu backends), on every distinct layer shape of the
 * brainchop models at 64^3, 128^3 and a slab of the t1_crop crop, on the convs of a 3D U-Net
 * with 128^3 patches, and on the 16 -> 16 reference case of earlier measurements (64^3).
 * Every engine gets the same host arrays and gives host arrays back (input copied in, conv
 * with its activation, output copied out); voxseg's kernel alone (tensors already in wasm
 * memory) is reported next to it. Each peer's output is checked against voxseg's. The output
 * goes into one array kept across calls where the engine's API allows it (voxseg's
 * `download(tensor, into)`, onnxruntime-node's pre-allocated output); onnxruntime-web and
 * TensorFlow.js give a new array per call, whose page faults they pay.
 *
 * Run alone: npx tsx bench/conv3d.ts [--quick] [--threads 1,2] [--sizes 64,128,crop,unet]
 *            [--filter <regex>] [--engines ort-web,...] [--cap <s>] [--relaxed]
 *
 * Each thread count runs in its own child process (onnxruntime-web fixes its thread count at
 * start); inside it, each case runs on every engine in turn, so engines share the machine's
 * state. One untimed warm-up call, then as many calls as fit 1.5 s (at least 3, at most 10).
 * An engine whose warm-up and 3 calls would pass --cap seconds (estimated from its best rate
 * so far: TensorFlow.js runs under 2 GFLOP/s) makes fewer calls, down to 1; one that cannot
 * make 2 calls within the cap skips the case with the estimate as the reason.
 */
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { ConvData, ConvEngine, EngineId } from './engines/engine.js';
import { createOrtNodeEngine, createOrtWebEngine } from './engines/ort.js';
import { createTfjsEngine } from './engines/tfjs.js';
import { createVoxsegEngine } from './engines/voxseg.js';
import {
  BRAINCHOP_MODELS,
  brainchopCropCases,
  brainchopCubeCases,
  type ConvCase,
  convFlops,
  distinctBrainchopShapes,
  referenceCases,
  unetCases,
} from './lib/cases.js';
import { childJob, finishChild, runInChild } from './lib/child.js';
import { t1CropDims } from './lib/data.js';
import type { MachineLimits } from './machine.js';
import {
  comparisonTable,
  extraRate,
  ratioSummary,
  type ResultRow,
  skippedList,
} from './lib/report.js';
import { type RepeatPolicy, timeRepeated } from './lib/stats.js';
import { type Suite, suiteMain, type SuiteOptions, type SuiteOutput } from './lib/suite.js';
import { randomFloats } from '../test/helpers/random.js';

const SCRIPT = fileURLToPath(import.meta.url);
const PEERS: EngineId[] = ['ort-web', 'ort-node', 'tfjs-wasm', 'tfjs-cpu'];
/** Output planes of the crop slab (the segment pipeline streams crops in slabs like it). */
const CROP_PLANES = 32;

/** What one child process measures. */
interface ConvJob {
  threads: number;
  cases: ConvCase[];
  engines: string[];
  relaxed: boolean;
  policy: RepeatPolicy;
  capSeconds: number;
}

interface ConvChildResult {
  rows: ResultRow[];
  versions: Record<string, string>;
}

/**
 * The cases of each thread count: 64^3 at every count, the large sizes at the largest; --quick
 * takes the layers of model5_gw_ae and model30chan18cls at 32^3 and a U-Net on a 32^3 patch.
 */
export async function planCases(options: SuiteOptions): Promise<Map<number, ConvCase[]>> {
  const quickModels = BRAINCHOP_MODELS.filter(
    (m) => m.name === 'model5_gw_ae' || m.name === 'model30chan18cls',
  );
  const shapes = distinctBrainchopShapes(options.quick ? quickModels : BRAINCHOP_MODELS);
  const keep = (cases: ConvCase[]) =>
    cases.filter((c) => !options.filter || options.filter.test(c.id));
  const sizes = options.sizes ?? (options.quick ? ['32', 'unet32'] : ['64', '128', 'crop', 'unet']);
  const small: ConvCase[] = [];
  const large: ConvCase[] = [];
  if (sizes.includes('64')) small.push(...referenceCases(64));
  for (const size of sizes) {
    if (/^\d+$/.test(size))
      (Number(size) <= 64 ? small : large).push(...brainchopCubeCases(Number(size), shapes));
    else if (size === 'crop')
      large.push(...brainchopCropCases(await t1CropDims(options), CROP_PLANES, shapes));
    else if (size.startsWith('unet')) large.push(...unetCases(Number(size.slice(4)) || 128));
    else
      throw new Error(
        `expected 64, 128, crop, unet or a cube edge for --sizes, received '${size}'`,
      );
  }
  const most = Math.max(...options.threads);
  return new Map(options.threads.map((t) => [t, keep(t === most ? [...small, ...large] : small)]));
}

async function run(options: SuiteOptions, limits?: MachineLimits): Promise<SuiteOutput> {
  const plan = await planCases(options);
  const policy: RepeatPolicy = options.quick
    ? { budgetMs: 200, minRuns: 2, maxRuns: 3 }
    : { budgetMs: 1500, minRuns: 3, maxRuns: 10 };
  const peers = (options.engines ?? PEERS).filter((e) => !e.startsWith('voxseg'));
  const engines = ['voxseg-wasm', ...(options.relaxed ? ['voxseg-wasm-relaxed'] : []), ...peers];
  const rows: ResultRow[] = [];
  const versions: Record<string, string> = {};
  for (const [threads, cases] of plan) {
    if (!cases.length) continue;
    // TensorFlow.js runs one thread in Node whatever it is asked: measured in the 1-thread run.
    const here = threads > 1 ? engines.filter((e) => !e.startsWith('tfjs')) : engines;
    const job: ConvJob = {
      threads,
      cases,
      engines: here,
      relaxed: options.relaxed,
      policy,
      capSeconds: options.capSeconds,
    };
    const result = await runInChild<ConvChildResult>(SCRIPT, job);
    rows.push(...result.rows);
    Object.assign(versions, result.versions);
  }
  const fma = limits?.fma.gflops ?? undefined;
  for (const row of rows) if (fma && row.rate) row.limit = fma * row.threads;
  const lines = [...notes(rows, engines), ...trailing(rows, limits?.wasmSimd.gflops ?? null)];
  return {
    rows,
    versions,
    threads: [...plan.keys()],
    notes: lines,
    markdown: tables(rows, engines, lines),
  };
}

/** The ratio to onnxruntime-web that voxseg is measured against on brainchop shapes. */
const TARGET_RATIO = 1.5;

/**
 * Each brainchop case under TARGET_RATIO x onnxruntime-web, taken apart: voxseg's call is its
 * kernel plus the host copies and call overhead around it (the call's median less the kernel's),
 * and the ratio it would reach with its kernel at the wasm mul+add ceiling, or taking no time.
 */
export function trailing(rows: readonly ResultRow[], ceiling: number | null): string[] {
  const lines: string[] = [];
  for (const mine of rows.filter((r) => r.engine === 'voxseg-wasm')) {
    if (!mine.sample || !mine.group.startsWith('brainchop')) continue;
    const peer = rows.find(
      (r) => r.case === mine.case && r.threads === mine.threads && r.engine === 'ort-web',
    );
    const kernelMs = mine.extra?.kernelMs;
    if (!peer?.sample || typeof kernelMs !== 'number') continue;
    const ours = mine.sample.medianMs;
    const theirs = peer.sample.medianMs;
    if (theirs / ours >= TARGET_RATIO) continue;
    const around = Math.max(0, ours - kernelMs);
    const atCeiling = ceiling
      ? `, ${(theirs / (around + mine.work / 1e6 / (ceiling * mine.threads))).toFixed(2)}x with ` +
        `the kernel at the wasm mul+add ceiling (${ceiling.toFixed(1)} GFLOP/s per thread)`
      : '';
    lines.push(
      `under ${TARGET_RATIO}x ort-web: ${mine.case}, ${mine.threads} thread(s): ` +
        `${(theirs / ours).toFixed(2)}x; voxseg ${ours.toFixed(1)} ms = kernel ` +
        `${kernelMs.toFixed(1)} ms + ${around.toFixed(1)} ms of host copies and call; ort-web ` +
        `${theirs.toFixed(1)} ms; the ratio would be ${(theirs / Math.max(around, 1e-3)).toFixed(2)}x ` +
        `with a kernel taking no time${atCeiling}`,
    );
  }
  return lines;
}

/** One table per (case group, thread count), then the notes. */
function tables(rows: ResultRow[], engines: string[], lines: string[]): string {
  const parts: string[] = [];
  const groups = [...new Set(rows.map((r) => `${r.group}|${r.threads}`))];
  for (const key of groups) {
    const [group, threads] = key.split('|');
    const subset = rows.filter((r) => r.group === group && r.threads === Number(threads));
    const present = engines.filter((e) => subset.some((r) => r.engine === e && !r.skipped));
    const kernel = extraRate('voxseg kernel alone', 'kernelRate');
    const table = comparisonTable(subset, present, [kernel]);
    parts.push(`### conv3d, ${group}, ${threads} thread(s)\n`, table, '');
  }
  parts.push(...lines.map((n) => `- ${n}`));
  return parts.join('\n');
}

/** The smallest and median ratio to each peer per thread count, kernel rates, disagreements. */
function notes(rows: ResultRow[], engines: string[]): string[] {
  const lines: string[] = [];
  for (const threads of [...new Set(rows.map((r) => r.threads))]) {
    const subset = rows.filter((r) => r.threads === threads && r.group.startsWith('brainchop'));
    for (const peer of engines.slice(1)) {
      const s = ratioSummary(subset, 'voxseg-wasm', peer);
      if (s)
        lines.push(
          `brainchop shapes, ${threads} thread(s): voxseg-wasm / ${peer} ` +
            `min ${s.min.toFixed(2)}x, median ${s.median.toFixed(2)}x over ${s.count} cases`,
        );
    }
  }
  lines.push(
    'output arrays: voxseg-wasm and ort-node write into one host array kept across calls ' +
      "(download(tensor, into); a pre-allocated output); ort-web's wasm provider leaves a " +
      'pre-allocated CPU output unfilled and TensorFlow.js has no such call, so they return ' +
      'a new array per call',
  );
  const differing = rows.filter((r) => r.agreement?.startsWith('DIFFERS'));
  for (const r of differing) lines.push(`${r.engine} on ${r.case}: ${r.agreement}`);
  if (engines.some((e) => e.startsWith('tfjs')))
    lines.push(
      'TensorFlow.js runs one thread in Node (its wasm backend loads the single-threaded ' +
        'build): measured in the 1-thread run only',
    );
  return [...lines, ...skippedList(rows).map((s) => `skipped: ${s}`)];
}

// ------------------------------------------------------------------ child process

/** Create the job's engines; one that fails to start skips every case with its reason. */
async function createEngines(
  job: ConvJob,
): Promise<Array<ConvEngine | { id: string; failure: string }>> {
  const makers: Record<string, () => Promise<ConvEngine>> = {
    'voxseg-wasm': () => createVoxsegEngine(job.threads),
    'voxseg-wasm-relaxed': () => createVoxsegEngine(job.threads, true),
    'ort-web': () => createOrtWebEngine(job.threads),
    'ort-node': () => createOrtNodeEngine(job.threads),
    'tfjs-wasm': () => createTfjsEngine('wasm', job.threads),
    'tfjs-cpu': () => createTfjsEngine('cpu', job.threads),
  };
  const ids = job.engines;
  const engines = [];
  for (const id of ids) {
    try {
      const maker = makers[id];
      if (!maker) throw new Error(`unknown engine (known: ${Object.keys(makers).join(', ')})`);
      engines.push(await maker());
    } catch (error) {
      engines.push({ id, failure: `did not start: ${(error as Error).message.split('\n')[0]}` });
    }
  }
  return engines;
}

/** The seeded data of one case: values in [-1, 1), never zero. */
function caseData(c: ConvCase): ConvData {
  const voxels = c.dims[0] * c.dims[1] * c.dims[2];
  return {
    x: randomFloats(c.cin * voxels, 1),
    weight: randomFloats(c.cout * c.cin * c.kernel ** 3, 2, -0.3, 0.3),
    bias: c.bias ? randomFloats(c.cout, 3) : null,
  };
}

/** Largest |a - b| / (1 + |b|) between an engine's output and voxseg's. */
export function maxRelativeDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return worst;
}

/** A row with the case's fields filled in. */
function baseRow(c: ConvCase, engine: string, threads: number): ResultRow {
  const names = { unet: 'U-Net 128^3 patch', reference: `reference 16->16 ${c.size}` };
  const group = c.group === 'brainchop' ? `brainchop ${c.size}` : names[c.group];
  return { case: c.id, group, engine, threads, unit: 'GFLOP/s', work: convFlops(c) };
}

/** Why an engine skips a case: it cannot run it, or it would take longer than the cap. */
function skipReason(engine: ConvEngine, c: ConvCase, bestRate: number | undefined, job: ConvJob) {
  const unsupported = engine.unsupported(c);
  if (unsupported) return unsupported;
  if (!bestRate) return null;
  const seconds = convFlops(c) / bestRate / 1e9;
  return 2 * seconds > job.capSeconds
    ? `estimated ${seconds.toFixed(0)} s per call at ${bestRate.toFixed(2)} GFLOP/s, ` +
        `2 calls at least (cap ${job.capSeconds} s)`
    : null;
}

/**
 * The repetitions of one engine on one case: the job's, with fewer minimum runs (down to 1)
 * when the warm-up and the minimum would not fit the cap.
 */
export function casePolicy(
  policy: RepeatPolicy,
  capSeconds: number,
  callSeconds: number | undefined,
): RepeatPolicy {
  if (!callSeconds) return policy;
  const fit = Math.floor(capSeconds / callSeconds) - 1;
  const minRuns = Math.max(1, Math.min(policy.minRuns, fit));
  return { ...policy, minRuns, maxRuns: Math.max(minRuns, policy.maxRuns) };
}

/** Time one engine on one case; returns the row and the output (for the agreement check). */
async function measure(engine: ConvEngine, c: ConvCase, data: ConvData, policy: RepeatPolicy) {
  const row = baseRow(c, engine.id, engine.threads);
  const prepared = await engine.prepare(c, data);
  try {
    const sample = await timeRepeated(() => prepared.run(), policy);
    const output = await prepared.output();
    Object.assign(row, {
      sample,
      rate: row.work / sample.medianMs / 1e6,
      cpuRate: row.work / sample.cpuMs / 1e6,
    });
    if (prepared.runKernel) {
      const kernel = await timeRepeated(() => prepared.runKernel!(), policy);
      row.extra = { kernelMs: kernel.medianMs, kernelRate: row.work / kernel.medianMs / 1e6 };
    }
    return { row, output };
  } finally {
    await prepared.dispose();
  }
}

/** Every case on every engine, smallest cases first (so rate estimates exist for large ones). */
async function runJob(job: ConvJob): Promise<ConvChildResult> {
  if (job.relaxed) setFlagsFromString('--experimental-wasm-relaxed-simd');
  const engines = await createEngines(job);
  const best = new Map<string, number>();
  const rows: ResultRow[] = [];
  const order = [...job.cases].sort((a, b) => convFlops(a) - convFlops(b));
  for (const c of order) {
    const data = caseData(c);
    let reference: Float32Array | null = null;
    for (const engine of engines) {
      const row = await runOne(engine, c, data, job, best, reference);
      if (row.output && !reference) reference = row.output;
      rows.push(row.row);
    }
    console.log(progressLine(c, rows.slice(-engines.length)));
  }
  const versions = Object.fromEntries(
    engines.filter((e) => 'version' in e).map((e) => [e.id, (e as ConvEngine).version]),
  );
  for (const e of engines) if ('dispose' in e) await e.dispose();
  const index = new Map(job.cases.map((c, i) => [c.id, i]));
  rows.sort((a, b) => index.get(a.case)! - index.get(b.case)!);
  return { rows, versions };
}

async function runOne(
  engine: ConvEngine | { id: string; failure: string },
  c: ConvCase,
  data: ConvData,
  job: ConvJob,
  best: Map<string, number>,
  reference: Float32Array | null,
): Promise<{ row: ResultRow; output?: Float32Array }> {
  if ('failure' in engine)
    return { row: { ...baseRow(c, engine.id, job.threads), skipped: engine.failure } };
  const skipped = skipReason(engine, c, best.get(engine.id), job);
  if (skipped) return { row: { ...baseRow(c, engine.id, engine.threads), skipped } };
  try {
    const rate = best.get(engine.id);
    const callSeconds = rate ? convFlops(c) / rate / 1e9 : undefined;
    const policy = casePolicy(job.policy, job.capSeconds, callSeconds);
    const { row, output } = await measure(engine, c, data, policy);
    best.set(engine.id, Math.max(best.get(engine.id) ?? 0, row.rate!));
    if (reference) row.agreement = agreement(output, reference, c);
    return { row, output };
  } catch (error) {
    const reason = `failed: ${(error as Error).message.split('\n')[0]}`;
    return { row: { ...baseRow(c, engine.id, engine.threads), skipped: reason } };
  }
}

/** "max rel diff 3e-6", or "DIFFERS: ..." above 1e-3 (TensorFlow's stride-2 padding aside). */
function agreement(output: Float32Array, reference: Float32Array, c: ConvCase): string {
  const diff = maxRelativeDifference(output, reference);
  const text = `max rel diff ${diff.toExponential(1)}`;
  return diff > 1e-3 && c.stride === 1 ? `DIFFERS: ${text}` : text;
}

function progressLine(c: ConvCase, rows: ResultRow[]): string {
  const cells = rows.map((r) => `${r.engine} ${r.skipped ? 'skip' : r.rate!.toFixed(1)}`);
  return `[conv3d ${rows[0].threads}t] ${c.id}: ${cells.join(', ')}`;
}

/** The conv3d suite. */
export const conv3dSuite: Suite = { name: 'conv3d', title: 'conv3d against the peers', run };

const child = childJob<ConvJob>();
if (child) finishChild(child.resultFile, await runJob(child.job));
else if (process.argv[1] === SCRIPT) await suiteMain(conv3dSuite);
