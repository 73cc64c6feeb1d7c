/** Model loading: the TensorFlow.js layers format, the catalog, local resolution, downloads. */
import { createHash } from 'node:crypto';
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  cpSync,
  existsSync,
  mkdirSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG, SOURCE_REVISION } from '../ts/model/catalog.js';
import { kerasKernelToEngine } from '../ts/model/tfjs.js';
import { loadModelByName, resolveModel } from '../ts/model/resolve.js';
import { dataPath, missingData } from './helpers/data.js';
import { randomFloats } from './helpers/random.js';

const MODELS = dataPath('brainchop');
const skipModels = missingData(
  'brainchop/models/model5_gw_ae/model.json',
  'brainchop/models/mindgrab/model.json',
);

describe('keras kernel conversion', () => {
  it('moves [kd, kh, kw, in, out] to (out, in, KD, KH, KW), reversing axes when transposed', () => {
    const kernel: [number, number, number] = [2, 3, 4];
    const values = randomFloats(2 * 3 * 4 * 2 * 5, 3);
    const at = (a: number, b: number, c: number, i: number, o: number) =>
      values[(((a * 3 + b) * 4 + c) * 2 + i) * 5 + o];
    const plain = kerasKernelToEngine(values, kernel, 2, 5, false);
    const transposed = kerasKernelToEngine(values, kernel, 2, 5, true);
    // plain: (5, 2, 2, 3, 4); transposed: (5, 2, 4, 3, 2)
    expect(plain[(((4 * 2 + 1) * 2 + 1) * 3 + 2) * 4 + 3]).toBe(at(1, 2, 3, 1, 4));
    expect(transposed[(((4 * 2 + 1) * 4 + 3) * 3 + 2) * 2 + 1]).toBe(at(1, 2, 3, 1, 4));
  });
});

describe.skipIf(skipModels)('catalog and loading (shared models)', () => {
  it('pins every catalogued file with its real size and sha256', () => {
    for (const entry of CATALOG) {
      for (const file of entry.files) {
        const bytes = readFileSync(join(MODELS, entry.path, file.name));
        expect(bytes.length, `${entry.name}/${file.name}`).toBe(file.bytes);
        expect(createHash('sha256').update(bytes).digest('hex'), `${entry.name}/${file.name}`).toBe(
          file.sha256,
        );
      }
    }
  });

  it('loads every catalogued model with the documented layer structure', async () => {
    for (const entry of CATALOG) {
      const model = await loadModelByName(entry.name, { modelsDir: MODELS, download: false });
      const convs = model.graph.layers.filter((layer) => layer.kind === 'conv3d');
      expect(model.graph.outputChannels, entry.name).toBe(entry.classes);
      expect(model.graph.inputChannels).toBe(1);
      expect(model.labelNames.length).toBeGreaterThanOrEqual(entry.classes);
      expect(convs.at(-1)!.weightShape.slice(2)).toEqual([1, 1, 1]);
    }
    const mindgrab = await loadModelByName('mindgrab', { modelsDir: MODELS, download: false });
    const kinds = mindgrab.graph.layers.map((layer) => layer.kind);
    expect(kinds.filter((kind) => kind === 'instanceNorm')).toHaveLength(25);
    expect(mindgrab.graph.layers[1]).toMatchObject({
      kind: 'instanceNorm',
      activation: { kind: 'gelu' },
    });
    const model5 = await loadModelByName('model5_gw_ae', { modelsDir: MODELS, download: false });
    const dilations = model5.graph.layers.flatMap((l) =>
      l.kind === 'conv3d' ? [l.params.dilation[0]] : [],
    );
    expect(dilations).toEqual([1, 2, 4, 8, 16, 8, 4, 2, 1, 1]);
    expect(model5.graph.layers[0]).toMatchObject({ params: { activation: { kind: 'relu' } } });
  });

  describe('bad model files', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'voxseg-model-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const copyModel = (name: string) => {
      const target = join(dir, name);
      cpSync(join(MODELS, 'models/model5_gw_ae'), target, { recursive: true });
      return target;
    };

    it('names the missing weight shard', async () => {
      const target = copyModel('missing');
      rmSync(join(target, 'group1-shard1of1.bin'));
      await expect(loadModelByName(target)).rejects.toThrow(/group1-shard1of1\.bin.*missing/);
    });

    it('names the short weight shard with its size', async () => {
      const target = copyModel('short');
      const shard = join(target, 'group1-shard1of1.bin');
      writeFileSync(shard, readFileSync(shard).subarray(0, 1000));
      await expect(loadModelByName(target)).rejects.toThrow(/shard is short.*1000 bytes/);
    });

    it('names a missing field of model.json as missing', async () => {
      const target = copyModel('manifest');
      const json = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8'));
      delete json.weightsManifest;
      writeFileSync(join(target, 'model.json'), JSON.stringify(json));
      await expect(loadModelByName(target)).rejects.toThrow(
        /model\.json: expected a list for weightsManifest, received nothing \(the field is missing\)/,
      );
    });

    it('names an unsupported layer type', async () => {
      const target = copyModel('layer');
      const json = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8'));
      json.modelTopology.model_config.config.layers[2].class_name = 'Conv3DTranspose';
      writeFileSync(join(target, 'model.json'), JSON.stringify(json));
      await expect(loadModelByName(target)).rejects.toThrow(
        /unsupported layer type 'Conv3DTranspose'/,
      );
    });

    it('suggests the closest catalog name for a typo', async () => {
      await expect(resolveModel('model5_gw_a', { download: false })).rejects.toThrow(
        /did you mean 'model5_gw_ae'/,
      );
    });
  });
});

describe.skipIf(skipModels)('model download from a loopback server', () => {
  let server: Server;
  let baseUrl: string;
  let cacheDir: string;
  const requests: string[] = [];

  beforeAll(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'voxseg-cache-'));
    server = createServer((request, response) => {
      requests.push(request.url!);
      const prefix = `/${SOURCE_REVISION}/`;
      const entry = CATALOG.find((e) => request.url!.startsWith(`${prefix}${e.sourcePath}/`));
      const name = request.url!.split('/').pop()!;
      const file = entry && join(MODELS, entry.path, name);
      if (!file || !existsSync(file)) {
        response.writeHead(404).end();
        return;
      }
      const bytes = readFileSync(file);
      response.writeHead(200).end(request.url!.includes('mindgrab') ? bytes.subarray(1) : bytes);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const address = server.address() as { port: number };
    baseUrl = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('downloads, verifies and caches, then reuses the cache', async () => {
    const first = await resolveModel('model5_gw_ae', {
      cacheDir,
      baseUrl,
      modelsDir: join(cacheDir, 'none'),
    });
    expect(first.origin).toBe('download');
    expect(requests.filter((url) => url.includes('model5_gw_ae'))).toHaveLength(3);
    const second = await resolveModel('model5_gw_ae', { cacheDir, baseUrl });
    expect(second.origin).toBe('cache');
    expect(requests.filter((url) => url.includes('model5_gw_ae'))).toHaveLength(3);
    const model = await loadModelByName('model5_gw_ae', { cacheDir, baseUrl });
    expect(model.graph.outputChannels).toBe(3);
  });

  it('rejects a download whose size or checksum is wrong, keeping nothing', async () => {
    await expect(resolveModel('mindgrab', { cacheDir, baseUrl })).rejects.toThrow(
      /expected 68331 bytes/,
    );
    expect(existsSync(join(cacheDir, 'models/mindgrab/model.json'))).toBe(false);
  });

  it('reports an unreachable source with the URL', async () => {
    mkdirSync(join(cacheDir, 'x'), { recursive: true });
    await expect(
      resolveModel('model18cls', { cacheDir: join(cacheDir, 'x'), baseUrl: 'http://127.0.0.1:9' }),
    ).rejects.toThrow(/127\.0\.0\.1:9.*download failed/);
  });
});
