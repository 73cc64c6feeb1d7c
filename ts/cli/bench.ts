/**
 * `voxseg bench [suite...]`: the benchmarks against the peers (onnxruntime, TensorFlow.js,
 * plain JavaScript), run from a source checkout: the suites live in bench/ as TypeScript and
 * the peers are development dependencies, so the command starts bench/run.ts with tsx in a
 * child process and passes the options on. Results go to bench/results/.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { VoxsegError } from '../engine/errors.js';

/** Suites bench/run.ts knows. */
export const BENCH_SUITES = ['conv3d', 'dice', 'segment'] as const;

interface BenchFlags {
  quick?: boolean;
  threads?: string;
  filter?: string;
  engines?: string;
  sizes?: string;
  cap?: string;
  relaxed?: boolean;
  limits: boolean;
  out?: string;
}

/**
 * Add the `bench` command to the program.
 *
 * @example
 * registerBenchCommand(program); // voxseg bench conv3d --quick
 */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('benchmark against onnxruntime, TensorFlow.js and plain JS (source checkout)')
    .argument('[suites...]', `suites to run: ${BENCH_SUITES.join(', ')} (default: all)`)
    .option('--quick', 'short smoke run: small sizes, few repetitions, no limit probes')
    .option('--threads <list>', 'thread counts to compare at (default: 1,<hardware threads>)')
    .option('--filter <regex>', 'only cases whose id matches')
    .option('--engines <list>', 'only these peers (voxseg-wasm always runs)')
    .option('--sizes <list>', 'conv3d sizes: 64,128,crop,unet (default: all)')
    .option('--cap <seconds>', 'skip a peer estimated to take longer on a case (default 15)')
    .option('--relaxed', "also run voxseg's relaxed-SIMD build")
    .option('--no-limits', 'skip the FMA-peak and bandwidth probes')
    .option('--out <dir>', 'results directory (default: bench/results)')
    .action(runBench);
}

async function runBench(suites: string[], flags: BenchFlags): Promise<void> {
  checkSuites(suites);
  const { root, script } = benchScript();
  const args = [...suites, ...flagArguments(flags)];
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(process.execPath, ['--import', tsxLoader(root), script, ...args], {
      cwd: root,
      stdio: 'inherit',
    });
    child.on('error', fail);
    child.on('exit', done);
  });
  if (code !== 0) throw new VoxsegError(`the benchmarks exited with status ${code}`);
}

function checkSuites(suites: string[]): void {
  for (const suite of suites) {
    if (!(BENCH_SUITES as readonly string[]).includes(suite)) {
      throw new VoxsegError(
        `expected one of ${BENCH_SUITES.join(', ')} for the suite, received '${suite}'`,
      );
    }
  }
}

/** The repository root and bench/run.ts, found from this file (ts/cli or dist/cli). */
function benchScript(): { root: string; script: string } {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const script = join(root, 'bench', 'run.ts');
  if (!existsSync(script)) {
    throw new VoxsegError(`voxseg bench needs a source checkout: ${script} is missing`, {
      hint: 'clone the repository, npm install, then run npm run bench',
    });
  }
  return { root, script };
}

/** tsx, which the child loads to run TypeScript (resolved from the repository root). */
function tsxLoader(root: string): string {
  try {
    createRequire(join(root, 'package.json')).resolve('tsx/package.json');
    return 'tsx';
  } catch (error) {
    throw new VoxsegError('voxseg bench needs the development dependencies (tsx)', {
      hint: 'run npm install in the repository',
      cause: error,
    });
  }
}

/** The flags as bench/run.ts arguments. */
function flagArguments(flags: BenchFlags): string[] {
  const args: string[] = [];
  if (flags.quick) args.push('--quick');
  if (flags.relaxed) args.push('--relaxed');
  if (!flags.limits) args.push('--no-limits');
  for (const name of ['threads', 'filter', 'engines', 'sizes', 'cap', 'out'] as const) {
    const value = flags[name];
    if (value !== undefined) args.push(`--${name}`, value);
  }
  return args;
}
