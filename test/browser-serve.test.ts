/**
 * `voxseg serve` without a browser: cross-origin isolation headers on every response, MIME
 * types, /config.json listing only models whose files match the catalog, no path outside the
 * served roots (`..`, encoded or not, and symbolic links), and clear errors for a taken port,
 * a missing demo build, models directory or example.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoServer, ISOLATION_HEADERS, startDemoServer } from '../ts/cli/serve.js';
import { CATALOG } from '../ts/model/catalog.js';
import { runCli } from './helpers/cli.js';
import { dataPath, missingData } from './helpers/data.js';

const SECRET = 'secret outside the served roots';
const MODEL = CATALOG.find((entry) => entry.name === 'model5_gw_ae')!;
const skipModel = missingData('brainchop/models/model5_gw_ae/model.json');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request: the path goes out exactly as written (no URL normalisation). */
function get(server: DemoServer, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((done, fail) => {
    const options = { host: server.host, port: server.port, path, method };
    const req = request(options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('latin1');
        done({ status: response.statusCode ?? 0, headers: response.headers, body });
      });
    });
    req.on('error', fail);
    req.end();
  });
}

/**
 * A scratch tree: demo/ (the page), models/ (one good model when the shared data is present,
 * one with a damaged file, a link to outside), example.nii.gz, and secret.txt beside them.
 */
function scratchTree(root: string): void {
  const demo = join(root, 'demo');
  mkdirSync(demo);
  writeFileSync(join(demo, 'index.html'), '<!doctype html><title>demo</title>');
  writeFileSync(join(demo, 'app.js'), 'export {};');
  writeFileSync(join(demo, 'style.css'), 'body {}');
  writeFileSync(join(demo, 'kernels.wasm'), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
  writeFileSync(join(root, 'secret.txt'), SECRET);
  writeFileSync(join(root, 'example.nii.gz'), new Uint8Array([0x1f, 0x8b, 8, 0]));

  const models = join(root, 'models');
  mkdirSync(join(models, 'models', 'model11_gw_ae'), { recursive: true });
  writeFileSync(join(models, 'models', 'model11_gw_ae', 'model.json'), '{}');
  symlinkSync(root, join(models, 'outside'));
  if (skipModel) return;
  const source = dataPath('brainchop/models/model5_gw_ae');
  mkdirSync(join(models, 'model5_gw_ae'));
  for (const file of MODEL.files)
    copyFileSync(join(source, file.name), join(models, 'model5_gw_ae', file.name));
}

describe('voxseg serve', () => {
  let root: string;
  let server: DemoServer;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'voxseg-serve-'));
    scratchTree(root);
    const example = join(root, 'example.nii.gz');
    const options = { demoDir: join(root, 'demo'), modelsDir: join(root, 'models'), example };
    server = await startDemoServer({ ...options, port: 0 });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('listens on loopback and serves the page at /', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const page = await get(server, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>demo</title>');
  });

  it('sends the cross-origin isolation headers on every response', async () => {
    const replies = await Promise.all([
      get(server, '/'),
      get(server, '/config.json'),
      get(server, '/example/example.nii.gz'),
      get(server, '/no-such-file'),
      get(server, '/', 'POST'),
    ]);
    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200, 404, 405]);
    for (const reply of replies) {
      for (const [name, value] of Object.entries(ISOLATION_HEADERS)) {
        expect(reply.headers[name.toLowerCase()], name).toBe(value);
      }
    }
    expect(ISOLATION_HEADERS['Cross-Origin-Embedder-Policy']).toBe('require-corp');
  });

  it('gives each file its MIME type; .gz stays octet-stream without Content-Encoding', async () => {
    const types = {
      '/': 'text/html; charset=utf-8',
      '/app.js': 'text/javascript; charset=utf-8',
      '/style.css': 'text/css; charset=utf-8',
      '/kernels.wasm': 'application/wasm',
      '/config.json': 'application/json; charset=utf-8',
      '/example/example.nii.gz': 'application/octet-stream',
    };
    for (const [path, type] of Object.entries(types)) {
      const reply = await get(server, path);
      expect(reply.headers['content-type'], path).toBe(type);
      expect(reply.headers['content-encoding'], path).toBeUndefined();
    }
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await get(server, '/app.js', 'HEAD');
    expect([head.status, head.body, head.headers['content-length']]).toEqual([200, '', '10']);
    const put = await get(server, '/app.js', 'PUT');
    expect([put.status, put.headers.allow]).toEqual([405, 'GET, HEAD']);
  });

  it('never serves a file outside its roots', async () => {
    const attempts = [
      '/../secret.txt',
      '/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E%2Fsecret.txt',
      '/models/../secret.txt',
      '/models/%2e%2e/secret.txt',
      '/models/..%2f..%2fsecret.txt',
      '/models/outside/secret.txt',
      '/models/..%5csecret.txt',
      '/example/../secret.txt',
      '/example/..%2fsecret.txt',
      '/example/%2e%2e%2fsecret.txt',
      '/models/%00/../../secret.txt',
      '//secret.txt',
    ];
    for (const path of attempts) {
      const reply = await get(server, path);
      expect([400, 404], path).toContain(reply.status);
      expect(reply.body, path).not.toContain(SECRET);
    }
  });

  it('serves files inside the roots, so the refusals above are not blanket ones', async () => {
    const models = await get(server, '/models/models/model11_gw_ae/model.json');
    expect([models.status, models.body]).toEqual([200, '{}']);
    const encoded = await get(server, '/models/models/%6dodel11_gw_ae/model.json');
    expect(encoded.status).toBe(200);
  });

  it('lists in /config.json the example and the models whose files match the catalog', async () => {
    const config = JSON.parse((await get(server, '/config.json')).body);
    expect(config.example).toEqual({ name: 'example.nii.gz', url: 'example/example.nii.gz' });
    const names = config.models.map((model: { name: string }) => model.name);
    expect(names).not.toContain('model11_gw_ae');
    if (skipModel) return;
    expect(config.models).toEqual([
      {
        name: 'model5_gw_ae',
        description: MODEL.description,
        classes: 3,
        url: 'models/model5_gw_ae/',
      },
    ]);
    const weights = await get(server, '/models/model5_gw_ae/group1-shard1of1.bin');
    expect(weights.headers['content-length']).toBe(String(MODEL.files[1].bytes));
  });

  it('reports a taken port with the port and a remedy', async () => {
    const attempt = startDemoServer({ demoDir: join(root, 'demo'), port: server.port });
    await expect(attempt).rejects.toThrow(
      new RegExp(`port ${server.port} on 127.0.0.1 is already in use .*--port`),
    );
  });

  it('exits with one sentence from the CLI when the port is taken', () => {
    const args = ['serve', '--port', String(server.port), '--demo-dir', join(root, 'demo')];
    const run = runCli([...args, '--models-dir', join(root, 'models')]);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      `voxseg: port ${server.port} on 127.0.0.1 is already in use (stop the program using it, ` +
        'or pass another --port; 0 picks a free one)',
    );
  });

  it('names the option when the demo build, models directory or example is missing', async () => {
    const missing = join(root, 'missing');
    await expect(startDemoServer({ demoDir: missing, port: 0 })).rejects.toThrow(
      /the demo page is not built: .*index\.html is missing \(run npm run build:demo\)/,
    );
    const demoDir = join(root, 'demo');
    await expect(startDemoServer({ demoDir, modelsDir: missing, port: 0 })).rejects.toThrow(
      `expected an existing directory for --models-dir, received '${missing}'`,
    );
    await expect(startDemoServer({ demoDir, example: missing, port: 0 })).rejects.toThrow(
      `expected an existing volume file for --example, received '${missing}'`,
    );
    const notVolume = join(root, 'secret.txt');
    await expect(startDemoServer({ demoDir, example: notVolume, port: 0 })).rejects.toThrow(
      /expected a \.nii, \.nii\.gz, \.mgh or \.mgz file for --example/,
    );
  });
});
