/**
 * onnxruntime as conv3d engines: onnxruntime-node (the native CPU provider, MLAS kernels) and
 * onnxruntime-web (its WebAssembly build with SIMD and threads), each running a one-layer ONNX
 * model built by ../peers/onnx.ts: Conv, then Relu or Elu as the case asks (onnxruntime fuses
 * what it can, as it would in a real model).
 *
 * onnxruntime-web reads its thread count once, when the first session starts: one process
 * per thread count (the suites run engines in child processes for this reason). A whole
 * network (a voxseg model graph) exports the same way, ending in ArgMax.
 */
import type { ModelGraph } from '../../ts/model/graph.js';
import type { ConvCase } from '../lib/cases.js';
import { encodeOnnxModel, ONNX_INT64, type OnnxGraph, type OnnxNode } from '../peers/onnx.js';
import { type ConvData, type ConvEngine, packageVersion, type PreparedConv } from './engine.js';

/** The part of the onnxruntime API the engines use (common to -node and -web). */
interface OrtTensor {
  data: unknown;
  dispose?(): void;
}
interface OrtSession {
  run(
    feeds: Record<string, OrtTensor>,
    fetches?: Record<string, OrtTensor>,
  ): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options: object): Promise<OrtSession> };
  env: { wasm?: { numThreads?: number; simd?: boolean }; logLevel?: string };
}

/** The ONNX graph of one case: x (1, Cin, D, H, W) -> Conv -> activation -> y. */
export function convCaseGraph(c: ConvCase, data: ConvData): OnnxGraph {
  const k = c.kernel;
  const p = c.padding;
  const conv: OnnxNode = {
    opType: 'Conv',
    inputs: data.bias ? ['x', 'w', 'b'] : ['x', 'w'],
    outputs: [c.activation === 'linear' ? 'y' : 'conv'],
    attributes: {
      kernel_shape: [k, k, k],
      pads: [p, p, p, p, p, p],
      strides: [c.stride, c.stride, c.stride],
      dilations: [c.dilation, c.dilation, c.dilation],
      group: 1,
    },
  };
  const nodes = [conv, ...activationNodes(c)];
  const initializers = [{ name: 'w', dims: [c.cout, c.cin, k, k, k], data: data.weight }];
  if (data.bias) initializers.push({ name: 'b', dims: [c.cout], data: data.bias });
  return {
    name: 'conv3d',
    nodes,
    initializers,
    inputs: [{ name: 'x', dims: [1, c.cin, ...c.dims] }],
    outputs: [{ name: 'y', dims: [1, c.cout, ...c.outDims] }],
  };
}

function activationNodes(c: ConvCase): OnnxNode[] {
  if (c.activation === 'relu') return [{ opType: 'Relu', inputs: ['conv'], outputs: ['y'] }];
  if (c.activation === 'elu') {
    return [
      { opType: 'Elu', inputs: ['conv'], outputs: ['y'], attributes: { alpha: { float: 1 } } },
    ];
  }
  return [];
}

/** onnxruntime-node's CPU provider with `threads` intra-op threads. */
export async function createOrtNodeEngine(threads: number): Promise<ConvEngine> {
  const ort = (await import('onnxruntime-node')) as unknown as OrtModule;
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  const version = `onnxruntime-node ${packageVersion('onnxruntime-node')} (CPU, MLAS)`;
  return ortEngine('ort-node', ort, options, threads, version);
}

/** onnxruntime-web's wasm provider (SIMD; threads when `threads` > 1). */
export async function createOrtWebEngine(threads: number): Promise<ConvEngine> {
  const ort = (await import('onnxruntime-web')) as unknown as OrtModule;
  ort.env.wasm!.numThreads = threads;
  const options = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  const version = `onnxruntime-web ${packageVersion('onnxruntime-web')} (wasm SIMD)`;
  return ortEngine('ort-web', ort, options, threads, version);
}

function ortEngine(
  id: 'ort-node' | 'ort-web',
  ort: OrtModule,
  options: object,
  threads: number,
  version: string,
): ConvEngine {
  return {
    id,
    threads,
    version,
    // wasm32 memory ends at 4 GiB: input, output and the session's buffers must fit.
    unsupported: (c) => (id === 'ort-web' && caseBytes(c) > 3 * 2 ** 30 ? 'over 3 GiB' : null),
    prepare: (c, data) => prepareOrt(ort, options, c, data, id === 'ort-node'),
    dispose: async () => {},
  };
}

function caseBytes(c: ConvCase): number {
  const voxels = (d: number[]) => d[0] * d[1] * d[2];
  return 4 * (c.cin * voxels(c.dims) + c.cout * voxels(c.outDims));
}

/**
 * One case's session. `reuseOutput`: the timed call passes one pre-allocated output tensor,
 * kept across calls, as voxseg's engine keeps its output array (onnxruntime-node fills it;
 * onnxruntime-web's wasm provider returns a pre-allocated CPU tensor unfilled, so it gets a
 * fresh output array per call, as its API gives).
 */
async function prepareOrt(
  ort: OrtModule,
  options: object,
  c: ConvCase,
  data: ConvData,
  reuseOutput: boolean,
): Promise<PreparedConv> {
  const session = await ort.InferenceSession.create(
    encodeOnnxModel(convCaseGraph(c, data)),
    options,
  );
  const yShape = [1, c.cout, ...c.outDims];
  let reused: OrtTensor | undefined;
  const call = async (keep: boolean): Promise<Float32Array> => {
    const x = new ort.Tensor('float32', data.x, [1, c.cin, ...c.dims]);
    if (keep || !reuseOutput) {
      const { y } = await session.run({ x });
      const out = y.data as Float32Array;
      y.dispose?.();
      return out;
    }
    reused ??= new ort.Tensor('float32', new Float32Array(yShape.reduce((a, b) => a * b)), yShape);
    await session.run({ x }, { y: reused });
    return reused.data as Float32Array;
  };
  return {
    run: async () => void (await call(false)),
    output: () => call(true),
    dispose: () => session.release(),
  };
}

/**
 * A whole voxseg model graph as ONNX: every conv with its fused activation, then ArgMax over
 * the classes (ties to the lower index, as voxseg's argmax), so the session returns labels
 * like voxseg's runModel: x (1, Cin, D, H, W) float32 -> labels (1, D, H, W) int64.
 *
 * @throws Error for layers the export does not cover (instance norm, GELU: mindgrab).
 */
export function networkGraph(
  graph: ModelGraph,
  dims: readonly [number, number, number],
): OnnxGraph {
  const nodes: OnnxNode[] = [];
  const initializers: OnnxGraph['initializers'][number][] = [];
  let current = 'x';
  graph.layers.forEach((layer, i) => {
    if (layer.kind !== 'conv3d')
      throw new Error(`the ONNX export has no ${layer.kind} (layer ${layer.name})`);
    const { params, weightShape } = layer;
    const inputs = [current, `w${i}`, ...(layer.bias ? [`b${i}`] : [])];
    initializers.push({ name: `w${i}`, dims: weightShape, data: layer.weight });
    if (layer.bias) initializers.push({ name: `b${i}`, dims: [weightShape[0]], data: layer.bias });
    const attributes = {
      kernel_shape: weightShape.slice(2),
      strides: params.stride,
      dilations: params.dilation,
      pads: [...params.padding, ...params.padding],
      group: params.groups,
    };
    nodes.push({ opType: 'Conv', inputs, outputs: [`c${i}`], attributes });
    current = `c${i}`;
    const act = params.activation;
    if (act.kind === 'linear') return;
    if (act.kind !== 'relu' && act.kind !== 'elu')
      throw new Error(`the ONNX export has no ${act.kind} activation`);
    const alpha = act.kind === 'elu' ? { alpha: { float: act.alpha ?? 1 } } : undefined;
    nodes.push({
      opType: act.kind === 'relu' ? 'Relu' : 'Elu',
      inputs: [current],
      outputs: [`a${i}`],
      attributes: alpha,
    });
    current = `a${i}`;
  });
  const argmax = { axis: 1, keepdims: 0, select_last_index: 0 };
  nodes.push({ opType: 'ArgMax', inputs: [current], outputs: ['labels'], attributes: argmax });
  return {
    name: 'network',
    nodes,
    initializers,
    inputs: [{ name: 'x', dims: [1, graph.inputChannels, ...dims] }],
    outputs: [{ name: 'labels', dims: [1, ...dims], elemType: ONNX_INT64 }],
  };
}

/** A whole network on onnxruntime: labels (D, H, W) from a (Cin, D, H, W) input. */
export interface OrtNetwork {
  id: 'ort-node' | 'ort-web';
  version: string;
  run(input: Float32Array): Promise<Int32Array>;
  dispose(): Promise<void>;
}

/** Start a session of `graph` on onnxruntime-node or -web with `threads` threads. */
export async function createOrtNetwork(
  id: 'ort-node' | 'ort-web',
  threads: number,
  graph: ModelGraph,
  dims: readonly [number, number, number],
): Promise<OrtNetwork> {
  const engine =
    id === 'ort-node' ? await createOrtNodeEngine(threads) : await createOrtWebEngine(threads);
  const ort = (await import(
    id === 'ort-node' ? 'onnxruntime-node' : 'onnxruntime-web'
  )) as unknown as OrtModule;
  const options =
    id === 'ort-node'
      ? {
          executionProviders: ['cpu'],
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          graphOptimizationLevel: 'all',
        }
      : { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  const session = await ort.InferenceSession.create(
    encodeOnnxModel(networkGraph(graph, dims)),
    options,
  );
  const shape = [1, graph.inputChannels, ...dims];
  return {
    id,
    version: engine.version,
    run: async (input) => {
      const { labels } = await session.run({ x: new ort.Tensor('float32', input, shape) });
      return Int32Array.from(labels.data as BigInt64Array, Number);
    },
    dispose: () => session.release(),
  };
}
