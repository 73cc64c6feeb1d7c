/** Run the voxseg CLI in a child process from the TypeScript sources (no build needed). */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const ENTRY = resolve(__dirname, 'cli-entry.ts');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `voxseg <args>` with the repository as working directory. */
export function runCli(args: string[], env: Record<string, string> = {}): CliResult {
  const result = spawnSync(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 600_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
