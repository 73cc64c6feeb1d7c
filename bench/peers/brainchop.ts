/**
 * The brainchop pipeline in TensorFlow.js, as brainchop runs its MeshNet models: the model
 * loaded with tf.loadLayersModel from its model.json and weight shards (through an in-memory IO
 * handler over the files), the conformed volume min-max normalised, cropped to its foreground
 * box plus the recipe's margin, transposed so Keras' (D, H, W) is NIfTI (x, y, z), one
 * model.predict over the whole crop, argmax over the classes, transposed back, the largest
 * 26-connected component kept, and pasted into the 256^3 grid.
 *
 * The crop box and the connected components come from voxseg's own plain-JavaScript helpers
 * (brainchop has its own, equally plain), so both pipelines segment exactly the same region.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelRecipe } from '../../ts/model/catalog.js';
import { keepLargestComponent } from '../../ts/pipeline/components.js';
import { boxSize, foregroundBox, pasteVolume } from '../../ts/pipeline/crop.js';
import { loadTf, useTfBackend } from '../engines/tfjs.js';

type Tf = Awaited<ReturnType<typeof loadTf>>;
type LayersModel = Awaited<ReturnType<typeof import('@tensorflow/tfjs-layers').loadLayersModel>>;

/** A brainchop model loaded into TensorFlow.js. */
export interface BrainchopModel {
  tf: Tf;
  model: LayersModel;
}

interface ModelJson {
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: object[] }>;
}

/**
 * Load `dir`/model.json and its shards into TensorFlow.js (tf.io.fromMemory over the bytes) on
 * its `backend`, for inputs of Keras extent `input` (D, H, W): the models declare 256^3, and
 * brainchop runs them on crops, so the input layer's shape is set to the crop's.
 *
 * @throws Error when a file is missing or TensorFlow.js rejects the topology.
 */
export async function loadBrainchopModel(
  dir: string,
  input: readonly [number, number, number],
  backend: 'cpu' | 'wasm' = 'wasm',
): Promise<BrainchopModel> {
  const tf = await loadTf();
  await useTfBackend(tf, backend, 1);
  const layers = await import('@tensorflow/tfjs-layers');
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJson;
  setInputShape(json, input);
  const paths = json.weightsManifest.flatMap((group) => group.paths);
  const shards = await Promise.all(paths.map((p) => readFile(join(dir, p))));
  const weightData = concatBytes(shards);
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const handler = tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData,
  } as never);
  return { tf, model: await layers.loadLayersModel(handler) };
}

/** Set the InputLayer's batch_input_shape to [null, D, H, W, 1]. */
function setInputShape(json: ModelJson, input: readonly [number, number, number]): void {
  const topology = json.modelTopology as { model_config?: { config: { layers: KerasLayer[] } } };
  const first = topology.model_config?.config.layers[0];
  if (first?.class_name !== 'InputLayer')
    throw new Error('expected an InputLayer first in model.json');
  first.config.batch_input_shape = [null, ...input, 1];
}

interface KerasLayer {
  class_name: string;
  config: { batch_input_shape?: Array<number | null> };
}

function concatBytes(parts: Uint8Array[]): ArrayBuffer {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out.buffer;
}

/** Labels and stage times of one brainchop run. */
export interface BrainchopResult {
  /** Labels on the conformed grid (x fastest). */
  labels: Uint8Array;
  timings: { normalize: number; inference: number; postprocess: number };
}

/**
 * Segment a conformed volume (256^3 uint8, x fastest) as brainchop does.
 *
 * @param dims - (x, y, z).
 */
export async function brainchopSegment(
  { tf, model }: BrainchopModel,
  data: Uint8Array,
  dims: [number, number, number],
  recipe: ModelRecipe,
): Promise<BrainchopResult> {
  const [nx, ny, nz] = dims;
  let start = performance.now();
  const normalized = await normalizeMinMax(tf, data, [nz, ny, nx]);
  const box = foregroundBox(normalized, dims, 0, recipe.cropPadding);
  const [sx, sy, sz] = boxSize(box);
  const normalize = performance.now() - start;

  start = performance.now();
  const predicted = tf.tidy(() => {
    const volume = tf.tensor3d(normalized, [nz, ny, nx]);
    const crop = tf.slice(volume, [box.start[2], box.start[1], box.start[0]], [sz, sy, sx]);
    const input = tf.reshape(tf.transpose(crop, [2, 1, 0]), [1, sx, sy, sz, 1]);
    const logits = model.predict(input) as ReturnType<Tf['tensor']>;
    return tf.transpose(tf.reshape(tf.argMax(logits, -1), [sx, sy, sz]), [2, 1, 0]);
  });
  const cropLabels = Uint8Array.from((await predicted.data()) as Int32Array);
  predicted.dispose();
  const inference = performance.now() - start;

  start = performance.now();
  if (recipe.largestComponent) keepLargestComponent(cropLabels, [sx, sy, sz]);
  const labels = pasteVolume(new Uint8Array(nx * ny * nz), dims, cropLabels, box);
  return { labels, timings: { normalize, inference, postprocess: performance.now() - start } };
}

/** (x - min) / (max - min) with TensorFlow.js ops, back as float32 (z, y, x). */
async function normalizeMinMax(tf: Tf, data: Uint8Array, shape: [number, number, number]) {
  const out = tf.tidy(() => {
    const x = tf.tensor3d(Float32Array.from(data), shape);
    const low = tf.min(x);
    return tf.div(tf.sub(x, low), tf.sub(tf.max(x), low));
  });
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return values;
}
