/**
 * `voxseg merge <reports...>`: combine the JSON reports of `voxseg eval --part I/N` runs into
 * the report one run over every case gives (same cases, same summary), as a table, JSON or CSV.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InputError, expected } from '../engine/errors.js';
import { mergeReports, reportFromJson } from '../metrics/report.js';
import { reportProblems, writeReport } from './eval.js';

interface MergeFlags {
  json?: boolean;
  csv?: boolean;
  output?: string;
  overwrite?: boolean;
}

/** Add the `merge` command to the program. */
export function registerMergeCommand(program: Command): void {
  program
    .command('merge')
    .description("combine the JSON reports of 'voxseg eval --part I/N' runs into one")
    .argument('<reports...>', 'JSON reports, one per part (every part of one run)')
    .option('--json', 'write JSON')
    .option('--csv', 'write CSV')
    .option('-o, --output <file>', 'write the result to this file (atomically) instead of stdout')
    .option('--overwrite', 'replace the output file if it exists')
    .addHelpText(
      'after',
      '\nExample, 4 workers (a Slurm array or an Indexed Job), then one merge:\n' +
        '  voxseg eval preds/ refs/ --part $I/4 --json -o part-$I.json\n' +
        '  voxseg merge part-*.json --json -o all.json',
    )
    .action(runMerge);
}

async function runMerge(files: string[], flags: MergeFlags): Promise<void> {
  if (flags.json && flags.csv) {
    throw new InputError('choose one output format: --json or --csv, not both', { field: '--csv' });
  }
  const reports = await Promise.all(
    files.map(async (file) => ({ file, report: reportFromJson(await readText(file), file) })),
  );
  const merged = mergeReports(reports);
  await writeReport(merged, flags);
  reportProblems(merged.problems.failed, merged.problems.unmatched);
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw expected('a readable JSON report', 'report', file, { hint: reason, cause: error });
  }
}
