/**
 * Label confusion (per-label TP, FP, FN: everything Dice needs) side by side: voxseg's wasm
 * backend against plain JavaScript (three ways; the fastest sets the ratio) and TensorFlow.js
 * (equal, logicalAnd and sum per label, as a JavaScript ML library computes Dice), on the 256^3
 * pair (niivue's labels256 against brainchop's v3_labels, the same subject labelled twice) and
 * a synthetic 512x512x300 pair, each stored as uint8 and as uint16.
 *
 * Rates are GB/s of label data read (both maps); the limit is the machine's read bandwidth at
 * the same thread count. voxseg's timed call counts the two host arrays with countHostLabels
 * (what `voxseg eval` and a caller with host arrays run: the maps stream into wasm memory in
 * cache-sized slabs, each counted while it is in cache); its count alone, on maps already in
 * wasm memory, is reported next to it.
 * Every engine's counts must equal voxseg's exactly.
 *
 * Run alone: npx tsx bench/dice.ts [--quick] [--threads 1,2] [--filter <regex>] [--engines ...]
 */
import { fileURLToPath } from 'node:url';
import '../ts/node.js';
import { createWasmBackend } from '../ts/backends/wasm/index.js';
import type { WasmBackend } from '../ts/backends/wasm/backend.js';
import type { LabelCounts } from '../ts/engine/backend.js';
import { countHostLabels } from '../ts/metrics/confusion.js';
import { loadTf, useTfBackend } from './engines/tfjs.js';
import { packageVersion, voxsegVersion } from './engines/engine.js';
import { type LabelPair, realPair256, syntheticPair } from './lib/data.js';
import type { MachineLimits } from './machine.js';
import { JS_COUNTERS, type JsCounts, type LabelArray } from './peers/dice-js.js';
import { comparisonTable, extraRate, type ResultRow, skippedList } from './lib/report.js';
import { type RepeatPolicy, timeRepeated } from './lib/stats.js';
import { type Suite, suiteMain, type SuiteOptions, type SuiteOutput } from './lib/suite.js';

const SCRIPT = fileURLToPath(import.meta.url);

/** One measured pair in one dtype. */
interface DiceCase {
  id: string;
  pair: LabelPair;
  dtype: 'uint8' | 'uint16';
  pred: LabelArray;
  ref: LabelArray;
}

/** Counts as every engine reports them: tp, and each map's count per label. */
type Counts = JsCounts;

function fromLabelCounts(c: LabelCounts): Counts {
  return { tp: c.tp, pred: c.tp.map((t, l) => t + c.fp[l]), ref: c.tp.map((t, l) => t + c.fn[l]) };
}

function sameCounts(a: Counts, b: Counts): boolean {
  const same = (x: Float64Array, y: Float64Array) =>
    x.length === y.length && x.every((v, i) => v === y[i]);
  return same(a.tp, b.tp) && same(a.pred, b.pred) && same(a.ref, b.ref);
}

/** The pairs in both dtypes (quick: one small synthetic pair). */
async function diceCases(options: SuiteOptions): Promise<DiceCase[]> {
  const pairs = options.quick
    ? [syntheticPair([64, 64, 48], 4, 3)]
    : [await realPair256(options), syntheticPair([512, 512, 300], 4, 5)];
  const cases: DiceCase[] = [];
  for (const pair of pairs) {
    for (const dtype of ['uint8', 'uint16'] as const) {
      const widen = (a: Uint8Array) => (dtype === 'uint8' ? a : Uint16Array.from(a));
      cases.push({
        id: `${pair.name} ${dtype}`,
        pair,
        dtype,
        pred: widen(pair.pred),
        ref: widen(pair.ref),
      });
    }
  }
  return cases.filter((c) => !options.filter || options.filter.test(c.id));
}

/** A row of this suite with the case's fields filled in. */
function baseRow(c: DiceCase, engine: string, threads: number): ResultRow {
  const group = `label confusion ${c.pair.name}`;
  const work = c.pred.byteLength + c.ref.byteLength;
  return { case: c.id, group, engine, threads, unit: 'GB/s', work };
}

/** Fill a row's rates from a sample. */
function rated(row: ResultRow, sample: ResultRow['sample']): ResultRow {
  return {
    ...row,
    sample,
    rate: row.work / sample!.medianMs / 1e6,
    cpuRate: row.work / sample!.cpuMs / 1e6,
  };
}

/** voxseg: the host arrays counted in slabs; and the count alone on resident maps. */
async function measureVoxseg(backend: WasmBackend, c: DiceCase, policy: RepeatPolicy) {
  const [nx, ny, nz] = c.pair.dims;
  const shape = [1, nz, ny, nx]; // (N, D, H, W)
  const numLabels = c.pair.numLabels;
  const sample = await timeRepeated(
    () => countHostLabels(backend, c.pred, c.ref, numLabels),
    policy,
  );
  const streamed = fromLabelCounts(await countHostLabels(backend, c.pred, c.ref, numLabels));
  const pred = await backend.upload(c.pred, shape);
  const ref = await backend.upload(c.ref, shape);
  const kernel = await timeRepeated(() => backend.labelConfusion(pred, ref, numLabels), policy);
  const counts = fromLabelCounts(await backend.labelConfusion(pred, ref, numLabels));
  [pred, ref].forEach((t) => backend.release(t));
  if (!sameCounts(streamed, counts))
    throw new Error(`${c.id}: counts of the streamed host arrays differ from the resident maps'`);
  return { sample, kernel, counts };
}

/** TensorFlow.js: the maps as int32 tensors, then per label the three sums. */
async function countTf(backend: 'cpu' | 'wasm', c: DiceCase): Promise<Counts> {
  const tf = await loadTf();
  await useTfBackend(tf, backend, 1);
  const labels = c.pair.numLabels;
  const pred = tf.tensor1d(Int32Array.from(c.pred), 'int32');
  const ref = tf.tensor1d(Int32Array.from(c.ref), 'int32');
  const counts: Counts = {
    tp: new Float64Array(labels),
    pred: new Float64Array(labels),
    ref: new Float64Array(labels),
  };
  for (let l = 0; l < labels; l++) {
    const sums = tf.tidy(() => {
      const p = tf.equal(pred, l);
      const r = tf.equal(ref, l);
      const both = tf.sum(tf.cast(tf.logicalAnd(p, r), 'int32'));
      return tf.stack([both, tf.sum(tf.cast(p, 'int32')), tf.sum(tf.cast(r, 'int32'))]);
    });
    [counts.tp[l], counts.pred[l], counts.ref[l]] = await sums.data();
    sums.dispose();
  }
  [pred, ref].forEach((t) => t.dispose());
  return counts;
}

/** A peer counter by engine name: the plain-JS ones and TensorFlow.js. */
function peerCounter(engine: string): ((c: DiceCase) => Promise<Counts>) | null {
  if (engine in JS_COUNTERS) {
    const count = JS_COUNTERS[engine as keyof typeof JS_COUNTERS];
    return async (c) => count(c.pred, c.ref, c.pair.numLabels);
  }
  if (engine === 'tfjs-wasm') return (c) => countTf('wasm', c);
  if (engine === 'tfjs-cpu') return (c) => countTf('cpu', c);
  return null;
}

/** Time a peer on a case (one thread), or skip it past the cap; counts must equal voxseg's. */
async function measurePeer(engine: string, c: DiceCase, expected: Counts, ctx: RunContext) {
  const row = baseRow(c, engine, 1);
  const count = peerCounter(engine);
  if (!count) return { ...row, skipped: 'unknown engine' };
  const best = ctx.best.get(engine);
  const estimate = best ? (row.work / best / 1e9) * (1 + ctx.policy.minRuns) : 0;
  if (estimate > ctx.capSeconds)
    return { ...row, skipped: `estimated ${estimate.toFixed(0)} s (cap ${ctx.capSeconds} s)` };
  let counts: Counts | null = null;
  const sample = await timeRepeated(async () => (counts = await count(c)), ctx.policy);
  const result = rated(row, sample);
  ctx.best.set(engine, Math.max(best ?? 0, result.rate!));
  result.agreement = sameCounts(counts!, expected)
    ? 'counts equal'
    : 'DIFFERS: counts differ from voxseg';
  return result;
}

interface RunContext {
  policy: RepeatPolicy;
  capSeconds: number;
  best: Map<string, number>;
}

const PEERS = ['js-per-label', 'js-joint', 'js-joint-words', 'tfjs-wasm', 'tfjs-cpu'];

/** Every case: voxseg at each thread count, then each peer on one thread. */
async function run(options: SuiteOptions, limits?: MachineLimits): Promise<SuiteOutput> {
  const policy: RepeatPolicy = options.quick
    ? { budgetMs: 200, minRuns: 2, maxRuns: 3 }
    : { budgetMs: 2000, minRuns: 5, maxRuns: 15 };
  const ctx: RunContext = { policy, capSeconds: options.capSeconds, best: new Map() };
  const peers = (options.engines ?? PEERS).filter((e) => e !== 'voxseg-wasm');
  const backends = new Map<number, WasmBackend>();
  for (const t of options.threads) backends.set(t, await createWasmBackend({ threads: t }));
  const rows: ResultRow[] = [];
  const sources = new Set<string>();
  for (const c of await diceCases(options)) {
    sources.add(`${c.pair.name}: ${c.pair.source}`);
    let expected: Counts | null = null;
    for (const [threads, backend] of backends) {
      const { sample, kernel, counts } = await measureVoxseg(backend, c, policy);
      expected ??= counts;
      const row = rated(baseRow(c, 'voxseg-wasm', threads), sample);
      rows.push({
        ...row,
        extra: { countMs: kernel.medianMs, countRate: row.work / kernel.medianMs / 1e6 },
      });
    }
    for (const engine of peers) rows.push(await measurePeer(engine, c, expected!, ctx));
    console.log(
      `[dice] ${c.id}: ${rows
        .filter((r) => r.case === c.id)
        .map((r) => `${r.engine}/${r.threads} ${r.rate?.toFixed(2) ?? 'skip'}`)
        .join(', ')}`,
    );
  }
  for (const backend of backends.values()) await backend.dispose();
  attachLimits(rows, limits);
  const versions = {
    'voxseg-wasm': voxsegVersion(),
    '@tensorflow/tfjs-core': packageVersion('@tensorflow/tfjs-core'),
  };
  const notes = [...diceNotes(rows, peers), ...[...sources].map((s) => `pair ${s}`)];
  return {
    rows,
    versions,
    notes,
    threads: options.threads,
    markdown: diceTables(rows, peers, notes),
  };
}

/** Each row's limit: the read bandwidth at its thread count (the nearest measured). */
function attachLimits(rows: ResultRow[], limits?: MachineLimits): void {
  if (!limits) return;
  for (const row of rows) {
    const probe = limits.bandwidth.find((b) => b.threads === row.threads) ?? limits.bandwidth[0];
    if (row.rate && probe?.readGBs) row.limit = probe.readGBs;
  }
}

/** One table per pair and thread count; peers (one thread) stand next to every count. */
function diceTables(rows: ResultRow[], peers: string[], notes: string[]): string {
  const parts: string[] = [];
  for (const group of [...new Set(rows.map((r) => r.group))]) {
    const subset = rows.filter((r) => r.group === group);
    const counts = new Set(subset.filter((r) => r.engine === 'voxseg-wasm').map((r) => r.threads));
    for (const threads of counts) {
      const ours = subset.filter((r) => r.engine === 'voxseg-wasm' && r.threads === threads);
      const others = subset.filter((r) => r.engine !== 'voxseg-wasm');
      const present = peers.filter((p) => others.some((r) => r.engine === p && !r.skipped));
      const title = `### ${group}, voxseg on ${threads} thread(s), peers on 1 thread`;
      const count = extraRate('voxseg count alone', 'countRate');
      const table = comparisonTable([...ours, ...others], ['voxseg-wasm', ...present], [count]);
      parts.push(title, '', table, '');
    }
  }
  parts.push(...notes.map((n) => `- ${n}`));
  return parts.join('\n');
}

/** voxseg's ratio to the fastest plain-JS counter per case (the target), skips, disagreements. */
function diceNotes(rows: ResultRow[], peers: string[]): string[] {
  const lines: string[] = [];
  for (const id of [...new Set(rows.map((r) => r.case))]) {
    const js = rows.filter((r) => r.case === id && r.engine.startsWith('js-') && r.rate);
    const fastest = js.sort((a, b) => b.rate! - a.rate!)[0];
    for (const ours of rows.filter((r) => r.case === id && r.engine === 'voxseg-wasm' && r.rate)) {
      if (!fastest) continue;
      const count = Number(ours.extra?.countRate ?? 0);
      lines.push(
        `${id}, voxseg ${ours.threads} thread(s) / fastest plain JS (${fastest.engine}): ` +
          `${(ours.rate! / fastest.rate!).toFixed(2)}x from host arrays, ` +
          `${(count / fastest.rate!).toFixed(2)}x counting alone`,
      );
    }
  }
  for (const r of rows.filter((r) => r.agreement?.startsWith('DIFFERS')))
    lines.push(`${r.engine} on ${r.case}: ${r.agreement}`);
  void peers;
  return [...lines, ...skippedList(rows).map((s) => `skipped: ${s}`)];
}

/** The Dice suite. */
export const diceSuite: Suite = {
  name: 'dice',
  title: 'label confusion (Dice) against the peers',
  run,
};

if (process.argv[1] === SCRIPT) await suiteMain(diceSuite);
