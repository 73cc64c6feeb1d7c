/** A backend that fails while running hands the network to the next one when allowed. */
import { describe, expect, it } from 'vitest';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import { type Backend, conv3dParams } from '../ts/engine/backend.js';
import { BackendRuntimeError } from '../ts/engine/errors.js';
import type { Volume } from '../ts/io/volume.js';
import { DEFAULT_RECIPE } from '../ts/model/catalog.js';
import type { LoadedModel } from '../ts/model/model.js';
import { segment } from '../ts/pipeline/segment.js';
import { randomFloats } from './helpers/random.js';

/** A reference backend whose conv3d fails the way a lost GPU device does. */
function failingBackend(): Backend {
  const inner = new ReferenceBackend();
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'conv3d') {
        return async () => {
          throw new BackendRuntimeError('device lost: the GPU was reset');
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const model: LoadedModel = {
  name: 'two-layer test model',
  recipe: { ...DEFAULT_RECIPE, cropPadding: 0 },
  labelNames: ['background', 'a'],
  graph: {
    source: 'test',
    inputChannels: 1,
    outputChannels: 2,
    layers: [
      {
        kind: 'conv3d',
        name: 'c0',
        weight: randomFloats(2 * 27, 3),
        weightShape: [2, 1, 3, 3, 3],
        bias: Float32Array.from([0.1, -0.1]),
        params: conv3dParams({ padding: [1, 1, 1] }),
      },
    ],
  },
};

/** A conformed 256^3 uint8 volume with a small bright block (so the crop is small). */
function volume(): Volume {
  const data = new Uint8Array(256 ** 3);
  for (let z = 120; z < 130; z++) {
    for (let y = 120; y < 131; y++)
      data.fill(200, 120 + 256 * (y + 256 * z), 132 + 256 * (y + 256 * z));
  }
  const affine = [-1, 0, 0, 128, 0, 0, 1, -128, 0, -1, 0, 128, 0, 0, 0, 1];
  return {
    dims: [256, 256, 256],
    frames: 1,
    spacing: [1, 1, 1],
    affine,
    datatype: 'uint8',
    data,
    description: '',
  };
}

describe('segment with fallbacks', () => {
  it('moves to the next backend on a runtime failure and says so', async () => {
    const moves: string[] = [];
    const fallback = new ReferenceBackend();
    const result = await segment(volume(), model, {
      backend: failingBackend(),
      fallbacks: [fallback],
      onFallback: (from, to, error) => moves.push(`${from.name} -> ${to.name}: ${error.message}`),
    });
    expect(moves).toEqual(['reference -> reference: device lost: the GPU was reset']);
    const direct = await segment(volume(), model, { backend: new ReferenceBackend() });
    const bytes = (v: Volume) => Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength);
    expect(bytes(result.labels).equals(bytes(direct.labels))).toBe(true);
    expect(result.backend).toBe('reference');
  });

  it('propagates the failure when no fallback is allowed', async () => {
    await expect(segment(volume(), model, { backend: failingBackend() })).rejects.toThrow(
      /device lost/,
    );
  });
});
