/** Streaming execution along D equals a plain layer-by-layer run, for every chunk size. */
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { conv3dParams, type Backend } from '../ts/engine/backend.js';
import type { Tensor } from '../ts/engine/tensor.js';
import type { Layer, ModelGraph } from '../ts/model/graph.js';
import { planChunks, prepareModel, runModel } from '../ts/model/runner.js';
import { backendsUnderTest } from './helpers/backends.js';
import { expectClose } from './helpers/compare.js';
import { randomFloats } from './helpers/random.js';

function conv(
  name: string,
  cin: number,
  cout: number,
  dilation: number,
  seed: number,
  k = 3,
): Layer {
  const halo = (dilation * (k - 1)) / 2;
  return {
    kind: 'conv3d',
    name,
    weight: randomFloats(cout * cin * k ** 3, seed, -0.5, 0.5),
    weightShape: [cout, cin, k, k, k],
    bias: randomFloats(cout, seed + 1, -0.2, 0.2),
    params: conv3dParams({
      padding: [halo, halo, halo],
      dilation: [dilation, dilation, dilation],
      activation: { kind: 'elu' },
    }),
  };
}

/** A small MeshNet-like chain with an instance norm stage boundary in the middle. */
function testGraph(): ModelGraph {
  const layers: Layer[] = [
    conv('c0', 1, 3, 1, 10),
    conv('c1', 3, 3, 2, 20),
    {
      ...conv('c2', 3, 4, 3, 30),
      params: { ...conv('c2', 3, 4, 3, 30).params, activation: { kind: 'linear' } },
    } as Layer,
    { kind: 'instanceNorm', name: 'n2', eps: 1e-5, activation: { kind: 'gelu' } },
    conv('c3', 4, 3, 2, 40),
    { ...conv('out', 3, 3, 1, 50, 1) },
  ];
  return { source: 'test-graph', inputChannels: 1, outputChannels: 3, layers };
}

/** Plain run: each layer over the whole tensor with its own padding, no streaming. */
async function plainRun(backend: Backend, graph: ModelGraph, input: Float32Array, dims: number[]) {
  let x: Tensor = await backend.upload(input, [1, 1, ...dims]);
  for (const layer of graph.layers) {
    if (layer.kind === 'conv3d') {
      const w = await backend.upload(layer.weight, layer.weightShape);
      const b = layer.bias ? await backend.upload(layer.bias, [layer.bias.length]) : null;
      x = await backend.conv3d(x, w, b, layer.params);
    } else if (layer.kind === 'instanceNorm') {
      x = await backend.instanceNorm(x, { eps: layer.eps, activation: layer.activation });
    } else {
      x = await backend.activation(x, layer.activation);
    }
  }
  return (await backend.download(x)) as Float32Array;
}

describe('streaming runner', () => {
  const backend = new ReferenceBackend();
  const dims = [13, 9, 7] as const;
  const input = randomFloats(13 * 9 * 7, 7, 0, 1);

  it('gives the plain run for chunk sizes 1, 2, 5 and whole', async () => {
    const graph = testGraph();
    const expected = await plainRun(backend, graph, input, [...dims]);
    const model = await prepareModel(backend, graph);
    for (const chunkPlanes of [1, 2, 5, 13]) {
      const result = await runModel(model, input, dims, { chunkPlanes, output: 'logits' });
      expect(result.chunkPlanes).toBe(chunkPlanes);
      expectClose(result.logits!, expected, { atol: 1e-5, rtol: 1e-5 }, `chunk ${chunkPlanes}`);
    }
    model.release();
  });

  it('returns argmax labels equal to the logits argmax, and releases what it allocates', async () => {
    const graph = testGraph();
    const model = await prepareModel(backend, graph);
    const held = backend.memory().bytes;
    const { logits } = await runModel(model, input, dims, { chunkPlanes: 4, output: 'logits' });
    const { labels } = await runModel(model, input, dims, { chunkPlanes: 3 });
    expect(backend.memory().bytes).toBe(held);
    const spatial = 13 * 9 * 7;
    for (let i = 0; i < spatial; i++) {
      const scores = [0, 1, 2].map((c) => logits![c * spatial + i]);
      expect(labels![i]).toBe(scores.indexOf(Math.max(...scores)));
    }
    model.release();
  });

  it('rejects an input whose channels differ from the model', async () => {
    const model = await prepareModel(backend, testGraph());
    await expect(runModel(model, new Float32Array(2 * 13 * 9 * 7).fill(1), dims)).rejects.toThrow(
      /expects 1 input channel\(s\) but the volume has 2/,
    );
  });

  it('plans smaller chunks for a smaller memory budget', () => {
    const graph = testGraph();
    const big = planChunks(graph, [256, 256, 256], { memoryBudget: 2 ** 34 });
    const small = planChunks(graph, [256, 256, 256], { memoryBudget: 2 ** 30 });
    expect(big.chunkPlanes).toBe(256);
    expect(small.chunkPlanes).toBeLessThan(256);
    expect(small.plannedBytes).toBeLessThanOrEqual(2 ** 30);
  });
});

describe('streaming runner on every backend', async () => {
  const dims = [13, 9, 7] as const;
  const input = randomFloats(13 * 9 * 7, 8, 0, 1);
  const expected = await plainRun(new ReferenceBackend(), testGraph(), input, [...dims]);

  for (const { name, backend, skipReason } of await backendsUnderTest()) {
    it.skipIf(!backend)(
      `${name}: streamed chunks equal the reference's untiled run${skipReason ? ` (skipped: ${skipReason})` : ''}`,
      async () => {
        const model = await prepareModel(backend!, testGraph());
        for (const chunkPlanes of [1, 4, 13]) {
          const result = await runModel(model, input, dims, { chunkPlanes, output: 'logits' });
          expectClose(
            result.logits!,
            expected,
            { atol: 1e-4, rtol: 1e-4 },
            `${name} chunk ${chunkPlanes}`,
          );
        }
        model.release();
      },
    );
  }
});
