/**
 * Finding a model's files on this machine (Node only). Resolution order:
 * 1. an explicit path (a directory holding model.json, or the model.json itself);
 * 2. a catalog name found in the local models directory (`VOXSEG_MODELS` or the option),
 *    laid out like brainchop's data (`models/<name>`, `v3_models/<name>`) or flat (`<name>`);
 * 3. the user cache (ts/io/cache.ts: `VOXSEG_CACHE`, else the platform's cache directory);
 * 4. a download from the model's public source at the pinned revision into that cache, each
 *    file checked against its pinned size and sha256 before it is kept.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { didYouMean, InputError, VoxsegError } from '../engine/errors.js';
import { logger, readSetting } from '../engine/log.js';
import { cacheDirectory } from '../io/cache.js';
import {
  CATALOG,
  type CatalogEntry,
  catalogEntry,
  type CatalogFile,
  sourceUrl,
} from './catalog.js';
import { loadModel, type LoadedModel } from './model.js';
import type { ModelRecipe } from './catalog.js';

const log = logger('model');

export interface ResolveOptions {
  /** Local models directory; default `VOXSEG_MODELS`. */
  modelsDir?: string;
  /** Cache directory; default `VOXSEG_CACHE`, else the user cache. */
  cacheDir?: string;
  /** Base URL replacing the public source (mirrors, tests); default `VOXSEG_MODEL_BASE_URL`. */
  baseUrl?: string;
  /** Allow downloading when the files are not found locally. Default true. */
  download?: boolean;
}

/** Where a model's files were found. */
export interface ResolvedModel {
  dir: string;
  entry?: CatalogEntry;
  /** How it was found: 'path', 'models-dir', 'cache' or 'download'. */
  origin: 'path' | 'models-dir' | 'cache' | 'download';
}

/**
 * Resolve a model name or path to a directory of verified files.
 *
 * @throws InputError naming the model and every place looked, with a did-you-mean for names.
 */
export async function resolveModel(
  spec: string,
  options: ResolveOptions = {},
): Promise<ResolvedModel> {
  const asPath = resolve(spec);
  if (existsSync(asPath)) {
    const dir = statSync(asPath).isDirectory() ? asPath : dirname(asPath);
    return { dir, entry: catalogEntry(spec), origin: 'path' };
  }
  const entry = catalogEntry(spec);
  if (!entry) {
    const hint = didYouMean(
      spec,
      CATALOG.map((e) => e.name),
    );
    throw new InputError(
      `'${spec}' is neither a model directory nor a catalog model (see 'voxseg models')`,
      { field: '--model', value: spec, hint: hint || undefined },
    );
  }

  const modelsDir = options.modelsDir ?? readSetting('VOXSEG_MODELS');
  const looked: string[] = [];
  for (const dir of modelsDir ? [join(modelsDir, entry.path), join(modelsDir, entry.name)] : []) {
    looked.push(dir);
    if (existsSync(join(dir, 'model.json'))) {
      await verifyFiles(entry, dir);
      return { dir, entry, origin: 'models-dir' };
    }
  }

  const cached = join(options.cacheDir ?? cacheDirectory(), 'models', entry.name);
  looked.push(cached);
  if (await filesPresentAndValid(entry, cached)) return { dir: cached, entry, origin: 'cache' };
  if (options.download === false) {
    throw new InputError(`model '${spec}' not found locally (looked in ${looked.join(', ')})`, {
      hint: 'set VOXSEG_MODELS to a directory holding it, or allow downloads',
    });
  }
  await downloadModel(entry, cached, options.baseUrl ?? readSetting('VOXSEG_MODEL_BASE_URL'));
  return { dir: cached, entry, origin: 'download' };
}

/**
 * Resolve and load a model in one step.
 *
 * @param recipe - overrides of the catalog recipe (normalisation, crop, transposition).
 */
export async function loadModelByName(
  spec: string,
  options: ResolveOptions = {},
  recipe: Partial<ModelRecipe> = {},
): Promise<LoadedModel & { resolved: ResolvedModel }> {
  const resolved = await resolveModel(spec, options);
  const model = await loadModel(
    (name) => readModelFile(resolved.dir, name),
    resolved.dir,
    resolved.entry,
    recipe,
  );
  return { ...model, resolved };
}

/** Read one file of a model directory; a missing file is an InputError naming it. */
export async function readModelFile(dir: string, name: string): Promise<Uint8Array> {
  const path = join(dir, name);
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new InputError(`model file is missing or unreadable (${(error as Error).message})`, {
      file: path,
      cause: error,
    });
  }
}

async function verifyFiles(entry: CatalogEntry, dir: string): Promise<void> {
  for (const file of entry.files) {
    const bytes = await readModelFile(dir, file.name);
    checkFile(file, bytes, join(dir, file.name));
  }
}

async function filesPresentAndValid(entry: CatalogEntry, dir: string): Promise<boolean> {
  if (!existsSync(join(dir, 'model.json'))) return false;
  try {
    await verifyFiles(entry, dir);
    return true;
  } catch (error) {
    log.warn(
      `cached model ${entry.name} is damaged, downloading again: ${(error as Error).message}`,
    );
    return false;
  }
}

function checkFile(file: CatalogFile, bytes: Uint8Array, where: string): void {
  if (bytes.length !== file.bytes) {
    throw new InputError(`expected ${file.bytes} bytes for size, received ${bytes.length}`, {
      file: where,
      field: 'size',
      value: bytes.length,
    });
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== file.sha256) {
    throw new InputError(`expected sha256 ${file.sha256}, received ${digest}`, {
      file: where,
      field: 'sha256',
      value: digest,
    });
  }
}

/** Download every file of a model into `dir`, each verified and written atomically. */
async function downloadModel(entry: CatalogEntry, dir: string, baseUrl?: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const file of entry.files) {
    const url = sourceUrl(entry, file.name, baseUrl);
    log.info(`downloading ${entry.name}/${file.name} (${file.bytes} bytes) from ${url}`);
    const bytes = await fetchBytes(url);
    checkFile(file, bytes, url);
    const target = join(dir, file.name);
    const temp = `${target}.${process.pid}.part`;
    await writeFile(temp, bytes);
    await rename(temp, target).catch(async (error) => {
      await rm(temp, { force: true });
      throw error;
    });
  }
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new VoxsegError(`download failed: ${(error as Error).message}`, {
      file: url,
      hint: 'check the network, or set VOXSEG_MODELS to a local copy of the models',
      cause: error,
    });
  }
  if (!response.ok) {
    throw new VoxsegError(`download failed: HTTP ${response.status} ${response.statusText}`, {
      file: url,
    });
  }
  return new Uint8Array(await response.arrayBuffer());
}
