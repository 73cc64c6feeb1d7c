/** Paths to the shared real data, and a one-line skip reason when it is absent. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** Root of the shared data, `../shared/data` beside the repository. */
export const DATA_DIR = resolve(__dirname, '../../../shared/data');

/** Absolute path of a file under the shared data. */
export function dataPath(relative: string): string {
  return resolve(DATA_DIR, relative);
}

/** Empty when every file exists, else the reason to skip, naming the first missing file. */
export function missingData(...relatives: string[]): string {
  const missing = relatives.find((relative) => !existsSync(dataPath(relative)));
  return missing ? `shared data absent: ${dataPath(missing)}` : '';
}
