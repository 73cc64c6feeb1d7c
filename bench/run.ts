/**
 * Every benchmark suite in one run, side by side with the peers: the machine's limits first,
 * then conv3d, dice and segment (or the ones named), one markdown report and one JSON file
 * under bench/results/ (git-ignored), the load average sampled throughout.
 *
 * Run: npm run bench [-- <suite>... --quick ...]     (npm run bench -- --help for options)
 *      npx tsx bench/run.ts [<suite>...] [options]
 *      voxseg bench [<suite>...] [options]           (from a source checkout)
 *
 * Suites: conv3d (bench/conv3d.ts), dice (bench/dice.ts), segment (bench/segment.ts); each
 * also runs alone. `--quick` is the smoke run CI can afford (a few minutes on 2 cores).
 * bench/webgpu-conv3d.ts (WebGPU against wasm) runs separately: it has no peer.
 */
import { fileURLToPath } from 'node:url';
import { conv3dSuite } from './conv3d.js';
import { diceSuite } from './dice.js';
import { parseSuiteArgs, runSuites, type Suite, USAGE } from './lib/suite.js';
import { segmentSuite } from './segment.js';

/** Every suite, in the order a full run takes them. */
export const SUITES: readonly Suite[] = [conv3dSuite, diceSuite, segmentSuite];

/**
 * The suites named in `names` (all when empty).
 *
 * @throws Error naming an unknown suite and the known ones.
 */
export function selectSuites(names: readonly string[]): Suite[] {
  if (!names.length) return [...SUITES];
  return names.map((name) => {
    const suite = SUITES.find((s) => s.name === name);
    if (!suite) {
      const known = SUITES.map((s) => s.name).join(', ');
      throw new Error(`expected one of ${known} for the suite, received '${name}'`);
    }
    return suite;
  });
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: npm run bench -- [conv3d|dice|segment ...] [options]\n${USAGE}`);
    return 0;
  }
  try {
    const { options, positionals } = parseSuiteArgs(argv);
    const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
    await runSuites(selectSuites(positionals), options, command);
    return 0;
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
