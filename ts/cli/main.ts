/**
 * The `voxseg` command. Errors voxseg raises on purpose print as one sentence and exit with
 * status 1; `--debug` (or VOXSEG_LOG=debug) adds the stack. Usage errors exit with status 2.
 */
import { Command, CommanderError } from 'commander';
import { configureLogging, logLevel } from '../engine/log.js';
import { VoxsegError } from '../engine/errors.js';
import { disposeBackends } from '../engine/registry.js';
import '../node.js';
import { registerInfoCommand } from './info.js';
import { registerModelsCommand } from './models.js';
import { registerSegmentCommand } from './segment.js';
import { registerEvalCommand } from './eval.js';
import { registerMergeCommand } from './merge.js';
import { registerServeCommand } from './serve.js';
import { registerBenchCommand } from './bench.js';

/** Build the program with every command registered. */
export function buildProgram(): Command {
  const program = new Command('voxseg')
    .description('3D medical image segmentation: run brain models and score segmentations')
    .option('--debug', 'print stack traces and debug logs')
    .hook('preAction', (command) => {
      if (command.opts().debug) configureLogging({ level: 'debug' });
    })
    .exitOverride()
    .showHelpAfterError("(run 'voxseg <command> --help' for usage)");
  registerSegmentCommand(program);
  registerEvalCommand(program);
  registerMergeCommand(program);
  registerModelsCommand(program);
  registerInfoCommand(program);
  registerServeCommand(program);
  registerBenchCommand(program);
  return program;
}

/** Run the CLI with the given arguments (without `node` and the script). */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    return reportError(error);
  } finally {
    await disposeBackends();
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? 0 : 2;
  }
  const debug = logLevel() === 'debug';
  if (error instanceof VoxsegError && !debug) {
    console.error(`voxseg: ${error.message}`);
    return 1;
  }
  console.error(debug && error instanceof Error ? error.stack : `voxseg: ${String(error)}`);
  return 1;
}
