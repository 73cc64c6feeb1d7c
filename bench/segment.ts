/**
 * The whole job side by side, on ../shared/data/brainchop/t1_crop.nii.gz with model5_gw_ae and
 * model30chan18cls:
 * - the segment pipeline (conform, normalise, crop, network, argmax, largest component, labels
 *   back on the input grid): voxseg's segment() on the wasm backend against brainchop's own
 *   pipeline in TensorFlow.js (the model.json loaded with tf.loadLayersModel, one predict over
 *   the crop; TensorFlow.js runs one thread in Node);
 * - the network alone on the same cropped, normalised input: voxseg's runModel against the same
 *   model exported to ONNX (ending in ArgMax) on onnxruntime-node and onnxruntime-web.
 * Rates are the network's GFLOP over the time (so pipelines and networks read alike); each
 * peer's labels are compared with voxseg's (share of voxels with the same label).
 *
 * Run alone: npx tsx bench/segment.ts [--quick] [--threads 1,2] [--filter <regex>]
 *            [--engines brainchop-tfjs,ort-node,ort-web] [--cap <s>]
 *
 * Each thread count runs in a child process; model30chan18cls only at the largest count. One
 * warm-up on a small input, then timed runs of the full input: as many as fit 60 s, 2 to 5
 * (--quick: model5_gw_ae, 1 run, no brainchop unless --engines names it). The cap (--cap x 40
 * seconds per run, 10 min by default) skips a peer estimated to take longer, from its rate on
 * the previous model.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../ts/node.js';
import { createWasmBackend } from '../ts/backends/wasm/index.js';
import type { WasmBackend } from '../ts/backends/wasm/backend.js';
import type { Volume } from '../ts/io/volume.js';
import { readVolume } from '../ts/io/files.js';
import type { ModelGraph } from '../ts/model/graph.js';
import type { LoadedModel } from '../ts/model/model.js';
import { loadModelByName } from '../ts/model/resolve.js';
import { prepareModel, runModel } from '../ts/model/runner.js';
import { conformVolume } from '../ts/pipeline/conform.js';
import { boxSize, cropVolume, foregroundBox } from '../ts/pipeline/crop.js';
import { minMax, normalizeIntensities } from '../ts/pipeline/intensity.js';
import { segment } from '../ts/pipeline/segment.js';
import { createOrtNetwork } from './engines/ort.js';
import { packageVersion, voxsegVersion } from './engines/engine.js';
import { brainchopSegment, loadBrainchopModel } from './peers/brainchop.js';
import { childJob, finishChild, runInChild } from './lib/child.js';
import { T1_CROP } from './lib/data.js';
import type { MachineLimits } from './machine.js';
import { comparisonTable, type ResultRow, skippedList } from './lib/report.js';
import { type RepeatPolicy, timeAfterWarmup } from './lib/stats.js';
import {
  hasData,
  type Suite,
  suiteMain,
  type SuiteOptions,
  type SuiteOutput,
} from './lib/suite.js';

const SCRIPT = fileURLToPath(import.meta.url);
const MODELS = ['model5_gw_ae', 'model30chan18cls'];
const PEERS = ['brainchop-tfjs', 'ort-node', 'ort-web'];

interface SegmentJob {
  threads: number;
  models: string[];
  engines: string[];
  dataDir: string;
  policy: RepeatPolicy;
  capSeconds: number;
}

interface SegmentChildResult {
  rows: ResultRow[];
  versions: Record<string, string>;
}

/** The models of each thread count: every model at the largest count, the first elsewhere. */
function plan(options: SuiteOptions): Map<number, string[]> {
  const models = (options.quick ? MODELS.slice(0, 1) : MODELS).filter(
    (m) => !options.filter || options.filter.test(m),
  );
  const most = Math.max(...options.threads);
  return new Map(options.threads.map((t) => [t, t === most ? models : models.slice(0, 1)]));
}

async function run(options: SuiteOptions, limits?: MachineLimits): Promise<SuiteOutput> {
  if (!hasData(options, T1_CROP)) return absent(options);
  const policy: RepeatPolicy = options.quick
    ? { budgetMs: 0, minRuns: 1, maxRuns: 1 }
    : { budgetMs: 60_000, minRuns: 2, maxRuns: 5 };
  // A quick run leaves brainchop out unless asked for: TensorFlow.js takes minutes per run.
  const peers =
    options.engines ?? (options.quick ? PEERS.filter((p) => p !== 'brainchop-tfjs') : PEERS);
  const engines = ['voxseg-wasm', ...peers.filter((e) => e !== 'voxseg-wasm')];
  const rows: ResultRow[] = [];
  const versions: Record<string, string> = {};
  for (const [threads, models] of plan(options)) {
    if (!models.length) continue;
    const here = threads > 1 ? engines.filter((e) => e !== 'brainchop-tfjs') : engines;
    const job: SegmentJob = {
      threads,
      models,
      engines: here,
      dataDir: options.dataDir,
      policy,
      capSeconds: options.capSeconds * 40,
    };
    const result = await runInChild<SegmentChildResult>(SCRIPT, job);
    rows.push(...result.rows);
    Object.assign(versions, result.versions);
  }
  const fma = limits?.fma.gflops ?? undefined;
  for (const row of rows) if (fma && row.rate) row.limit = fma * row.threads;
  if (engines.includes('brainchop-tfjs')) rows.push(...brainchopEstimates(rows));
  const notes = segmentNotes(rows);
  return {
    rows,
    versions,
    notes,
    threads: [...plan(options).keys()],
    markdown: segmentTables(rows, engines, notes),
  };
}

/**
 * brainchop runs only in the 1-thread child; for a model measured only elsewhere (a long run
 * at 1 thread), a skipped row with its time estimated from brainchop's rate on another model.
 */
function brainchopEstimates(rows: ResultRow[]): ResultRow[] {
  const group = 'segment pipeline on t1_crop';
  const measured = rows.filter((r) => r.engine === 'brainchop-tfjs' && r.rate);
  if (!measured.length) return [];
  const rate = Math.max(...measured.map((r) => r.rate!));
  const has = (id: string) => rows.some((b) => b.case === id && b.engine === 'brainchop-tfjs');
  const ours = rows.filter((r) => r.group === group && r.engine === 'voxseg-wasm');
  const missing = new Map(ours.filter((r) => !has(r.case)).map((r) => [r.case, r]));
  return [...missing.values()].map((r) => {
    const minutes = r.work / rate / 1e9 / 60;
    const skipped =
      `not run: estimated ${minutes.toFixed(0)} min per run ` +
      `at its ${rate.toFixed(2)} GFLOP/s on ${measured[0].case}`;
    return {
      case: r.case,
      group,
      engine: 'brainchop-tfjs',
      threads: 1,
      unit: r.unit,
      work: r.work,
      skipped,
    };
  });
}

/** Without t1_crop: an empty result that says why. */
function absent(options: SuiteOptions): SuiteOutput {
  const note = `skipped: ${join(options.dataDir, T1_CROP)} is absent`;
  return { rows: [], versions: {}, notes: [note], threads: options.threads, markdown: `- ${note}` };
}

function segmentTables(rows: ResultRow[], engines: string[], notes: string[]): string {
  const parts: string[] = [];
  for (const key of [...new Set(rows.map((r) => `${r.group}|${r.threads}`))]) {
    const [group, threads] = key.split('|');
    const subset = rows.filter(
      (r) => r.group === group && (r.threads === Number(threads) || r.engine === 'brainchop-tfjs'),
    );
    const present = engines.filter((e) => subset.some((r) => r.engine === e && !r.skipped));
    parts.push(
      `### ${group}, voxseg on ${threads} thread(s)\n`,
      comparisonTable(subset, present),
      '',
    );
  }
  parts.push(...notes.map((n) => `- ${n}`));
  return parts.join('\n');
}

/** Stage times, agreement with voxseg, skips. */
function segmentNotes(rows: ResultRow[]): string[] {
  const lines: string[] = [];
  for (const row of rows.filter((r) => r.rate)) {
    const stages = Object.entries(row.extra ?? {}).map(
      ([k, v]) => `${k} ${typeof v === 'number' ? (v / 1000).toFixed(2) + ' s' : v}`,
    );
    const agree = row.agreement ? `; ${row.agreement}` : '';
    lines.push(
      `${row.group}, ${row.case}, ${row.engine} (${row.threads} thread(s)): ` +
        `median ${(row.sample!.medianMs / 1000).toFixed(2)} s` +
        `${stages.length ? ` (${stages.join(', ')})` : ''}${agree}`,
    );
  }
  lines.push(
    'brainchop-tfjs runs one thread (TensorFlow.js in Node): ' +
      'it stands next to every voxseg thread count',
  );
  return [...lines, ...skippedList(rows).map((s) => `skipped: ${s}`)];
}

// ------------------------------------------------------------------ child process

/** Floating-point operations of a model's convs over a (D, H, W) input. */
export function networkFlops(graph: ModelGraph, dims: readonly [number, number, number]): number {
  const voxels = dims[0] * dims[1] * dims[2];
  return graph.layers.reduce((sum, layer) => {
    if (layer.kind !== 'conv3d') return sum;
    const [cout, cin, kd, kh, kw] = layer.weightShape;
    return sum + 2 * cout * cin * kd * kh * kw * voxels;
  }, 0);
}

/** The crop and normalised input every network engine gets, as segment() prepares it. */
function networkInput(volume: Volume, model: LoadedModel) {
  const conformed = conformVolume(volume).volume;
  const normalized = normalizeIntensities(conformed.data, model.recipe.normalization);
  const threshold = model.recipe.cropThreshold * minMax(normalized)[1];
  const box = foregroundBox(normalized, conformed.dims, threshold, model.recipe.cropPadding);
  const [sx, sy, sz] = boxSize(box);
  return {
    input: cropVolume(normalized, conformed.dims, box),
    dims: [sz, sy, sx] as [number, number, number],
    conformed,
  };
}

/** Share of voxels with the same label, as text. */
function sameLabels(a: ArrayLike<number>, b: ArrayLike<number>): string {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return `${((100 * same) / a.length).toFixed(3)} % of voxels labelled as voxseg`;
}

interface ModelContext {
  name: string;
  model: LoadedModel;
  /** The model's directory (model.json and shards). */
  dir: string;
  volume: Volume;
  flops: number;
  network: ReturnType<typeof networkInput>;
  job: SegmentJob;
  best: Map<string, number>;
  backend: WasmBackend;
}

function row(ctx: ModelContext, group: string, engine: string, threads: number): ResultRow {
  return { case: ctx.name, group, engine, threads, unit: 'GFLOP/s', work: ctx.flops };
}

/** Skip past the cap, judged from the engine's best rate so far. */
function overCap(ctx: ModelContext, engine: string): string | null {
  const rate = ctx.best.get(engine);
  if (!rate) return null;
  const seconds = ctx.flops / rate / 1e9;
  return seconds > ctx.job.capSeconds
    ? `estimated ${(seconds / 60).toFixed(0)} min per run at ${rate.toFixed(2)} GFLOP/s ` +
        `(cap ${ctx.job.capSeconds} s)`
    : null;
}

/** Time `call` (after `warmup`), fill the row, remember the rate; failures become skips. */
async function timed(
  ctx: ModelContext,
  base: ResultRow,
  warmup: () => Promise<unknown>,
  call: () => Promise<unknown>,
): Promise<ResultRow> {
  const skip = overCap(ctx, base.engine);
  if (skip) return { ...base, skipped: skip };
  try {
    const sample = await timeAfterWarmup(warmup, call, ctx.job.policy);
    const rate = base.work / sample.medianMs / 1e6;
    ctx.best.set(base.engine, Math.max(ctx.best.get(base.engine) ?? 0, rate));
    return { ...base, sample, rate, cpuRate: base.work / sample.cpuMs / 1e6 };
  } catch (error) {
    return { ...base, skipped: `failed: ${(error as Error).message.split('\n')[0]}` };
  }
}

/** voxseg's warm-up: the network once on a 16^3 input (compiles the kernels' fast tier). */
async function warmVoxseg(ctx: ModelContext): Promise<void> {
  const prepared = await prepareModel(ctx.backend, ctx.model.graph);
  const channels = ctx.model.graph.inputChannels;
  await runModel(prepared, new Float32Array(channels * 16 ** 3).fill(0.5), [16, 16, 16]);
  prepared.release();
}

/** voxseg's segment() and brainchop in TensorFlow.js, on the whole pipeline. */
async function pipelineRows(ctx: ModelContext): Promise<ResultRow[]> {
  const group = 'segment pipeline on t1_crop';
  let labels: ArrayLike<number> = [];
  let stages: Record<string, number> = {};
  const ours = await timed(
    ctx,
    row(ctx, group, 'voxseg-wasm', ctx.job.threads),
    () => warmVoxseg(ctx),
    async () => {
      const result = await segment(ctx.volume, ctx.model, { backend: ctx.backend });
      labels = result.conformed.labels;
      stages = Object.fromEntries(
        Object.entries(result.timings).map(([k, v]) => [k, Math.round(v)]),
      );
    },
  );
  if (ours.rate) ours.extra = stages;
  const rows = [ours];
  if (ctx.job.engines.includes('brainchop-tfjs')) rows.push(await brainchopRow(ctx, group, labels));
  return rows;
}

async function brainchopRow(
  ctx: ModelContext,
  group: string,
  expected: ArrayLike<number>,
): Promise<ResultRow> {
  const base = { ...row(ctx, group, 'brainchop-tfjs', 1) };
  const dir = ctx.dir;
  const conformed = ctx.network.conformed;
  const data = Uint8Array.from(conformed.data as ArrayLike<number>);
  let loaded: Awaited<ReturnType<typeof loadBrainchopModel>> | null = null;
  let extra: Record<string, number> = {};
  let labels: Uint8Array | null = null;
  const [d, h, w] = ctx.network.dims;
  const result = await timed(
    ctx,
    base,
    async () => {
      // Warm the kernels on a 16^3 copy of the model, then load it for the crop (Keras x, y, z).
      const { tf, model } = await loadBrainchopModel(dir, [16, 16, 16]);
      tf.tidy(() => model.predict(tf.zeros([1, 16, 16, 16, 1])));
      loaded = await loadBrainchopModel(dir, [w, h, d]);
    },
    async () => {
      const out = await brainchopSegment(
        loaded!,
        data,
        conformed.dims as [number, number, number],
        ctx.model.recipe,
      );
      labels = out.labels;
      extra = Object.fromEntries(Object.entries(out.timings).map(([k, v]) => [k, Math.round(v)]));
    },
  );
  if (labels) Object.assign(result, { extra, agreement: sameLabels(labels, expected) });
  return result;
}

/** The network alone: voxseg's runModel, then the ONNX export on each onnxruntime. */
async function networkRows(ctx: ModelContext): Promise<ResultRow[]> {
  const group = 'network on the t1_crop crop';
  const { input, dims } = ctx.network;
  let expected: Int32Array = new Int32Array(0);
  const prepared = await prepareModel(ctx.backend, ctx.model.graph);
  const ours = await timed(
    ctx,
    row(ctx, group, 'voxseg-wasm', ctx.job.threads),
    () => warmVoxseg(ctx),
    async () => (expected = (await runModel(prepared, input, dims)).labels!),
  );
  prepared.release();
  const rows = [ours];
  for (const engine of ctx.job.engines.filter((e): e is 'ort-node' | 'ort-web' =>
    e.startsWith('ort-'),
  )) {
    rows.push(await ortRow(ctx, group, engine, expected));
  }
  return rows;
}

async function ortRow(
  ctx: ModelContext,
  group: string,
  engine: 'ort-node' | 'ort-web',
  expected: Int32Array,
) {
  const { input, dims } = ctx.network;
  const base = row(ctx, group, engine, ctx.job.threads);
  let labels: Int32Array | null = null;
  let network: Awaited<ReturnType<typeof createOrtNetwork>> | null = null;
  const result = await timed(
    ctx,
    base,
    async () => (network = await createOrtNetwork(engine, ctx.job.threads, ctx.model.graph, dims)),
    async () => (labels = await network!.run(input)),
  );
  await (network as { dispose(): Promise<void> } | null)?.dispose();
  if (labels) result.agreement = sameLabels(labels, expected);
  return result;
}

async function runJob(job: SegmentJob): Promise<SegmentChildResult> {
  const volume = await readVolume(join(job.dataDir, T1_CROP));
  const backend = await createWasmBackend({ threads: job.threads });
  const best = new Map<string, number>();
  const rows: ResultRow[] = [];
  for (const name of job.models) {
    const model = await loadModelByName(name, { modelsDir: join(job.dataDir, 'brainchop') });
    const network = networkInput(volume, model);
    const flops = networkFlops(model.graph, network.dims);
    const ctx: ModelContext = {
      name,
      model,
      dir: model.resolved.dir,
      volume,
      flops,
      network,
      job,
      best,
      backend,
    };
    rows.push(...(await pipelineRows(ctx)), ...(await networkRows(ctx)));
    console.log(
      `[segment ${job.threads}t] ${name}: ${rows
        .slice(-5)
        .map((r) => `${r.group.split(' ')[0]} ${r.engine} ${r.rate?.toFixed(1) ?? 'skip'}`)
        .join(', ')}`,
    );
  }
  await backend.dispose();
  const versions = {
    'voxseg-wasm': voxsegVersion(),
    '@tensorflow/tfjs-layers': packageVersion('@tensorflow/tfjs-layers'),
  };
  return { rows, versions };
}

/** The segment suite. */
export const segmentSuite: Suite = {
  name: 'segment',
  title: 'segment pipeline and network against the peers',
  run,
};

const child = childJob<SegmentJob>();
if (child) finishChild(child.resultFile, await runJob(child.job));
else if (process.argv[1] === SCRIPT) await suiteMain(segmentSuite);
