/**
 * The benchmarks' ONNX writer (bench/peers/onnx.ts) and the graphs built with it: the bytes
 * decode as the ModelProto fields onnx.proto defines (read back with protobufjs's reader), and
 * onnxruntime-node runs them to the same numbers as voxseg's reference backend: one conv layer
 * per activation, and a whole model graph ending in ArgMax.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import '../ts/node.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { conv3dParams } from '../ts/engine/backend.js';
import type { ModelGraph } from '../ts/model/graph.js';
import { prepareModel, runModel } from '../ts/model/runner.js';
import { convCaseGraph, networkGraph } from '../bench/engines/ort.js';
import { makeCase } from '../bench/lib/cases.js';
import { encodeOnnxModel, ONNX_IR_VERSION, ONNX_OPSET } from '../bench/peers/onnx.js';
import { expectClose, expectEqualArrays } from './helpers/compare.js';
import { randomFloats } from './helpers/random.js';

type Fields = Map<number, Array<number | Uint8Array>>;

/** Every field of one protobuf message: varints as numbers, length-delimited as bytes. */
function fields(bytes: Uint8Array): Fields {
  const reader = protobuf.Reader.create(bytes);
  const out: Fields = new Map();
  while (reader.pos < reader.len) {
    const key = reader.uint32();
    const [field, type] = [key >>> 3, key & 7];
    const value = type === 0 ? reader.uint32() : type === 2 ? reader.bytes() : reader.float();
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const text = (v: number | Uint8Array) => new TextDecoder().decode(v as Uint8Array);

const shape = {
  group: 'brainchop' as const,
  cin: 2,
  cout: 3,
  kernel: 3,
  stride: 1,
  dilation: 2,
  padding: 2,
  activation: 'elu' as const,
  bias: true,
  uses: ['test'],
};

describe('ONNX writer', () => {
  it('writes a ModelProto with the IR version, opset, nodes, initializers and typed values', () => {
    const c = makeCase(shape, [5, 6, 7], 'test');
    const data = {
      x: randomFloats(2 * 210, 1),
      weight: randomFloats(3 * 2 * 27, 2),
      bias: randomFloats(3, 3),
    };
    const model = fields(encodeOnnxModel(convCaseGraph(c, data)));
    expect(model.get(1)).toEqual([ONNX_IR_VERSION]);
    const opset = fields(model.get(8)![0] as Uint8Array);
    expect(opset.get(2)).toEqual([ONNX_OPSET]);

    const graph = fields(model.get(7)![0] as Uint8Array);
    const nodes = graph.get(1)!.map((n) => fields(n as Uint8Array));
    expect(nodes.map((n) => text(n.get(4)![0]))).toEqual(['Conv', 'Elu']);
    const attributes = nodes[0].get(5)!.map((a) => fields(a as Uint8Array));
    const dilations = attributes.find((a) => text(a.get(1)![0]) === 'dilations')!;
    expect(dilations.get(8)).toEqual([2, 2, 2]);

    const weight = fields(graph.get(5)![0] as Uint8Array);
    expect(weight.get(1)).toEqual([3, 2, 3, 3, 3]);
    expect((weight.get(9)![0] as Uint8Array).byteLength).toBe(3 * 2 * 27 * 4);
  });

  it('rejects an initializer whose data does not match its dims', () => {
    const graph = {
      name: 'bad',
      nodes: [],
      inputs: [],
      outputs: [],
      initializers: [{ name: 'w', dims: [2, 3], data: new Float32Array(5) }],
    };
    expect(() => encodeOnnxModel(graph)).toThrow(
      /initializer w: dims \[2,3\] hold 6 values, received 5/,
    );
  });
});

describe('ONNX graphs on onnxruntime-node', () => {
  const reference = new ReferenceBackend();

  for (const activation of ['linear', 'relu', 'elu'] as const) {
    it(`runs a conv layer with ${activation} as the reference backend does`, async () => {
      const ort = await import('onnxruntime-node');
      const c = makeCase({ ...shape, activation }, [5, 6, 7], 'test');
      const data = {
        x: randomFloats(2 * 210, 4),
        weight: randomFloats(3 * 2 * 27, 5),
        bias: randomFloats(3, 6),
      };
      const session = await ort.InferenceSession.create(encodeOnnxModel(convCaseGraph(c, data)));
      const { y } = await session.run({ x: new ort.Tensor('float32', data.x, [1, 2, 5, 6, 7]) });
      const kind = activation === 'elu' ? { kind: 'elu' as const, alpha: 1 } : { kind: activation };
      const params = conv3dParams({ padding: [2, 2, 2], dilation: [2, 2, 2], activation: kind });
      const [x, w, b] = await Promise.all([
        reference.upload(data.x, [1, 2, 5, 6, 7]),
        reference.upload(data.weight, [3, 2, 3, 3, 3]),
        reference.upload(data.bias, [3]),
      ]);
      const want = await reference.download(await reference.conv3d(x, w, b, params));
      expectClose(y.data as Float32Array, want, { atol: 1e-5, rtol: 1e-4 });
      await session.release();
    });
  }

  it('runs a whole model graph to the labels runModel gives', async () => {
    const ort = await import('onnxruntime-node');
    const conv = (cin: number, cout: number, k: number, d: number, seed: number) => ({
      kind: 'conv3d' as const,
      name: `conv${seed}`,
      weight: randomFloats(cout * cin * k ** 3, seed),
      weightShape: [cout, cin, k, k, k] as [number, number, number, number, number],
      bias: randomFloats(cout, seed + 1),
      params: conv3dParams({
        padding: [d * (k >> 1), d * (k >> 1), d * (k >> 1)],
        dilation: [d, d, d],
        activation: { kind: 'relu' },
      }),
    });
    const head = { ...conv(4, 3, 1, 1, 30), params: conv3dParams() };
    const graph: ModelGraph = {
      source: 'test',
      inputChannels: 1,
      outputChannels: 3,
      layers: [conv(1, 4, 3, 1, 10), conv(4, 4, 3, 2, 20), head],
    };
    const dims = [9, 10, 11] as const;
    const input = randomFloats(990, 7);
    const session = await ort.InferenceSession.create(encodeOnnxModel(networkGraph(graph, dims)));
    const { labels } = await session.run({ x: new ort.Tensor('float32', input, [1, 1, ...dims]) });
    const want = (await runModel(await prepareModel(reference, graph), input, dims)).labels!;
    expectEqualArrays(Int32Array.from(labels.data as BigInt64Array, Number), want);
    await session.release();
  });
});
