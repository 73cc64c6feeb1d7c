/**
 * `voxseg segment <volume> --model <name|dir> -o <labels.nii.gz>`: the main job.
 */
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { backendOption } from './options.js';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { expected, InputError } from '../engine/errors.js';
import type { Backend } from '../engine/backend.js';
import { probeBackends, selectBackend } from '../engine/registry.js';
import { readVolume, writeFileAtomic, writeVolume } from '../io/files.js';
import type { ModelRecipe } from '../model/catalog.js';
import type { LoadedModel } from '../model/model.js';
import { loadModelByName } from '../model/resolve.js';
import { renderPreview } from '../pipeline/preview.js';
import { segment, type SegmentResult } from '../pipeline/segment.js';
import { duration, mebibytes, table } from './format.js';
import { stageProgress } from './progress.js';

interface SegmentFlags {
  model: string;
  output: string;
  backend?: string;
  preview?: string;
  overwrite?: boolean;
  fallback?: boolean;
  modelsDir?: string;
  chunkPlanes?: number;
  memoryBudget?: number;
  normalization?: ModelRecipe['normalization'];
  cropPadding?: number;
  cropThreshold?: number;
  largestComponent: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** Add the `segment` command to the program. */
export function registerSegmentCommand(program: Command): void {
  program
    .command('segment')
    .description('segment a volume with a pre-trained model and write the label volume')
    .argument('<volume>', 'input volume (.nii, .nii.gz, .mgh, .mgz)')
    .option(
      '-m, --model <name|dir>',
      "catalog name (see 'voxseg models') or model directory",
      'model5_gw_ae',
    )
    .requiredOption('-o, --output <file>', 'output label volume (.nii or .nii.gz)')
    .option(
      '-b, --backend <name>',
      'auto, cuda, webgpu, wasm or reference (default: VOXSEG_BACKEND or auto)',
      backendOption,
    )
    .option('--preview <file.png>', 'also write a PNG of three orthogonal slices with the labels')
    .option('--overwrite', 'replace the output files if they exist')
    .option(
      '--fallback',
      'when the backend fails while running (GPU lost or out of memory), retry on the next one',
    )
    .option('--models-dir <dir>', 'local models directory (default: VOXSEG_MODELS)')
    .option(
      '--chunk-planes <n>',
      'planes per streaming step (default: planned from the budget)',
      positiveInt,
    )
    .option('--memory-budget <MiB>', 'activation memory budget in MiB (default 2048)', positiveInt)
    .addOption(
      new Option('--normalization <method>', 'override the model recipe').choices([
        'minmax',
        'quantile',
      ]),
    )
    .option('--crop-padding <voxels>', 'override the crop margin of the recipe', nonNegativeInt)
    .option(
      '--crop-threshold <fraction>',
      'override the crop threshold (fraction of the maximum)',
      fraction,
    )
    .option('--no-largest-component', 'keep every connected component')
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'print only the result')
    .action(runSegment);
}

async function runSegment(input: string, flags: SegmentFlags): Promise<void> {
  checkOutputs(input, flags);
  const started = performance.now();
  const progress = stageProgress(Boolean(flags.quiet || flags.json));
  const say = (line: string) => !flags.quiet && !flags.json && console.error(line);

  const readStart = performance.now();
  const volume = await readVolume(input);
  const model = await loadModelByName(
    flags.model,
    { modelsDir: flags.modelsDir },
    recipeOverrides(flags),
  );
  const readMs = performance.now() - readStart;
  const { backend, reason } = await selectBackend(flags.backend);
  say(`backend: ${reason}`);
  say(`model: ${model.name} (${model.graph.outputChannels} classes, from ${model.resolved.dir})`);

  const result = await segment(volume, model, {
    backend,
    fallbacks: flags.fallback ? await fallbackBackends(backend) : [],
    onFallback: (from, to, error) =>
      say(`${from.name} failed (${error.message}); retrying on ${to.name}`),
    file: input,
    chunkPlanes: flags.chunkPlanes,
    memoryBudget: flags.memoryBudget && flags.memoryBudget * 2 ** 20,
    onProgress: (stage, fraction) => progress.update(stage, fraction),
  });
  progress.stop();

  const writeStart = performance.now();
  await writeVolume(flags.output, result.labels, { overwrite: flags.overwrite });
  if (flags.preview) {
    const png = renderPreview(result.conformed.volume, result.conformed.labels, {
      colors: model.colors,
    });
    await writeFileAtomic(flags.preview, png, { overwrite: flags.overwrite });
  }
  const timings = { read: readMs, ...result.timings, write: performance.now() - writeStart };
  report(flags, input, model, result, timings, result.backend, performance.now() - started);
}

/** The backends after `chosen` in auto order that can run here, the reference excepted. */
async function fallbackBackends(chosen: Backend): Promise<Backend[]> {
  const probes = await probeBackends();
  const after = probes.slice(probes.findIndex((probe) => probe.name === chosen.name) + 1);
  return after.flatMap((probe) =>
    probe.available && probe.backend && probe.name !== 'reference' ? [probe.backend] : [],
  );
}

/**
 * Fail before any work when the outputs cannot be written: a missing or read-only directory,
 * an unsupported extension, an existing file without --overwrite, or an output that is the
 * input or the other output.
 */
function checkOutputs(input: string, flags: SegmentFlags): void {
  const outputs = [
    { option: '--output', path: flags.output, extensions: ['.nii', '.nii.gz'] },
    { option: '--preview', path: flags.preview, extensions: ['.png'] },
  ];
  const seen = new Map([[canonical(input), 'the input']]);
  for (const { option, path, extensions } of outputs) {
    if (!path) continue;
    const same = seen.get(canonical(path));
    if (same) throw new InputError(`${option} is the same file as ${same}`, { file: path });
    seen.set(canonical(path), option);
    if (!extensions.some((extension) => path.toLowerCase().endsWith(extension))) {
      throw expected(`a file name ending in ${extensions.join(' or ')}`, option, path);
    }
    checkWritable(option, path, flags.overwrite);
  }
}

function checkWritable(option: string, path: string, overwrite?: boolean): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw expected('an existing directory', `the directory of ${option}`, dir, { file: path });
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw expected('a writable directory', `the directory of ${option}`, dir, { file: path });
  }
  if (existsSync(path) && !overwrite) {
    throw new InputError(`${option} exists already`, {
      file: path,
      hint: 'pass --overwrite to replace it',
    });
  }
}

/** The path with links and `..` resolved (for an existing file) or just made absolute. */
function canonical(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    return join(realpathOrSelf(dirname(absolute)), basename(absolute));
  }
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function recipeOverrides(flags: SegmentFlags): Partial<ModelRecipe> {
  const overrides: Partial<ModelRecipe> = { largestComponent: flags.largestComponent };
  if (flags.normalization) overrides.normalization = flags.normalization;
  if (flags.cropPadding !== undefined) overrides.cropPadding = flags.cropPadding;
  if (flags.cropThreshold !== undefined) overrides.cropThreshold = flags.cropThreshold;
  return overrides;
}

function report(
  flags: SegmentFlags,
  input: string,
  model: LoadedModel,
  result: SegmentResult,
  timings: Record<string, number>,
  backend: string,
  totalMs: number,
): void {
  const counts = labelCounts(result.labels.data, model.graph.outputChannels);
  const voxelMl = result.labels.spacing.reduce((a, b) => a * b, 1) / 1000;
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const summary = {
    input,
    output: flags.output,
    model: model.name,
    backend,
    timingsMs: roundAll({ ...timings, total: totalMs }),
    memory: { ...result.memory, maxRssBytes: maxRss },
    crop: result.crop,
    components: result.components,
    labels: counts.map((voxels, label) => ({
      label,
      name: model.labelNames[label],
      voxels,
      ml: voxels * voxelMl,
    })),
  };
  if (flags.json) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  if (!flags.quiet) {
    const stages = Object.entries(summary.timingsMs).map(([stage, ms]) => [stage, duration(ms)]);
    console.error(table([['stage', 'time'], ...stages]));
    console.error(
      `memory: activations peak ${mebibytes(result.memory.peakBytes)} (planned ` +
        `${mebibytes(result.memory.plannedBytes)}, ${result.memory.chunkPlanes} planes per step), ` +
        `process peak RSS ${mebibytes(maxRss)}`,
    );
    const parts = result.components;
    if (parts && parts.components > 1) {
      console.error(
        `clean-up: kept the largest of ${parts.components} components, dropped ` +
          `${parts.dropped} voxel${parts.dropped === 1 ? '' : 's'}`,
      );
    }
  }
  const rows = summary.labels
    .filter((row) => row.label > 0)
    .map((row) => [row.label, row.name, row.voxels, row.ml.toFixed(1)]);
  console.log(table([['label', 'name', 'voxels', 'mL'], ...rows]));
  console.log(`wrote ${flags.output}${flags.preview ? ` and ${flags.preview}` : ''}`);
}

function labelCounts(data: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < data.length; i++) counts[data[i]]++;
  return counts;
}

function roundAll(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Math.round(value)]));
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('expected a number in [0, 1)');
  return n;
}
