/**
 * Runs a model graph over a whole volume with bounded memory.
 *
 * The volume streams through the layers along D in chunks of planes. Each conv keeps a window
 * of its input planes: the chunk plus a halo of dilation * (K - 1) / 2 planes on each side,
 * with zero planes beyond the volume's ends, so every output plane sees exactly the context an
 * untiled run gives it. No plane is computed twice. A layer that needs statistics over the
 * whole tensor (instance norm) ends a stage: that stage's output is kept whole, normalised, and
 * streamed into the next stage.
 */
import type { Backend, Conv3dParams } from '../engine/backend.js';
import { VoxsegError } from '../engine/errors.js';
import { logger } from '../engine/log.js';
import type { Tensor } from '../engine/tensor.js';
import { type ConvLayer, type Layer, type ModelGraph, layerHalo } from './graph.js';

const log = logger('model');

/** Options of {@link runModel}. */
export interface RunOptions {
  /** Planes per streaming step along D; default: the largest that fits `memoryBudget`. */
  chunkPlanes?: number;
  /** Bytes the planner may use for activations on the backend. Default 2 GiB. */
  memoryBudget?: number;
  /** What to return: argmax labels (default) or the final layer's outputs. */
  output?: 'labels' | 'logits';
  /** Called after each chunk with the fraction done in [0, 1]. */
  onProgress?: (fraction: number) => void;
}

/** What {@link runModel} returns. */
export interface RunResult {
  /** Labels (D, H, W) as int32 when output is 'labels'. */
  labels?: Int32Array;
  /** Final outputs (C, D, H, W) when output is 'logits'. */
  logits?: Float32Array;
  /** Planes per streaming step used. */
  chunkPlanes: number;
  /** Bytes the planner expected the activations to need at most. */
  plannedBytes: number;
  /** Bytes the backend held at most during the run. */
  peakBytes: number;
}

/** A model's weights uploaded to one backend, reusable across runs. */
export interface PreparedModel {
  graph: ModelGraph;
  backend: Backend;
  layers: PreparedLayer[];
  release(): void;
}

type PreparedLayer =
  { layer: Exclude<Layer, ConvLayer> } | { layer: ConvLayer; weight: Tensor; bias: Tensor | null };

/** Upload a graph's weights to a backend once. */
export async function prepareModel(backend: Backend, graph: ModelGraph): Promise<PreparedModel> {
  const layers: PreparedLayer[] = [];
  for (const layer of graph.layers) {
    if (layer.kind !== 'conv3d') {
      layers.push({ layer });
      continue;
    }
    const weight = await backend.upload(layer.weight, layer.weightShape);
    const bias = layer.bias ? await backend.upload(layer.bias, [layer.bias.length]) : null;
    layers.push({ layer, weight, bias });
  }
  const release = () => {
    for (const prepared of layers) {
      if (!('weight' in prepared)) continue;
      backend.release(prepared.weight);
      if (prepared.bias) backend.release(prepared.bias);
    }
  };
  return { graph, backend, layers, release };
}

/**
 * Run a prepared model over one volume.
 *
 * @param model - weights on the backend that will run.
 * @param input - voxels (C, D, H, W), float32, W fastest.
 * @param dims - (D, H, W).
 * @returns labels (D, H, W) or logits (classes, D, H, W), with the plan and the peak.
 * @throws VoxsegError when the input's channels do not match the model's.
 */
export async function runModel(
  model: PreparedModel,
  input: Float32Array,
  dims: readonly [number, number, number],
  options: RunOptions = {},
): Promise<RunResult> {
  const { backend, graph } = model;
  const [d, h, w] = dims;
  const channels = input.length / (d * h * w);
  if (channels !== graph.inputChannels) {
    throw new VoxsegError(
      `model expects ${graph.inputChannels} input channel(s) but the volume has ${channels}`,
      { file: graph.source, field: 'channels', value: channels },
    );
  }

  const plan = planChunks(graph, dims, options);
  log.debug(() => `plan: ${plan.chunkPlanes} planes per step, ~${mib(plan.plannedBytes)} MiB`);
  backend.resetPeak();
  const stages = splitStages(model.layers);
  let source = await backend.upload(input, [1, channels, d, h, w]);
  const result: RunResult = {
    chunkPlanes: plan.chunkPlanes,
    plannedBytes: plan.plannedBytes,
    peakBytes: 0,
  };

  for (const [index, stage] of stages.entries()) {
    const progress = (fraction: number) => options.onProgress?.((index + fraction) / stages.length);
    const last = index === stages.length - 1;
    if (stage.norm) source = await normalise(backend, source, stage.norm);
    if (last && (options.output ?? 'labels') === 'labels') {
      result.labels = await streamToLabels(
        backend,
        stage.layers,
        source,
        plan.chunkPlanes,
        progress,
      );
      continue;
    }
    source = await streamToTensor(backend, stage.layers, source, plan.chunkPlanes, progress);
    if (last) result.logits = (await backend.download(source)) as Float32Array;
  }
  backend.release(source);
  result.peakBytes = backend.memory().peakBytes;
  return result;
}

interface Stage {
  /** Instance norm applied to the whole stage input first, if any. */
  norm?: Extract<Layer, { kind: 'instanceNorm' }>;
  layers: PreparedLayer[];
}

/** Split the chain at each instance norm, which needs the whole tensor. */
function splitStages(layers: PreparedLayer[]): Stage[] {
  const stages: Stage[] = [{ layers: [] }];
  for (const prepared of layers) {
    if (prepared.layer.kind === 'instanceNorm') stages.push({ norm: prepared.layer, layers: [] });
    else stages[stages.length - 1].layers.push(prepared);
  }
  return stages;
}

async function normalise(
  backend: Backend,
  source: Tensor,
  norm: Extract<Layer, { kind: 'instanceNorm' }>,
): Promise<Tensor> {
  const out = await backend.instanceNorm(source, { eps: norm.eps, activation: norm.activation });
  backend.release(source);
  return out;
}

/** Stream a stage and return the argmax labels (D, H, W) of its output. */
async function streamToLabels(
  backend: Backend,
  layers: PreparedLayer[],
  source: Tensor,
  chunkPlanes: number,
  onProgress: (fraction: number) => void,
): Promise<Int32Array> {
  const [, , d, h, w] = source.shape;
  const labels = new Int32Array(d * h * w);
  let plane = 0;
  const emit = async (chunk: Tensor) => {
    const argmax = await backend.argmax(chunk);
    backend.release(chunk);
    labels.set((await backend.download(argmax)) as Int32Array, plane * h * w);
    backend.release(argmax);
    plane += argmax.shape[1];
  };
  await streamStage(backend, layers, source, chunkPlanes, emit, onProgress);
  return labels;
}

/** Stream a stage and return its whole output (1, C, D, H, W); releases the source. */
async function streamToTensor(
  backend: Backend,
  layers: PreparedLayer[],
  source: Tensor,
  chunkPlanes: number,
  onProgress: (fraction: number) => void,
): Promise<Tensor> {
  const chunks: Tensor[] = [];
  const emit = async (chunk: Tensor) => void chunks.push(chunk);
  await streamStage(backend, layers, source, chunkPlanes, emit, onProgress);
  backend.release(source);
  const out = chunks.length === 1 ? chunks[0] : await backend.concat(chunks, 2);
  if (chunks.length > 1) chunks.forEach((chunk) => backend.release(chunk));
  return out;
}

interface LayerWindow {
  prepared: PreparedLayer;
  /** Planes of context needed on each side along D (0 for element-wise layers). */
  halo: number;
  /** Input planes kept for the next step: the last 2 * halo planes seen. */
  window: Tensor | null;
}

/**
 * Push the source through the layers chunk by chunk; `emit` receives each final output chunk
 * (1, C, planes, H, W) in order and owns it. The source itself is released by the caller.
 * Progress counts the planes every layer has produced, so it moves within a chunk too.
 */
async function streamStage(
  backend: Backend,
  layers: PreparedLayer[],
  source: Tensor,
  chunkPlanes: number,
  emit: (chunk: Tensor) => Promise<void>,
  onProgress: (fraction: number) => void,
): Promise<void> {
  const d = source.shape[2];
  let produced = 0;
  const windows: LayerWindow[] = layers.map((prepared) => ({
    prepared,
    halo: streamHalo(prepared.layer),
    window: null,
  }));
  const step = async (index: number, chunk: Tensor, last: boolean): Promise<void> => {
    if (index === windows.length) return emit(chunk);
    const out = await applyLayer(backend, windows[index], chunk, last);
    if (!out) return;
    produced += out.shape[2];
    onProgress(produced / (d * Math.max(1, windows.length)));
    await step(index + 1, out, last);
  };

  for (let z = 0; z < d; z += chunkPlanes) {
    const planes = Math.min(chunkPlanes, d - z);
    await step(0, await backend.slice(source, 2, z, planes), z + planes >= d);
  }
}

/**
 * Feed one chunk to one layer. Returns the output planes that are complete, or null when the
 * layer needs more input first. Takes ownership of `chunk`.
 */
async function applyLayer(
  backend: Backend,
  state: LayerWindow,
  chunk: Tensor,
  last: boolean,
): Promise<Tensor | null> {
  const { prepared, halo } = state;
  if (!('weight' in prepared)) {
    const layer = prepared.layer as Extract<Layer, { kind: 'activation' }>;
    const out = await backend.activation(chunk, layer.activation);
    backend.release(chunk);
    return out;
  }

  const window = halo === 0 ? chunk : await extendWindow(backend, state, chunk, last);
  const outPlanes = window.shape[2] - 2 * halo;
  if (outPlanes <= 0) {
    state.window = window;
    return null;
  }
  const params = streamParams(prepared.layer, halo);
  const out = await backend.conv3d(window, prepared.weight, prepared.bias, params);
  state.window = last || halo === 0 ? null : await backend.slice(window, 2, outPlanes, 2 * halo);
  backend.release(window);
  return out;
}

/** The layer's window with the new chunk appended (and zero planes at the volume's ends). */
async function extendWindow(
  backend: Backend,
  state: LayerWindow,
  chunk: Tensor,
  last: boolean,
): Promise<Tensor> {
  const [n, c, , h, w] = chunk.shape;
  const zeros = () => backend.zeros([n, c, state.halo, h, w], 'float32');
  const parts = [state.window ?? (await zeros()), chunk];
  if (last) parts.push(await zeros());
  const window = await backend.concat(parts, 2);
  parts.forEach((part) => backend.release(part));
  state.window = null;
  return window;
}

/** Halo along D for streaming; 0 means the layer runs on each chunk as it is. */
function streamHalo(layer: Layer): number {
  if (layer.kind !== 'conv3d') return 0;
  const halo = (layer.params.dilation[0] * (layer.weightShape[2] - 1)) / 2;
  if (layer.params.stride[0] !== 1 || layer.params.padding[0] !== halo) {
    throw new VoxsegError(
      `layer '${layer.name}' cannot stream along D: it needs stride 1 and 'same' padding there`,
    );
  }
  return halo;
}

/** The conv's parameters with D padding removed: the window supplies that context. */
function streamParams(layer: ConvLayer, halo: number): Conv3dParams {
  const [, ph, pw] = layer.params.padding;
  return { ...layer.params, padding: [halo === 0 ? layer.params.padding[0] : 0, ph, pw] };
}

/** Fewest planes per step the planner picks: below it, window copies start to cost more than 5 %. */
const MIN_CHUNK_PLANES = 8;

/**
 * Plan the chunk size: the largest number of planes whose activations fit the budget, but not
 * fewer than {@link MIN_CHUNK_PLANES}. Whole tensors kept for instance norms are a fixed cost
 * the chunk size cannot lower; when they alone exceed the budget the plan says so.
 */
export function planChunks(
  graph: ModelGraph,
  dims: readonly [number, number, number],
  options: Pick<RunOptions, 'chunkPlanes' | 'memoryBudget'> = {},
): { chunkPlanes: number; plannedBytes: number } {
  const [d, h, w] = dims;
  const bytesFor = (planes: number) =>
    4 * h * w * (fixedPlanes(graph, d) + streamPlanes(graph, planes));
  if (options.chunkPlanes) {
    const chunkPlanes = Math.max(1, Math.min(d, Math.floor(options.chunkPlanes)));
    return { chunkPlanes, plannedBytes: bytesFor(chunkPlanes) };
  }
  const budget = options.memoryBudget ?? 2 * 1024 ** 3;
  let chunkPlanes = d;
  while (chunkPlanes > MIN_CHUNK_PLANES && bytesFor(chunkPlanes) > budget) {
    chunkPlanes = Math.max(MIN_CHUNK_PLANES, Math.ceil(chunkPlanes / 2));
  }
  chunkPlanes = Math.min(chunkPlanes, d);
  const plannedBytes = bytesFor(chunkPlanes);
  if (plannedBytes > budget) {
    const why = graph.layers.some((layer) => layer.kind === 'instanceNorm')
      ? ' (instance norms keep whole tensors)'
      : ` even at ${chunkPlanes} planes per step`;
    log.warn(
      `the model needs ~${mib(plannedBytes)} MiB of activations on this input, over the ` +
        `${mib(budget)} MiB budget${why}`,
    );
  }
  return { chunkPlanes, plannedBytes };
}

/**
 * Whole planes (times channels) alive for the whole run: the input, and the two whole tensors
 * an instance norm stage keeps (its input and its output).
 */
function fixedPlanes(graph: ModelGraph, depth: number): number {
  let channels = graph.inputChannels;
  let wholeStage = 0;
  for (const layer of graph.layers) {
    if (layer.kind === 'instanceNorm') wholeStage = Math.max(wholeStage, 2 * channels * depth);
    if (layer.kind === 'conv3d') channels = layer.weightShape[0];
  }
  return wholeStage + graph.inputChannels * depth;
}

/**
 * Planes (times channels) alive while streaming a chunk of `planes` through the stage that needs
 * most: every conv window of that stage (planes + 2 halo input planes), plus its widest step
 * (a window, the backend's padded copy of it, and the output). Stages end at instance norms.
 */
function streamPlanes(graph: ModelGraph, planes: number): number {
  let channels = graph.inputChannels;
  let windows = 0;
  let widestStep = 0;
  let most = 0;
  for (const layer of graph.layers) {
    if (layer.kind === 'instanceNorm') [windows, widestStep] = [0, 0];
    if (layer.kind !== 'conv3d') continue;
    const window = (planes + 2 * layerHalo(layer)) * channels;
    windows += window;
    widestStep = Math.max(widestStep, 2 * window + planes * layer.weightShape[0]);
    channels = layer.weightShape[0];
    most = Math.max(most, windows + widestStep);
  }
  return most;
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}
