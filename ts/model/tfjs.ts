/**
 * Loader for TensorFlow.js "layers-model" files (model.json + weight shards), the format of
 * the brainchop MeshNet models. Layers are read in graph order, weights are looked up by name
 * (never by position) and converted once to the engine's layout (Cout, Cin, KD, KH, KW).
 */
import { ACTIVATION_KINDS } from '../engine/activations.js';
import type { Activation, ActivationKind } from '../engine/backend.js';
import { conv3dParams } from '../engine/backend.js';
import { didYouMean, expected, InputError } from '../engine/errors.js';
import { type Layer, type ModelGraph, fuseActivations } from './graph.js';

/** How the loader maps the Keras volume axes onto the engine's (D, H, W) = NIfTI (z, y, x). */
export interface TfjsLoadOptions {
  /**
   * True when the model was trained on volumes whose Keras (D, H, W) axes are NIfTI (x, y, z),
   * as brainchop feeds them (it transposes its (z, y, x) slice stack); false when Keras D is z.
   * Default true.
   */
  transposed?: boolean;
  /**
   * Conv layers whose names end with this suffix are followed by an instance norm over the
   * whole tensor (the mindgrab convention). Default `_gn`.
   */
  instanceNormSuffix?: string;
  /** Epsilon of those instance norms. Default 1e-5. */
  instanceNormEps?: number;
}

/** Reads one weight shard by its manifest path; rejects with the file named when missing. */
export type ShardReader = (path: string) => Promise<Uint8Array>;

interface KerasLayer {
  class_name: string;
  name?: string;
  config: Record<string, unknown>;
  inbound_nodes?: unknown[];
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype?: string;
}

interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

/**
 * Parse a TensorFlow.js layers model into a {@link ModelGraph}.
 *
 * @param modelJson - the parsed model.json.
 * @param readShard - returns the bytes of a shard named in the weights manifest.
 * @param source - the model's directory or name, used in error messages.
 * @throws InputError naming the file, the field and the value for anything unsupported,
 *   missing or short.
 * @example
 * const graph = await parseTfjsModel(json, (p) => readFile(join(dir, p)), dir);
 */
export async function parseTfjsModel(
  modelJson: unknown,
  readShard: ShardReader,
  source: string,
  options: TfjsLoadOptions = {},
): Promise<ModelGraph> {
  const file = `${source}/model.json`;
  const json = modelJson as { format?: string; modelTopology?: unknown; weightsManifest?: unknown };
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw expected("'layers-model'", 'format', json.format, { file });
  }
  const kerasLayers = orderedLayers(json.modelTopology, file);
  const weights = await readWeights(json.weightsManifest, readShard, source);

  const layers: Layer[] = [];
  let channels = inputChannels(kerasLayers, file);
  const first = channels;
  for (const kerasLayer of kerasLayers) {
    const converted = convertLayer(kerasLayer, channels, weights, file, options);
    for (const layer of converted) {
      if (layer.kind === 'conv3d') channels = layer.weightShape[0];
      layers.push(layer);
    }
  }
  if (!layers.some((layer) => layer.kind === 'conv3d')) {
    throw new InputError('model has no Conv3D layer', { file, field: 'modelTopology' });
  }
  return {
    source,
    inputChannels: first,
    outputChannels: channels,
    layers: fuseActivations(layers),
  };
}

/** The model's layers in execution order; only a single chain is supported. */
function orderedLayers(topology: unknown, file: string): KerasLayer[] {
  const top = topology as { model_config?: { class_name?: string; config?: unknown } };
  const modelConfig = top?.model_config ?? (topology as { class_name?: string; config?: unknown });
  const config = modelConfig?.config as { layers?: KerasLayer[] } | KerasLayer[] | undefined;
  const layers = Array.isArray(config) ? config : config?.layers;
  if (!Array.isArray(layers) || layers.length === 0) {
    throw expected('a list of layers', 'modelTopology.model_config.config.layers', layers, {
      file,
    });
  }

  const byName = new Map(layers.map((layer) => [layerName(layer), layer]));
  const ordered: KerasLayer[] = [];
  for (const layer of layers) {
    const inbound = inboundNames(layer);
    const previous = ordered[ordered.length - 1];
    if (
      inbound.length > 1 ||
      (previous && inbound.length === 1 && inbound[0] !== layerName(previous))
    ) {
      throw new InputError(
        `only single-chain models are supported: layer '${layerName(layer)}' takes ` +
          `[${inbound.join(', ')}]`,
        { file, field: 'inbound_nodes' },
      );
    }
    if (inbound.some((name) => !byName.has(name))) {
      throw expected('an existing layer', `inbound_nodes of '${layerName(layer)}'`, inbound, {
        file,
      });
    }
    ordered.push(layer);
  }
  return ordered;
}

function inboundNames(layer: KerasLayer): string[] {
  const nodes = layer.inbound_nodes as unknown[][][] | undefined;
  if (!nodes?.length) return [];
  return nodes[0].map((entry) => String(entry[0]));
}

function layerName(layer: KerasLayer): string {
  return String(layer.config?.name ?? layer.name ?? layer.class_name);
}

function inputChannels(layers: KerasLayer[], file: string): number {
  const input = layers.find((layer) => layer.class_name === 'InputLayer') ?? layers[0];
  const shape = (input.config.batch_input_shape ?? input.config.batch_shape) as
    number[] | undefined;
  if (!shape || shape.length !== 5) {
    throw expected('a 5D batch_input_shape [N, D, H, W, C]', 'batch_input_shape', shape, { file });
  }
  return shape[4];
}

/** Convert one Keras layer into zero or more engine layers. */
function convertLayer(
  layer: KerasLayer,
  channels: number,
  weights: Map<string, Float32Array>,
  file: string,
  options: TfjsLoadOptions,
): Layer[] {
  const name = layerName(layer);
  const config = layer.config;
  switch (layer.class_name) {
    case 'InputLayer':
      return [];
    case 'Conv3D': {
      const conv = convertConv3d(name, config, channels, weights, file, options.transposed ?? true);
      const layers: Layer[] = [conv];
      if (name.endsWith(options.instanceNormSuffix ?? '_gn')) {
        const eps = options.instanceNormEps ?? 1e-5;
        layers.push({
          kind: 'instanceNorm',
          name: `${name}/norm`,
          eps,
          activation: { kind: 'linear' },
        });
      }
      const activation = parseActivation(config.activation, name, file);
      if (activation.kind !== 'linear') layers.push({ kind: 'activation', name, activation });
      return layers;
    }
    case 'Activation':
      return [
        { kind: 'activation', name, activation: parseActivation(config.activation, name, file) },
      ];
    case 'ReLU':
      return [{ kind: 'activation', name, activation: { kind: 'relu' } }];
    case 'ELU':
      return [
        { kind: 'activation', name, activation: { kind: 'elu', alpha: Number(config.alpha ?? 1) } },
      ];
    case 'LeakyReLU': {
      const alpha = Number(config.alpha ?? config.negative_slope ?? 0.3);
      return [{ kind: 'activation', name, activation: { kind: 'leakyRelu', alpha } }];
    }
    default:
      throw new InputError(
        `unsupported layer type '${layer.class_name}' (layer '${name}'); supported: InputLayer, ` +
          'Conv3D, Activation, ReLU, ELU, LeakyReLU',
        { file, field: 'class_name', value: layer.class_name },
      );
  }
}

function convertConv3d(
  name: string,
  config: Record<string, unknown>,
  channels: number,
  weights: Map<string, Float32Array>,
  file: string,
  transposed: boolean,
): Layer {
  if (config.data_format && config.data_format !== 'channels_last') {
    throw expected("'channels_last'", `data_format of '${name}'`, config.data_format, { file });
  }
  const kernel = triple(config.kernel_size, 'kernel_size', name, file);
  const strides = triple(config.strides ?? [1, 1, 1], 'strides', name, file);
  const dilation = triple(config.dilation_rate ?? [1, 1, 1], 'dilation_rate', name, file);
  const groups = Number(config.groups ?? 1);
  const filters = Number(config.filters);
  const padding = convPadding(config.padding, kernel, strides, dilation, name, file);

  const kernelValues = lookupWeight(weights, `${name}/kernel`, file);
  const tfShape = [...kernel, channels / groups, filters];
  if (kernelValues.length !== tfShape.reduce((a, b) => a * b, 1)) {
    throw new InputError(
      `weight '${name}/kernel' has ${kernelValues.length} values, but the layer needs shape ` +
        `[${tfShape}] (input has ${channels} channels): model and input channels do not match`,
      { file, field: `${name}/kernel`, value: kernelValues.length },
    );
  }
  const bias = config.use_bias === false ? null : lookupWeight(weights, `${name}/bias`, file);
  if (bias && bias.length !== filters) {
    throw expected(`${filters} values`, `weight '${name}/bias'`, bias.length, { file });
  }

  // Keras axes (D, H, W) are NIfTI (x, y, z) when transposed: reverse them into (z, y, x).
  const order = (t: [number, number, number]): [number, number, number] =>
    transposed ? [t[2], t[1], t[0]] : t;
  const weight = kerasKernelToEngine(kernelValues, kernel, channels / groups, filters, transposed);
  const [kd, kh, kw] = order(kernel);
  return {
    kind: 'conv3d',
    name,
    weight,
    weightShape: [filters, channels / groups, kd, kh, kw],
    bias,
    params: conv3dParams({
      stride: order(strides),
      padding: order(padding),
      dilation: order(dilation),
      groups,
    }),
  };
}

/**
 * Reorder a Keras kernel [kd, kh, kw, in, out] into (out, in, KD, KH, KW), reversing the
 * spatial axes when the model's axes are transposed.
 */
export function kerasKernelToEngine(
  values: Float32Array,
  kernel: [number, number, number],
  inChannels: number,
  outChannels: number,
  transposed: boolean,
): Float32Array {
  const [k0, k1, k2] = kernel;
  const [kd, kh, kw] = transposed ? [k2, k1, k0] : kernel;
  const out = new Float32Array(values.length);
  for (let a = 0; a < k0; a++) {
    for (let b = 0; b < k1; b++) {
      for (let c = 0; c < k2; c++) {
        const [z, y, x] = transposed ? [c, b, a] : [a, b, c];
        for (let i = 0; i < inChannels; i++) {
          const from = (((a * k1 + b) * k2 + c) * inChannels + i) * outChannels;
          for (let o = 0; o < outChannels; o++) {
            out[(((o * inChannels + i) * kd + z) * kh + y) * kw + x] = values[from + o];
          }
        }
      }
    }
  }
  return out;
}

function convPadding(
  mode: unknown,
  kernel: [number, number, number],
  strides: [number, number, number],
  dilation: [number, number, number],
  name: string,
  file: string,
): [number, number, number] {
  if (mode === 'valid') return [0, 0, 0];
  if (mode !== 'same') throw expected("'same' or 'valid'", `padding of '${name}'`, mode, { file });
  const span = kernel.map((k, axis) => dilation[axis] * (k - 1));
  if (span.some((s, axis) => s % 2 !== 0 || strides[axis] !== 1)) {
    throw new InputError(
      `'same' padding needs odd kernels and stride 1 here (layer '${name}': kernel [${kernel}], ` +
        `strides [${strides}]); asymmetric padding is not supported`,
      { file, field: 'padding', value: mode },
    );
  }
  return span.map((s) => s / 2) as [number, number, number];
}

function triple(
  value: unknown,
  field: string,
  name: string,
  file: string,
): [number, number, number] {
  const list = typeof value === 'number' ? [value, value, value] : value;
  if (
    !Array.isArray(list) ||
    list.length !== 3 ||
    !list.every((v) => Number.isInteger(v) && v > 0)
  ) {
    throw expected('three positive integers', `${field} of '${name}'`, value, { file });
  }
  return list as [number, number, number];
}

function parseActivation(value: unknown, name: string, file: string): Activation {
  const aliases: Record<string, ActivationKind> = {
    linear: 'linear',
    relu: 'relu',
    elu: 'elu',
    gelu: 'gelu',
    sigmoid: 'sigmoid',
    leaky_relu: 'leakyRelu',
    leakyrelu: 'leakyRelu',
  };
  const key = String(value ?? 'linear').toLowerCase();
  const kind = aliases[key];
  if (!kind) {
    const hint = didYouMean(key, Object.keys(aliases));
    throw new InputError(
      `expected one of ${ACTIVATION_KINDS.join(', ')} for activation of '${name}', received '${key}'`,
      { file, field: 'activation', value, hint: hint || undefined },
    );
  }
  return { kind };
}

function lookupWeight(
  weights: Map<string, Float32Array>,
  name: string,
  file: string,
): Float32Array {
  const exact = weights.get(name);
  if (exact) return exact;
  const suffixed = [...weights.keys()].filter((key) => key.endsWith(`/${name}`));
  if (suffixed.length === 1) return weights.get(suffixed[0])!;
  throw new InputError(`weight '${name}' is not in the weights manifest`, {
    file,
    field: 'weightsManifest',
    value: name,
  });
}

/** Read every shard and split it into named float32 arrays. */
async function readWeights(
  manifest: unknown,
  readShard: ShardReader,
  source: string,
): Promise<Map<string, Float32Array>> {
  const file = `${source}/model.json`;
  if (!Array.isArray(manifest)) throw expected('a list', 'weightsManifest', manifest, { file });
  const weights = new Map<string, Float32Array>();
  for (const group of manifest as ManifestGroup[]) {
    const bytes = await concatShards(group.paths, readShard);
    let offset = 0;
    for (const entry of group.weights) {
      if ((entry.dtype ?? 'float32') !== 'float32') {
        throw expected('float32', `dtype of weight '${entry.name}'`, entry.dtype, { file });
      }
      const count = entry.shape.reduce((a, b) => a * b, 1);
      if (offset + count * 4 > bytes.length) {
        throw new InputError(
          `weight shard is short: [${group.paths.join(', ')}] holds ${bytes.length} bytes, but ` +
            `the manifest needs at least ${offset + count * 4} (weight '${entry.name}')`,
          {
            file: `${source}/${group.paths[group.paths.length - 1]}`,
            field: 'size',
            value: bytes.length,
          },
        );
      }
      weights.set(entry.name, littleEndianFloats(bytes, offset, count));
      offset += count * 4;
    }
  }
  return weights;
}

async function concatShards(paths: string[], readShard: ShardReader): Promise<Uint8Array> {
  const parts = await Promise.all(paths.map((path) => readShard(path)));
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

function littleEndianFloats(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
