/** `voxseg models`: the catalog, and where each model's files would come from. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { readSetting } from '../engine/log.js';
import { CATALOG } from '../model/catalog.js';
import { cacheDirectory } from '../io/cache.js';
import { table } from './format.js';

/** Add the `models` command to the program. */
export function registerModelsCommand(program: Command): void {
  program
    .command('models')
    .description('list the catalogued models, their classes, recipes and local availability')
    .option('--models-dir <dir>', 'local models directory (default: VOXSEG_MODELS)')
    .option('--json', 'print the catalog as JSON')
    .action((flags: { modelsDir?: string; json?: boolean }) => {
      const modelsDir = flags.modelsDir ?? readSetting('VOXSEG_MODELS');
      const rows = CATALOG.map((entry) => ({
        ...entry,
        local: locate(entry.path, entry.name, modelsDir),
      }));
      if (flags.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      const lines = rows.map((row) => [
        row.name,
        row.classes,
        row.recipe.normalization,
        row.local ?? 'download',
        row.description,
      ]);
      console.log(table([['name', 'classes', 'norm', 'files', 'description'], ...lines]));
    });
}

function locate(path: string, name: string, modelsDir?: string): string | undefined {
  const candidates = [
    ...(modelsDir ? [join(modelsDir, path), join(modelsDir, name)] : []),
    join(cacheDirectory(), 'models', name),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'model.json')));
}
