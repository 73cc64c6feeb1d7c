/**
 * `voxseg eval <pred> <ref>`: score predicted label volumes against references, for one pair of
 * files or two folders whose cases are matched by file name. Prints per-case per-label metrics
 * and a summary as a table (default), JSON or CSV, to stdout or atomically to a file.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { backendOption } from './options.js';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Backend } from '../engine/backend.js';
import { InputError, VoxsegError, expected } from '../engine/errors.js';
import { logger } from '../engine/log.js';
import { selectBackend } from '../engine/registry.js';
import { readVolume, volumeFormat, writeFileAtomic } from '../io/files.js';
import type { Volume } from '../io/volume.js';
import type { EmptyDistance, EvaluateOptions } from '../metrics/conventions.js';
import type { PercentileRule } from '../metrics/distance.js';
import { type LabelResult, evaluate } from '../metrics/evaluate.js';
import { type LabelNames, parseLabelNames } from '../metrics/labelnames.js';
import {
  type EvaluatedCase,
  type EvaluationReport,
  type RunProblems,
  buildReport,
  reportToCsv,
  reportToJson,
  reportToTable,
} from '../metrics/report.js';

const log = logger('eval');

interface EvalFlags {
  backend?: string;
  labels?: number[];
  mapPred?: Map<number, number>;
  part?: Part;
  includeBackground?: boolean;
  ignoreLabel?: number;
  percentile: number;
  percentileRule: PercentileRule;
  nsdTolerance: number;
  emptyDistance: EmptyDistance;
  spacing?: [number, number, number];
  distances: boolean;
  beta: number;
  labelNames?: string;
  resample?: 'nearest';
  json?: boolean;
  csv?: boolean;
  output?: string;
  overwrite?: boolean;
  jobs: number;
  quiet?: boolean;
}

/** Files of one folder with no file of the same case name in the other. */
interface Unmatched {
  pred: string[];
  ref: string[];
}

/** One pair of files to evaluate. */
interface CasePair {
  name: string;
  pred: string;
  ref: string;
}

/**
 * Add the `eval` command to the program.
 *
 * @param program - the `voxseg` commander program.
 * @example
 * registerEvalCommand(program); // voxseg eval pred.nii.gz ref.nii.gz --json
 */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('score predicted label volumes against references (files or folders)')
    .argument('<pred>', 'predicted label volume, or a folder of them')
    .argument('<ref>', 'reference label volume, or a folder with the same file names')
    .option(
      '-b, --backend <name>',
      'backend for the counts and distance maps: auto, cuda, webgpu, wasm, reference',
      backendOption,
    )
    .option(
      '--labels <list>',
      'label values to report, e.g. 1,2,3 (default: all present)',
      labelList,
    )
    .option('--include-background', 'report label 0 too')
    .option(
      '--ignore-label <n>',
      'leave reference voxels with this label out of every count',
      integer,
    )
    .option('--percentile <p>', 'percentile of the percentile Hausdorff distance', percentage, 95)
    .addOption(
      new Option('--percentile-rule <rule>', 'percentile of each direction then max, or pooled')
        .choices(['per-direction', 'pooled'])
        .default('per-direction'),
    )
    .option('--nsd-tolerance <mm>', 'normalised surface Dice tolerance in mm', nonNegative, 1)
    .addOption(
      new Option('--empty-distance <mode>', 'distance when one mask is empty')
        .choices(['inf', 'diagonal'])
        .default('inf'),
    )
    .option('--spacing <x,y,z>', 'voxel size in mm overriding the headers', spacingTriple)
    .option('--no-distances', 'overlap metrics only (fast)')
    .option('--beta <b>', 'beta of the F-beta score', positive, 1)
    .option(
      '--map-pred <from:to,...>',
      'relabel each prediction before scoring, e.g. 1:2,2:1 (swaps labels 1 and 2)',
      labelMap,
    )
    .option('--label-names <file>', 'names: JSON (file.json#group), ITK-SNAP txt or FreeSurfer LUT')
    .addOption(
      new Option('--resample <method>', 'resample pred onto the ref grid').choices(['nearest']),
    )
    .option('--json', 'write JSON')
    .option('--csv', 'write CSV')
    .option('-o, --output <file>', 'write the result to this file (atomically) instead of stdout')
    .option('--overwrite', 'replace the output file if it exists')
    .option('-j, --jobs <n>', 'cases evaluated at the same time', positiveInteger, 2)
    .option(
      '--part <I/N>',
      "evaluate share I of N of the cases (folders; combine the JSON with 'voxseg merge')",
      partOption,
    )
    .option('-q, --quiet', 'print only the result')
    .action(runEval);
}

/** The command's action: pair up cases, evaluate them in a pool, write the report. */
async function runEval(predPath: string, refPath: string, flags: EvalFlags): Promise<void> {
  if (flags.json && flags.csv) {
    throw new InputError('choose one output format: --json or --csv, not both', { field: '--csv' });
  }
  const say = (line: string) => !flags.quiet && console.error(line);
  const started = performance.now();

  const cases = await pairCases(predPath, refPath);
  const { pairs, unmatched } = flags.part ? partOf(cases, flags.part) : cases;
  const folders = cases.folders;
  const options = await evaluateOptions(flags);
  const backend = (await selectBackend(flags.backend)).backend;
  say(`[eval] ${pairs.length} case(s) on backend ${backend.name}`);

  const work = (pair: CasePair) => evaluatePair(pair, backend, options, flags.mapPred);
  const outcomes = await runPool(pairs, flags.jobs, work, flags.quiet);
  const done = outcomes.filter((o): o is EvaluatedCase => 'evaluation' in o);
  const failed = outcomes.filter((o): o is FailedCase => 'error' in o);
  if (!folders && failed.length) throw failed[0].error;

  const problems = {
    unmatched,
    failed: failed.map((f) => ({ name: f.name, error: f.error.message })),
  };
  if (done.length) {
    const report = buildReport(done, problems);
    if (flags.mapPred) report.conventions.predLabelMap = describeLabelMap(flags.mapPred);
    if (flags.part) report.part = `${flags.part.index}/${flags.part.count}`;
    await writeReport(report, flags);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  say(`[eval] ${done.length} of ${pairs.length} case(s) evaluated in ${seconds} s`);
  reportProblems(
    failed.map((f) => ({ name: f.name, error: f.error.message })),
    unmatched,
  );
}

/** Share `index` of `count` (1-based): a deterministic slice of the cases. */
interface Part {
  index: number;
  count: number;
}

/**
 * The cases of one part: the pairs, in name order, whose position modulo N is I - 1. Unmatched
 * files are reported by part 1 only, so merged parts list each once.
 */
function partOf(cases: { pairs: CasePair[]; unmatched: Unmatched; folders: boolean }, part: Part) {
  if (!cases.folders) {
    throw new InputError('--part splits folders of cases; two files make one case', {
      field: '--part',
      value: `${part.index}/${part.count}`,
    });
  }
  const pairs = cases.pairs.filter((_, i) => i % part.count === part.index - 1);
  const unmatched = part.index === 1 ? cases.unmatched : { pred: [], ref: [] };
  return { pairs, unmatched };
}

function partOption(text: string): Part {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const [index, count] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (!match || count < 1 || index < 1 || index > count) {
    throw new InvalidArgumentError(`expected I/N with 1 <= I <= N, e.g. 2/8; received '${text}'`);
  }
  return { index, count };
}

/** Pairs of files: the two files, or the cases of two folders matched by file name. */
async function pairCases(
  predPath: string,
  refPath: string,
): Promise<{ pairs: CasePair[]; unmatched: Unmatched; folders: boolean }> {
  const [predIsDir, refIsDir] = await Promise.all([isDirectory(predPath), isDirectory(refPath)]);
  if (predIsDir !== refIsDir) {
    throw new InputError(
      `expected two files or two folders, received ${predIsDir ? 'folder' : 'file'} ${predPath} ` +
        `and ${refIsDir ? 'folder' : 'file'} ${refPath}`,
    );
  }
  if (!predIsDir) {
    const pairs = [{ name: caseName(basename(predPath)), pred: predPath, ref: refPath }];
    return { pairs, unmatched: { pred: [], ref: [] }, folders: false };
  }

  const [predCases, refCases] = await Promise.all([listCases(predPath), listCases(refPath)]);
  const pairs = [...predCases.keys()]
    .filter((name) => refCases.has(name))
    .sort()
    .map((name) => ({ name, pred: predCases.get(name)!, ref: refCases.get(name)! }));
  const unmatched = {
    pred: [...predCases].filter(([name]) => !refCases.has(name)).map(([, file]) => file),
    ref: [...refCases].filter(([name]) => !predCases.has(name)).map(([, file]) => file),
  };
  if (!pairs.length) {
    throw new InputError(`no case of ${predPath} has a file of the same name in ${refPath}`, {
      hint: 'cases are matched by file name without the extension (case01.nii.gz ~ case01.nii)',
    });
  }
  return { pairs, unmatched, folders: true };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw expected('an existing file or folder', 'argument', path, { hint: reason, cause: error });
  }
}

/** Volume files of a folder by case name (file name without its volume extension). */
async function listCases(folder: string): Promise<Map<string, string>> {
  const cases = new Map<string, string>();
  for (const entry of (await readdir(folder)).sort()) {
    const name = caseName(entry);
    if (entry.startsWith('.') || name === entry) continue;
    if (cases.has(name)) {
      throw new InputError(
        `two files for case '${name}' in ${folder}: ${basename(cases.get(name)!)}, ${entry}`,
      );
    }
    cases.set(name, join(folder, entry));
  }
  return cases;
}

/** A file's case name: its name without the volume extension (the name itself if none). */
function caseName(file: string): string {
  const format = volumeFormat(file);
  return format ? file.slice(0, -format.length - 1) : file;
}

/** Options for `evaluate` from the flags, label names read from their file. */
async function evaluateOptions(flags: EvalFlags): Promise<EvaluateOptions> {
  return {
    labels: flags.labels,
    includeBackground: flags.includeBackground,
    ignoreLabel: flags.ignoreLabel,
    percentile: flags.percentile,
    percentileRule: flags.percentileRule,
    nsdTolerance: flags.nsdTolerance,
    emptyDistance: flags.emptyDistance,
    spacing: flags.spacing,
    distances: flags.distances,
    beta: flags.beta,
    labelNames: flags.labelNames ? await readLabelNames(flags.labelNames) : undefined,
    resample: flags.resample ?? 'none',
  };
}

async function readLabelNames(spec: string): Promise<LabelNames> {
  const hash = spec.lastIndexOf('#');
  const [file, group] = hash > 0 ? [spec.slice(0, hash), spec.slice(hash + 1)] : [spec, undefined];
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read the label names: ${(error as Error).message}`, {
      file,
      cause: error,
    });
  }
  return parseLabelNames(text, file, group);
}

/** A case whose files could not be read or evaluated. */
interface FailedCase extends CasePair {
  error: Error;
}

/** Read and evaluate one pair; errors come back as values so other cases go on. */
async function evaluatePair(
  pair: CasePair,
  backend: Backend,
  options: EvaluateOptions,
  mapPred?: Map<number, number>,
): Promise<EvaluatedCase | FailedCase> {
  try {
    const [pred, ref] = await Promise.all([readVolume(pair.pred), readVolume(pair.ref)]);
    if (mapPred) relabel(pred.data, mapPred, pair.pred);
    const names = { pred: pair.pred, ref: pair.ref };
    const evaluation = await evaluate(pred, ref, { ...options, backend, names });
    warnIfNotLabels(pair.pred, evaluation.labels, (l) => l.tp + l.fp);
    warnIfNotLabels(pair.ref, evaluation.labels, (l) => l.tp + l.fn);
    const { countMs, distanceMs } = evaluation.timing;
    log.debug(
      () => `${pair.name}: counts ${countMs.toFixed(0)} ms, distances ${distanceMs.toFixed(0)} ms`,
    );
    return { ...pair, evaluation };
  } catch (error) {
    return { ...pair, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/** More distinct values than this, all in one unbroken run, suggest a map that is not labels. */
const DENSE_VALUES_WARNING = 150;

/**
 * Warn when a file holds many distinct values forming one unbroken run (1, 2, 3, ... 255):
 * the look of a probability or intensity map, whose every value eval would score as a label.
 * Label sets as large (FreeSurfer's) are sparse and pass silently.
 */
function warnIfNotLabels(
  file: string,
  labels: readonly LabelResult[],
  voxels: (label: LabelResult) => number,
): void {
  const present = labels.filter((l) => l.label > 0 && voxels(l) > 0).map((l) => l.label);
  if (present.length <= DENSE_VALUES_WARNING) return;
  const span = present[present.length - 1] - present[0] + 1;
  if (span !== present.length) return;
  console.error(
    `voxseg: warning: ${file} holds ${present.length} distinct values ${present[0]}..` +
      `${present[present.length - 1]}, each scored as a label; if it is a probability or ` +
      `intensity map, threshold it into labels first`,
  );
}

/**
 * Run `work` over the items with at most `jobs` in flight, results in item order. A bar on
 * stderr counts finished cases when stderr is a terminal.
 */
async function runPool<T, R>(
  items: readonly T[],
  jobs: number,
  work: (item: T) => Promise<R>,
  quiet = false,
): Promise<R[]> {
  const bar = !quiet && process.stderr.isTTY ? caseBar(items.length) : null;
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
      bar?.increment();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  } finally {
    bar?.stop();
  }
  return results;
}

function caseBar(total: number): SingleBar {
  const bar = new SingleBar({
    format: 'eval [{bar}] {value}/{total} cases | {duration_formatted}',
    stream: process.stderr,
    hideCursor: true,
  });
  bar.start(total, 0);
  return bar;
}

/**
 * Write a report as JSON, CSV or a table, to stdout or atomically to `flags.output`.
 */
export async function writeReport(
  report: EvaluationReport,
  flags: { json?: boolean; csv?: boolean; output?: string; overwrite?: boolean },
): Promise<void> {
  const text = flags.json
    ? reportToJson(report)
    : flags.csv
      ? reportToCsv(report)
      : reportToTable(report);
  if (!flags.output) {
    process.stdout.write(text);
    return;
  }
  await writeFileAtomic(flags.output, new TextEncoder().encode(text), {
    overwrite: Boolean(flags.overwrite),
  });
}

/** Print failed cases and unmatched files, then fail the command if there were any. */
export function reportProblems(failed: RunProblems['failed'], unmatched: Unmatched): void {
  const unmatchedCount = unmatched.pred.length + unmatched.ref.length;
  if (!failed.length && !unmatchedCount) return;

  for (const { error } of failed) console.error(`voxseg: ${error}`);
  for (const file of unmatched.pred) console.error(`[eval] no reference for ${file}`);
  for (const file of unmatched.ref) console.error(`[eval] no prediction for ${file}`);
  const problems = [
    failed.length ? `${failed.length} case(s) failed` : '',
    unmatchedCount ? `${unmatchedCount} unmatched file(s)` : '',
  ];
  throw new VoxsegError(
    `${problems.filter(Boolean).join(' and ')}, listed above and in the report`,
  );
}

/** Parse "1:2,2:1" into a map from prediction label to the label it is scored as. */
function labelMap(text: string): Map<number, number> {
  const map = new Map<number, number>();
  for (const part of text.split(',')) {
    const [from, to, extra] = part.split(':').map((v) => Number(v.trim()));
    const valid = [from, to].every((v) => Number.isInteger(v) && v >= 0) && extra === undefined;
    if (!valid || map.has(from)) {
      throw new InvalidArgumentError(
        `expected distinct from:to pairs of non-negative labels separated by commas, e.g. ` +
          `1:2,2:1; received '${part}'`,
      );
    }
    map.set(from, to);
  }
  return map;
}

function describeLabelMap(map: Map<number, number>): string {
  return [...map].map(([from, to]) => `${from}->${to}`).join(', ');
}

/** The largest label each integer array type holds (float arrays hold any). */
const LARGEST_LABEL = new Map<unknown, number>([
  [Uint8Array, 255],
  [Int8Array, 127],
  [Uint16Array, 65535],
  [Int16Array, 32767],
  [Int32Array, 2 ** 31 - 1],
  [Uint32Array, 2 ** 32 - 1],
]);

/** Apply `map` to every voxel in place; labels not in the map stay as they are. */
function relabel(data: Volume['data'], map: Map<number, number>, file: string): void {
  const limit = LARGEST_LABEL.get(data.constructor) ?? Infinity;
  for (const to of map.values()) {
    if (to > limit) {
      const what = `a label that fits the prediction's datatype (<= ${limit})`;
      throw expected(what, '--map-pred', to, { file });
    }
  }
  for (let i = 0; i < data.length; i++) {
    const to = map.get(data[i]);
    if (to !== undefined) data[i] = to;
  }
}

function labelList(text: string): number[] {
  const labels = text.split(',').map((part) => Number(part.trim()));
  if (!labels.length || labels.some((l) => !Number.isInteger(l))) {
    throw new InvalidArgumentError('expected integer label values separated by commas, e.g. 1,2,3');
  }
  return labels;
}

function spacingTriple(text: string): [number, number, number] {
  const values = text.split(',').map(Number);
  if (values.length !== 3 || values.some((v) => !(v > 0 && Number.isFinite(v)))) {
    throw new InvalidArgumentError('expected three positive voxel sizes in mm, e.g. 0.8,0.8,3');
  }
  return values as [number, number, number];
}

function integer(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value)) throw new InvalidArgumentError('expected an integer label value');
  return value;
}

function percentage(text: string): number {
  const value = Number(text);
  if (!(value >= 0 && value <= 100))
    throw new InvalidArgumentError('expected a number in [0, 100]');
  return value;
}

function nonNegative(text: string): number {
  const value = Number(text);
  if (!(value >= 0 && Number.isFinite(value)))
    throw new InvalidArgumentError('expected a number >= 0');
  return value;
}

function positive(text: string): number {
  const value = Number(text);
  if (!(value > 0 && Number.isFinite(value)))
    throw new InvalidArgumentError('expected a number > 0');
  return value;
}

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!(Number.isInteger(value) && value > 0))
    throw new InvalidArgumentError('expected an integer > 0');
  return value;
}
