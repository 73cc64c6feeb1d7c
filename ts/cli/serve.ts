/**
 * `voxseg serve`: a small static server for the browser demo page (dist/demo), the models
 * directory (under /models/) and one example volume (under /example/), on loopback by default.
 *
 * Every response carries the cross-origin isolation headers (COOP same-origin, COEP
 * require-corp, CORP same-origin) that SharedArrayBuffer, and so the wasm backend's threads,
 * need. Only GET and HEAD are served; a request path that leaves its root (`..`, encoded or
 * not, or a symbolic link pointing outside) gets 404. `/config.json` tells the page which
 * catalogued models the server holds (files present, sizes and sha256 as pinned) and the
 * example's address.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename, dirname, extname, isAbsolute, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError } from 'commander';
import { expected, VoxsegError } from '../engine/errors.js';
import { logger, readSetting } from '../engine/log.js';
import { cacheDirectory } from '../io/cache.js';
import { volumeFormat } from '../io/files.js';
import { CATALOG, type CatalogEntry } from '../model/catalog.js';

const log = logger('serve');

/** Port `voxseg serve` listens on when none is given. */
export const DEFAULT_PORT = 8080;
/** Address `voxseg serve` listens on when none is given: loopback only. */
export const DEFAULT_HOST = '127.0.0.1';

/** The headers that make the page cross-origin isolated; sent with every response. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Content types by extension; anything else (.gz, .nii, .mgz, .bin) is octet-stream. */
const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};
const OCTET_STREAM = 'application/octet-stream';

/** Options of {@link startDemoServer}. */
export interface ServeOptions {
  /** TCP port, 0 for any free one; default {@link DEFAULT_PORT}. */
  port?: number;
  /** Address to listen on; default {@link DEFAULT_HOST} (loopback). */
  host?: string;
  /**
   * Models directory served under /models/, laid out like brainchop's data (`models/<name>`,
   * `v3_models/<name>`) or flat (`<name>`); default `VOXSEG_MODELS`, else the user cache's
   * models (where `voxseg segment` downloads them).
   */
  modelsDir?: string;
  /** A volume file (.nii, .nii.gz, .mgh, .mgz) served as /example/<its name>; default none. */
  example?: string;
  /** The built demo page; default dist/demo of this package (`npm run build:demo`). */
  demoDir?: string;
}

/** A catalogued model the server holds, as /config.json lists it. */
export interface ServedModel {
  name: string;
  description: string;
  classes: number;
  /** Address of the model's directory relative to the page, ending in `/`. */
  url: string;
}

/** What /config.json holds. */
export interface DemoConfig {
  models: ServedModel[];
  /** The example volume, or null when none is served. */
  example: { name: string; url: string } | null;
}

/** A running server. */
export interface DemoServer {
  /** The page's address, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  port: number;
  host: string;
  config: DemoConfig;
  /** Stop listening and drop open connections. */
  close(): Promise<void>;
}

/** The served directories and file, all absolute and with symbolic links resolved. */
interface Site {
  demoDir: string;
  modelsDir: string | null;
  example: string | null;
  config: DemoConfig;
}

/** Add the `serve` command to the program. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the browser demo page, the models and an example volume (loopback)')
    .option('-p, --port <n>', `port, 0 for any free one (default ${DEFAULT_PORT})`, portNumber)
    .option('--host <address>', `address to listen on (default ${DEFAULT_HOST})`)
    .option('--models-dir <dir>', 'models directory (default: VOXSEG_MODELS, else the cache)')
    .option('--example <file>', 'a volume the page offers as its example')
    .option('--demo-dir <dir>', 'the built demo page (default: dist/demo of this package)')
    .action(runServe);
}

async function runServe(flags: ServeOptions): Promise<void> {
  const server = await startDemoServer(flags);
  const names = server.config.models.map((model) => model.name).join(', ') || 'none';
  console.error(`voxseg demo page: ${server.url}`);
  console.error(`models: ${names}; example: ${server.config.example?.name ?? 'none'}`);
  console.error('press Ctrl+C to stop');
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await server.close();
}

/**
 * Start the demo server.
 *
 * @param options - port, host, models directory, example volume, demo directory.
 * @returns the running server, its address and what /config.json lists.
 * @throws VoxsegError naming the option and the value when the demo page is not built, the
 *   models directory or the example is missing (InputError), or the port is taken or not
 *   allowed.
 * @example
 * const server = await startDemoServer({ port: 0, modelsDir: '../shared/data/brainchop' });
 * console.log(server.url);
 * await server.close();
 */
export async function startDemoServer(options: ServeOptions = {}): Promise<DemoServer> {
  const host = options.host ?? DEFAULT_HOST;
  const site = await prepareSite(options);
  if (!isLoopback(host)) {
    log.warn(`listening on ${host}: other machines can fetch the models and the example`);
  }
  const server = createServer((request, response) => {
    handle(site, request, response).catch((error) => failed(response, error));
  });
  const port = await listen(server, options.port ?? DEFAULT_PORT, host);
  const shown = host.includes(':') ? `[${host}]` : host;
  const close = () => closeServer(server);
  return { url: `http://${shown}:${port}/`, port, host, config: site.config, close };
}

/** Check the served paths and list the models once, before listening. */
async function prepareSite(options: ServeOptions): Promise<Site> {
  const demoDir = options.demoDir ?? join(packageRoot(), 'dist', 'demo');
  if (!existsSync(join(demoDir, 'index.html'))) {
    throw new VoxsegError(`the demo page is not built: ${join(demoDir, 'index.html')} is missing`, {
      hint: 'run npm run build:demo',
    });
  }
  const modelsDir = await modelsDirectory(options.modelsDir);
  const example = options.example ? await exampleFile(options.example) : null;
  const models = modelsDir ? await servedModels(modelsDir) : [];
  const exampleEntry = example
    ? { name: basename(example), url: `example/${encodeURIComponent(basename(example))}` }
    : null;
  const config = { models, example: exampleEntry };
  return { demoDir: await realpath(demoDir), modelsDir, example, config };
}

/** The models directory: the option, else VOXSEG_MODELS (both must exist), else the cache. */
async function modelsDirectory(option?: string): Promise<string | null> {
  const setting = readSetting('VOXSEG_MODELS');
  const given = option ?? setting;
  if (given) {
    const field = option ? '--models-dir' : 'VOXSEG_MODELS';
    if (!isDirectory(given)) throw expected('an existing directory', field, given);
    return realpath(given);
  }
  const cached = join(cacheDirectory(), 'models');
  if (isDirectory(cached)) return realpath(cached);
  log.warn(`no models directory (no --models-dir, no VOXSEG_MODELS, no ${cached})`);
  return null;
}

async function exampleFile(path: string): Promise<string> {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw expected('an existing volume file', '--example', path);
  }
  if (!volumeFormat(path)) {
    throw expected('a .nii, .nii.gz, .mgh or .mgz file', '--example', path);
  }
  return realpath(path);
}

/** The catalogued models found in `modelsDir` whose files match their pinned size and sha256. */
async function servedModels(modelsDir: string): Promise<ServedModel[]> {
  const served: ServedModel[] = [];
  for (const entry of CATALOG) {
    const where = [entry.path, entry.name].find((dir) =>
      existsSync(join(modelsDir, dir, 'model.json')),
    );
    if (!where) continue;
    const problem = await damagedFile(entry, join(modelsDir, where));
    if (problem) {
      log.warn(`not serving model ${entry.name}: ${problem}`);
      continue;
    }
    const url = `models/${where.split('/').map(encodeURIComponent).join('/')}/`;
    const { name, description, classes } = entry;
    served.push({ name, description, classes, url });
  }
  return served;
}

/** Why a model's files do not match the catalog, or '' when they all do. */
async function damagedFile(entry: CatalogEntry, dir: string): Promise<string> {
  for (const file of entry.files) {
    const path = join(dir, file.name);
    const bytes = await readFile(path).catch(() => null);
    if (!bytes) return `${path} is missing`;
    if (bytes.length !== file.bytes) return `${path} has ${bytes.length} bytes, not ${file.bytes}`;
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== file.sha256) return `${path} has sha256 ${digest}, not ${file.sha256}`;
  }
  return '';
}

/** Answer one request. */
async function handle(site: Site, request: IncomingMessage, response: ServerResponse) {
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) response.setHeader(name, value);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Cache-Control', 'no-cache');
  const method = request.method ?? '';
  if (method !== 'GET' && method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return sendText(response, 405, `method ${method} is not allowed`);
  }

  const path = requestPath(request.url ?? '/');
  if (path === null) return sendText(response, 400, 'malformed request path');
  if (path === '/config.json') return sendJson(response, site.config, method);
  const file = await locate(site, path);
  log.debug(() => `${method} ${request.url} -> ${file ?? 'not found'}`);
  if (!file) return sendText(response, 404, `not found: ${path}`);
  return sendFile(response, file, method);
}

/** The decoded path of a request target, or null when it cannot be decoded. */
function requestPath(target: string): string | null {
  const raw = target.split(/[?#]/, 1)[0];
  try {
    const path = decodeURIComponent(raw);
    return path.startsWith('/') && !path.includes('\0') ? path : null;
  } catch {
    return null;
  }
}

/** The file a request path names, or null when there is none inside the served roots. */
async function locate(site: Site, path: string): Promise<string | null> {
  if (path.startsWith('/models/')) {
    return site.modelsDir ? fileUnder(site.modelsDir, path.slice('/models/'.length)) : null;
  }
  if (path.startsWith('/example/')) {
    const wanted = site.example && `/example/${basename(site.example)}`;
    return path === wanted ? site.example : null;
  }
  return fileUnder(site.demoDir, path === '/' ? 'index.html' : path);
}

/**
 * The regular file at `path` under `root` (already a real path), or null when it is missing,
 * not a file, or resolves (through `..` or symbolic links) to somewhere outside `root`.
 */
async function fileUnder(root: string, path: string): Promise<string | null> {
  if (path.includes('\\')) return null;
  const candidate = join(root, posix.normalize(`/${path}`));
  const real = await realpath(candidate).catch(() => null);
  if (!real) return null;
  const inside = relative(root, real);
  if (inside.startsWith('..') || isAbsolute(inside)) return null;
  const info = await stat(real).catch(() => null);
  return info?.isFile() ? real : null;
}

function sendFile(response: ServerResponse, file: string, method: string): Promise<void> {
  response.statusCode = 200;
  response.setHeader('Content-Type', MIME_TYPES[extname(file).toLowerCase()] ?? OCTET_STREAM);
  response.setHeader('Content-Length', statSync(file).size);
  if (method === 'HEAD') return new Promise((done) => response.end(done));
  return new Promise((done, fail) => {
    const stream = createReadStream(file);
    stream.on('error', fail);
    response.on('finish', done);
    stream.pipe(response);
  });
}

function sendJson(response: ServerResponse, value: unknown, method: string): void {
  const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  response.writeHead(200, { 'Content-Type': MIME_TYPES['.json'], 'Content-Length': body.length });
  response.end(method === 'HEAD' ? undefined : body);
}

function sendText(response: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(`${text}\n`);
  response.writeHead(status, { 'Content-Type': MIME_TYPES['.txt'], 'Content-Length': body.length });
  response.end(body);
}

/** A failure while answering: 500 when nothing was sent yet, else drop the connection. */
function failed(response: ServerResponse, error: unknown): void {
  log.warn(`request failed: ${(error as Error).message}`);
  if (response.headersSent) response.destroy();
  else sendText(response, 500, 'internal error while reading the file');
}

/** Listen, turning the usual failures into errors that name the option and the value. */
function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((done, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) => fail(listenError(error, port, host)));
    server.listen(port, host, () => {
      server.on('error', (error) => log.error(`server error: ${error.message}`));
      const address = server.address();
      done(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function listenError(error: NodeJS.ErrnoException, port: number, host: string): Error {
  const details = { field: '--port', value: port, cause: error };
  if (error.code === 'EADDRINUSE') {
    const hint = 'stop the program using it, or pass another --port; 0 picks a free one';
    return new VoxsegError(`port ${port} on ${host} is already in use`, { ...details, hint });
  }
  if (error.code === 'EACCES') {
    const hint = 'ports below 1024 need privileges; pass --port 8080 or 0';
    return new VoxsegError(`not allowed to listen on port ${port}`, { ...details, hint });
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return expected('an address of this machine', '--host', host, { cause: error });
  }
  return new VoxsegError(`cannot listen on ${host}:${port}: ${error.message}`, details);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    server.close(() => done());
    server.closeAllConnections();
  });
}

/** The directory holding voxseg's package.json, from this module's location (ts/ or dist/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError('expected an integer from 0 to 65535');
  }
  return n;
}
