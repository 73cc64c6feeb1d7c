/**
 * Where the demo's inputs come from: the server's /config.json (served models and example),
 * volume files (picked or fetched) and model files fetched from the server.
 */
import type { DemoConfig, ServedModel } from '../cli/serve.js';
import { InputError, VoxsegError } from '../engine/errors.js';
import { parseMgh } from '../io/mgh.js';
import { parseNifti } from '../io/nifti.js';
import type { Volume } from '../io/volume.js';
import { catalogEntry, type ModelRecipe } from '../model/catalog.js';
import { loadModel, type LoadedModel } from '../model/model.js';

/** A volume and the name it is shown and reported under. */
export interface NamedVolume {
  name: string;
  volume: Volume;
}

/**
 * Fetch the server's configuration; a page opened from another server gets no models.
 *
 * @param base - the page's address, against which `config.json` is resolved.
 */
export async function fetchConfig(base: string): Promise<DemoConfig> {
  const response = await fetch(new URL('config.json', base)).catch(() => null);
  if (!response?.ok) return { models: [], example: null };
  return (await response.json()) as DemoConfig;
}

/**
 * Parse a volume file's bytes: MGH for `.mgh`/`.mgz` names, NIfTI-1/2 otherwise (gzip or not).
 *
 * @throws InputError naming the file, the header field and the value when it cannot be read.
 */
export function parseVolume(bytes: Uint8Array, name: string): NamedVolume {
  const mgh = /\.mg[hz]$/i.test(name);
  return { name, volume: mgh ? parseMgh(bytes, name) : parseNifti(bytes, name) };
}

/** Read a picked file as a volume. */
export async function readVolumeFile(file: File): Promise<NamedVolume> {
  return parseVolume(new Uint8Array(await file.arrayBuffer()), file.name);
}

/** Fetch a volume from the server (the example). */
export async function fetchVolume(url: URL, name: string): Promise<NamedVolume> {
  return parseVolume(await fetchBytes(url), name);
}

/**
 * Load a served catalogued model through fetch.
 *
 * @param served - the model as /config.json lists it.
 * @param base - the page's address, against which the model's url is resolved.
 * @param recipe - overrides of the catalog recipe (the crop margin).
 */
export async function loadServedModel(
  served: ServedModel,
  base: string,
  recipe: Partial<ModelRecipe> = {},
): Promise<LoadedModel> {
  const dir = new URL(served.url, base);
  const read = (name: string) => fetchBytes(new URL(name, dir));
  return loadModel(read, dir.href, catalogEntry(served.name), recipe);
}

/** The bytes at `url`; a missing file is an InputError naming it. */
async function fetchBytes(url: URL): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new VoxsegError(`request failed: ${(error as Error).message}`, {
      file: url.href,
      hint: 'is voxseg serve still running?',
      cause: error,
    });
  }
  if (!response.ok) {
    throw new InputError(`expected a file, received HTTP ${response.status}`, { file: url.href });
  }
  return new Uint8Array(await response.arrayBuffer());
}
