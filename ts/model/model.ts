/**
 * A model ready to run: its graph, the recipe its inputs need, and its label names and colours.
 * Loading from a directory goes through a file reader, so the same code serves Node (files),
 * browsers (fetch) and tests.
 */
import { InputError } from '../engine/errors.js';
import { parseLabelNames } from '../metrics/labelnames.js';
import { type CatalogEntry, DEFAULT_RECIPE, type ModelRecipe } from './catalog.js';
import type { ModelGraph } from './graph.js';
import { parseTfjsModel } from './tfjs.js';

export type Rgb = [number, number, number];

export interface LoadedModel {
  /** Catalog name, or the directory for a model outside the catalog. */
  name: string;
  graph: ModelGraph;
  recipe: ModelRecipe;
  /** Name of each label value (index = value). */
  labelNames: string[];
  /** Display colour of each label value, when the model ships a colormap. */
  colors?: Rgb[];
}

/**
 * Reads a file of a model directory by its name; must reject with an `InputError` naming the
 * file when it is missing.
 */
export type ModelFileReader = (name: string) => Promise<Uint8Array>;

/**
 * Load a TensorFlow.js layers model through `read`.
 *
 * @param source - the directory (or URL) the files come from, for messages.
 * @param entry - the catalog entry, which supplies recipe and labels file; none for a model
 *   outside the catalog (default recipe, labels numbered).
 * @param recipe - overrides of the recipe.
 */
export async function loadModel(
  read: ModelFileReader,
  source: string,
  entry?: CatalogEntry,
  recipe: Partial<ModelRecipe> = {},
): Promise<LoadedModel> {
  const fullRecipe = { ...(entry?.recipe ?? DEFAULT_RECIPE), ...recipe };
  const json = await readJson(read, 'model.json', source);
  const graph = await parseTfjsModel(json, read, source, { transposed: fullRecipe.transposed });

  const labelsFile = entry?.labelsFile;
  const labels = labelsFile ? await readJson(read, labelsFile, source) : undefined;
  const names = labels ? parseLabelNames(JSON.stringify(labels), `${source}/${labelsFile}`) : {};
  const labelNames = Array.from(
    { length: graph.outputChannels },
    (_, i) => names[i] ?? `label ${i}`,
  );
  return {
    name: entry?.name ?? source,
    graph,
    recipe: fullRecipe,
    labelNames,
    colors: labels ? parseColors(labels) : undefined,
  };
}

async function readJson(read: ModelFileReader, name: string, source: string): Promise<unknown> {
  const bytes = await read(name);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new InputError(`not valid JSON: ${(error as Error).message}`, {
      file: `${source}/${name}`,
      cause: error,
    });
  }
}

/** Colours from a brainchop colormap ({ R: [], G: [], B: [] }), if present. */
function parseColors(json: unknown): Rgb[] | undefined {
  const map = json as { R?: number[]; G?: number[]; B?: number[] };
  if (!Array.isArray(map.R) || !Array.isArray(map.G) || !Array.isArray(map.B)) return undefined;
  return map.R.map((r, i) => [r, map.G![i] ?? 0, map.B![i] ?? 0]);
}
