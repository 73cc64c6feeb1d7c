/**
 * The benchmark cases: the brainchop layer table (checked against the models' model.json files
 * when ../shared/data is present), the distinct shapes drawn from it, the U-Net layers, and the
 * sizes and FLOP counts of cases.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../ts/node.js';
import { loadModelByName } from '../ts/model/resolve.js';
import {
  BRAINCHOP_MODELS,
  brainchopCropCases,
  brainchopLayers,
  convFlops,
  distinctBrainchopShapes,
  makeCase,
  outExtent,
  unetCases,
} from '../bench/lib/cases.js';
import { selectSuites } from '../bench/run.js';

const MODELS_DIR = join(__dirname, '..', '..', 'shared', 'data', 'brainchop');
const hasModels = existsSync(MODELS_DIR);

describe('brainchop layer table', () => {
  it.skipIf(!hasModels)('matches every model.json in ../shared/data/brainchop', async () => {
    for (const entry of BRAINCHOP_MODELS) {
      const model = await loadModelByName(entry.name, { modelsDir: MODELS_DIR });
      const convs = model.graph.layers.filter((l) => l.kind === 'conv3d');
      const got = convs.map((l) => {
        const [cout, cin, k] = l.weightShape;
        return `${cin}->${cout} k${k} d${l.params.dilation[0]} ${l.bias ? 'bias' : ''}`;
      });
      const want = brainchopLayers(entry).map(
        (s) => `${s.cin}->${s.cout} k${s.kernel} d${s.dilation} ${s.bias ? 'bias' : ''}`,
      );
      expect(got, entry.name).toEqual(want);
    }
  });
  if (!hasModels) it.skip(`needs ${MODELS_DIR} (absent here)`, () => {});

  it('has 46 distinct layer shapes, each listing the models that use it', () => {
    const shapes = distinctBrainchopShapes();
    expect(shapes).toHaveLength(46);
    const head5 = shapes.find((s) => s.cin === 5 && s.cout === 3)!;
    expect(head5).toMatchObject({
      kernel: 1,
      padding: 0,
      activation: 'linear',
      uses: ['model5_gw_ae'],
    });
    const mid21 = shapes.find((s) => s.cin === 21 && s.cout === 21 && s.dilation === 8)!;
    expect(mid21.uses).toEqual([
      'model18cls',
      'model21_104class',
      'model21_3class',
      'mnm_tfjs_me_test',
    ]);
  });
});

describe('case geometry', () => {
  it('keeps "same" sizes at stride 1 and halves at stride 2', () => {
    expect(outExtent(64, { kernel: 3, stride: 1, dilation: 16, padding: 16 })).toBe(64);
    expect(outExtent(128, { kernel: 3, stride: 2, dilation: 1, padding: 1 })).toBe(64);
    expect(outExtent(9, { kernel: 1, stride: 1, dilation: 1, padding: 0 })).toBe(9);
  });

  it('counts 2 FLOP per multiply-add over the output', () => {
    const shape = distinctBrainchopShapes().find((s) => s.cin === 30 && s.dilation === 4)!;
    const c = makeCase(shape, [64, 64, 64], '64^3');
    expect(c.id).toBe('30->30 k3 d4 @ 64^3');
    expect(convFlops(c)).toBe(2 * 30 * 30 * 27 * 64 ** 3);
  });

  it('cuts crop cases to a slab of planes with the crop plane kept', () => {
    const [c] = brainchopCropCases([256, 200, 180], 32);
    expect(c.dims).toEqual([32, 200, 180]);
    expect(c.size).toBe('crop 256x200x180, 32-plane slab');
  });

  it('lays out a U-Net from 32 to 320 channels with stride-2 downsampling on a 128^3 patch', () => {
    const cases = unetCases(128, 4);
    expect(cases.map((c) => c.id)).toContain('32->64 k3 s2 d1 @ 128^3');
    expect(cases.find((c) => c.cin === 640)!.dims).toEqual([8, 8, 8]);
    expect(Math.max(...cases.map((c) => c.cout))).toBe(320);
    expect(cases.at(-1)).toMatchObject({ cin: 32, cout: 4, kernel: 1, outDims: [128, 128, 128] });
  });
});

describe('suite selection', () => {
  it('runs every suite by default and names the unknown one', () => {
    expect(selectSuites([]).map((s) => s.name)).toEqual(['conv3d', 'dice', 'segment']);
    expect(selectSuites(['dice']).map((s) => s.name)).toEqual(['dice']);
    expect(() => selectSuites(['gpu'])).toThrow(
      /conv3d, dice, segment for the suite, received 'gpu'/,
    );
  });
});
