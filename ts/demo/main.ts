/**
 * The demo page: open a volume, pick a served model and a backend, segment in this browser,
 * and see the slices with the labels, each stage's time, the backend and why it was chosen,
 * and Dice against optional reference labels and against the previous run on the same input.
 *
 * URL parameters prefill the form: `model` (a served model's name), `backend` (auto, webgpu,
 * wasm) and `cropPadding` (voxels). The page publishes its state as `window.voxsegDemo`.
 */
import type { DemoConfig } from '../cli/serve.js';
import {
  type Backend,
  expected,
  InputError,
  type LoadedModel,
  type SegmentResult,
  type SegmentStage,
  segment,
  selectBackend,
  serializeNifti,
  type Volume,
} from '../index.js';
import { dicePerLabel, labelVoxels } from './compare.js';
import { fillTable, labelHeader, labelRows, timingRows } from './report.js';
import {
  fetchConfig,
  fetchVolume,
  loadServedModel,
  type NamedVolume,
  readVolumeFile,
} from './sources.js';
import type { DemoRun, DemoState, DemoStatus } from './state.js';
import { SliceView } from './view.js';

/** A finished run with what a later run compares against. */
interface RunRecord {
  summary: DemoRun;
  labels: Volume;
  source: NamedVolume;
  modelKey: string;
}

const STAGES: readonly SegmentStage[] = [
  'conform',
  'normalize',
  'inference',
  'postprocess',
  'resample',
];

const ui = {
  body: document.body,
  isolation: element<HTMLParagraphElement>('isolation'),
  volumeFile: element<HTMLInputElement>('volume-file'),
  exampleButton: element<HTMLButtonElement>('example-button'),
  volumeInfo: element<HTMLParagraphElement>('volume-info'),
  model: element<HTMLSelectElement>('model'),
  modelInfo: element<HTMLParagraphElement>('model-info'),
  backend: element<HTMLSelectElement>('backend'),
  referenceFile: element<HTMLInputElement>('reference-file'),
  referenceInfo: element<HTMLParagraphElement>('reference-info'),
  cropPadding: element<HTMLInputElement>('crop-padding'),
  segmentButton: element<HTMLButtonElement>('segment-button'),
  progress: element<HTMLProgressElement>('progress'),
  stage: element<HTMLSpanElement>('stage'),
  error: element<HTMLParagraphElement>('error'),
  results: element<HTMLElement>('results'),
  backendInfo: element<HTMLParagraphElement>('backend-info'),
  timings: element<HTMLTableElement>('timings'),
  labels: element<HTMLTableElement>('labels'),
  download: element<HTMLAnchorElement>('download'),
};
const view = new SliceView(element('slices'), {
  x: element('slice-x'),
  y: element('slice-y'),
  z: element('slice-z'),
});

const state: DemoState = {
  status: 'loading',
  crossOriginIsolated: globalThis.crossOriginIsolated === true,
  runs: [],
};
window.voxsegDemo = state;

const inputs: { volume: NamedVolume | null; reference: NamedVolume | null } = {
  volume: null,
  reference: null,
};
const records: RunRecord[] = [];
const models = new Map<string, Promise<LoadedModel>>();
let config: DemoConfig = { models: [], example: null };

start().catch(showError);

async function start(): Promise<void> {
  ui.isolation.textContent = state.crossOriginIsolated
    ? `Cross-origin isolated: the wasm backend can use up to ${navigator.hardwareConcurrency} ` +
      'threads.'
    : 'Not cross-origin isolated: the wasm backend runs on one thread. Serve the page with ' +
      'voxseg serve, which sends the COOP/COEP headers threads need.';
  config = await fetchConfig(location.href);
  fillModels();
  applyUrlParameters();
  bindEvents();
  setStatus('ready');
}

/** The served models in the model list, or a note that there are none. */
function fillModels(): void {
  for (const model of config.models) {
    ui.model.add(new Option(`${model.name}: ${model.description}`, model.name));
  }
  if (!config.models.length) {
    ui.modelInfo.textContent =
      'The server holds no catalogued model: start voxseg serve with --models-dir.';
  }
  ui.exampleButton.hidden = !config.example;
  if (config.example) ui.exampleButton.textContent = `Use the example (${config.example.name})`;
}

function applyUrlParameters(): void {
  const parameters = new URLSearchParams(location.search);
  const model = parameters.get('model');
  if (model && config.models.some((served) => served.name === model)) ui.model.value = model;
  const backend = parameters.get('backend');
  if (backend && [...ui.backend.options].some((o) => o.value === backend)) {
    ui.backend.value = backend;
  }
  ui.cropPadding.value = parameters.get('cropPadding') ?? '';
}

function bindEvents(): void {
  ui.volumeFile.addEventListener('change', () =>
    guarded(async () => useVolume(await readVolumeFile(pickedFile(ui.volumeFile)))),
  );
  ui.exampleButton.addEventListener('click', () =>
    guarded(async () => {
      const example = config.example!;
      useVolume(await fetchVolume(new URL(example.url, location.href), example.name));
    }),
  );
  ui.referenceFile.addEventListener('change', () => guarded(useReference));
  ui.segmentButton.addEventListener('click', () => guarded(runSegmentation));
}

function useVolume(input: NamedVolume): void {
  inputs.volume = input;
  ui.volumeInfo.textContent = describeVolume(input);
}

async function useReference(): Promise<void> {
  const file = ui.referenceFile.files?.[0];
  inputs.reference = file ? await readVolumeFile(file) : null;
  ui.referenceInfo.textContent = inputs.reference ? describeVolume(inputs.reference) : '';
}

/** Segment the open volume with the chosen model and backend, then show and score the result. */
async function runSegmentation(): Promise<void> {
  const source = inputs.volume;
  if (!source) throw new InputError('open a volume (or the example) before segmenting');
  setStatus('running');
  await nextFrame();

  const timings: Record<string, number> = {};
  const { key, model } = await timed(timings, 'model', chosenModel);
  const selection = await timed(timings, 'backend', () => selectBackend(ui.backend.value));
  const result = await segment(source.volume, model, {
    backend: selection.backend,
    file: source.name,
    onProgress: showProgress,
  });
  Object.assign(timings, result.timings);
  timings.total = Object.values(timings).reduce((sum, ms) => sum + ms, 0);

  const info = selection.backend.info();
  const summary: DemoRun = {
    input: source.name,
    model: model.name,
    backend: info.name,
    reason: selection.reason,
    description: info.description,
    details: info.details,
    timingsMs: timings,
    labelVoxels: labelVoxels(result.labels.data, model.graph.outputChannels),
  };
  const record = { summary, labels: result.labels, source, modelKey: key };
  await score(record, selection.backend, inputs.reference);
  records.push(record);
  state.runs.push(summary);
  showRun(summary, model, result);
  setStatus('done');
}

/** The chosen model, loaded once per name and crop margin. */
async function chosenModel(): Promise<{ key: string; model: LoadedModel }> {
  const served = config.models.find((model) => model.name === ui.model.value);
  if (!served) throw expected('a model the server holds', 'model', ui.model.value);
  const recipe = cropOverride();
  const key = `${served.name}:${recipe.cropPadding ?? 'recipe'}`;
  if (!models.has(key)) models.set(key, loadServedModel(served, location.href, recipe));
  const model = await models.get(key)!.catch((error) => {
    models.delete(key);
    throw error;
  });
  return { key, model };
}

function cropOverride(): { cropPadding?: number } {
  const text = ui.cropPadding.value.trim();
  if (!text) return {};
  const voxels = Number(text);
  if (!Number.isInteger(voxels) || voxels < 0) {
    throw expected('a whole number of voxels >= 0', 'crop margin', text);
  }
  return { cropPadding: voxels };
}

/** Dice against the reference labels, and against the last run on this input and model. */
async function score(record: RunRecord, backend: Backend, reference: NamedVolume | null) {
  const run = record.summary;
  const name = `${run.input} (${run.backend})`;
  if (reference) {
    const names = { pred: name, ref: reference.name };
    run.referenceDice = await dicePerLabel(record.labels, reference.volume, backend, names);
  }
  const index = lastRunLike(record);
  if (index < 0) return;
  const previous = records[index];
  const names = { pred: name, ref: `run ${index + 1} (${previous.summary.backend})` };
  const dice = await dicePerLabel(record.labels, previous.labels, backend, names);
  run.agreement = { run: index, backend: previous.summary.backend, dice };
}

/** Index of the last run on the same volume with the same model and crop margin, or -1. */
function lastRunLike(record: RunRecord): number {
  for (let i = records.length - 1; i >= 0; i--) {
    if (records[i].source === record.source && records[i].modelKey === record.modelKey) return i;
  }
  return -1;
}

function showRun(run: DemoRun, model: LoadedModel, result: SegmentResult): void {
  ui.results.hidden = false;
  ui.backendInfo.textContent = `Backend ${run.reason}. ${run.description}.`;
  view.show({
    volume: result.conformed.volume,
    labels: result.conformed.labels,
    colors: model.colors,
  });
  fillTable(ui.timings, ['stage', 'time'], timingRows(run));
  const voxelMl = result.labels.spacing.reduce((product, mm) => product * mm, 1) / 1000;
  fillTable(ui.labels, labelHeader(run), labelRows(run, model.labelNames, voxelMl));
  offerDownload(result.labels, `${baseName(run.input)}_${run.model}.nii.gz`);
}

function offerDownload(labels: Volume, name: string): void {
  if (ui.download.href.startsWith('blob:')) URL.revokeObjectURL(ui.download.href);
  const bytes = serializeNifti(labels, { gzip: true });
  ui.download.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  ui.download.download = name;
  ui.download.textContent = `Download the labels (${name})`;
}

function showProgress(stage: SegmentStage, fraction: number): void {
  const done = STAGES.indexOf(stage) + fraction;
  ui.progress.value = done / STAGES.length;
  ui.stage.textContent = `${stage} ${Math.round(fraction * 100)}%`;
}

/** Run an action from the page, showing its error instead of throwing. */
async function guarded(action: () => Promise<void>): Promise<void> {
  try {
    ui.error.hidden = true;
    delete state.error;
    await action();
    if (state.status === 'error') setStatus('ready');
  } catch (error) {
    showError(error);
  }
}

function showError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.error(error);
  ui.error.textContent = message;
  ui.error.hidden = false;
  state.error = message;
  setStatus('error');
}

function setStatus(status: DemoStatus): void {
  state.status = status;
  ui.body.dataset.status = status;
  const busy = status === 'running' || status === 'loading';
  ui.segmentButton.disabled = busy || !config.models.length;
  if (status === 'running') ui.progress.value = 0;
  if (status === 'done') ui.stage.textContent = 'done';
}

async function timed<T>(into: Record<string, number>, stage: string, work: () => Promise<T>) {
  const start = performance.now();
  const value = await work();
  into[stage] = performance.now() - start;
  return value;
}

function describeVolume({ name, volume }: NamedVolume): string {
  const spacing = volume.spacing.map((mm) => mm.toFixed(2)).join(' x ');
  return `${name}: ${volume.dims.join(' x ')} voxels of ${spacing} mm, ${volume.datatype}`;
}

function pickedFile(input: HTMLInputElement): File {
  const file = input.files?.[0];
  if (!file) throw new InputError('no file was chosen');
  return file;
}

function baseName(name: string): string {
  return name.replace(/\.(nii|mgh|mgz)(\.gz)?$/i, '');
}

/** Let the browser paint (the running state) before the synchronous stages start. */
function nextFrame(): Promise<void> {
  return new Promise((done) => setTimeout(done, 20));
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no element #${id}`);
  return found as T;
}
