/**
 * Suites run their measurements in child processes: onnxruntime-web and TensorFlow.js's wasm
 * backend fix their thread count when they start, so each thread count gets a fresh process
 * (with every engine in it, so engines still run side by side on each case). A job goes to the
 * child as a JSON file and the results come back the same way; the child's output is shown
 * live. The parent samples the load average meanwhile.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadReport } from './report.js';

const CHILD_FLAG = '--child-job';

/**
 * Run `script` (a suite file) in a child Node process with tsx, handing it `job`.
 *
 * @returns what the child passed to {@link finishChild}.
 * @throws Error when the child exits non-zero or writes no result.
 */
export async function runInChild<T>(script: string, job: unknown): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'voxseg-bench-'));
  const jobFile = join(dir, 'job.json');
  const resultFile = join(dir, 'result.json');
  writeFileSync(jobFile, JSON.stringify({ job, resultFile }));
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const args = ['--import', 'tsx', script, CHILD_FLAG, jobFile];
      const child = spawn(process.execPath, args, { stdio: 'inherit' });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    if (code !== 0) throw new Error(`benchmark child ${script} exited with status ${code}`);
    return JSON.parse(readFileSync(resultFile, 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * In a child: the job it was given, or null when this process is not a benchmark child. A
 * child ends itself when its parent is gone (interrupted runs leave nothing behind).
 */
export function childJob<T>(): { job: T; resultFile: string } | null {
  const at = process.argv.indexOf(CHILD_FLAG);
  if (at < 0) return null;
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && process.exit(1), 1000).unref();
  return JSON.parse(readFileSync(process.argv[at + 1], 'utf8')) as { job: T; resultFile: string };
}

/** In a child: hand the result back and end the process (peers may keep threads alive). */
export function finishChild(resultFile: string, result: unknown): never {
  writeFileSync(resultFile, JSON.stringify(result));
  process.exit(0);
}

/**
 * Sample the 1-minute load average every `everyMs` until stop() (the machine is shared: the
 * report says how busy it was).
 */
export function sampleLoad(everyMs = 5000): { stop(): LoadReport } {
  const before = loadavg()[0];
  const samples = [before];
  const timer = setInterval(() => samples.push(loadavg()[0]), everyMs);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      const after = loadavg()[0];
      samples.push(after);
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
      return { before, after, mean, max: Math.max(...samples), samples: samples.length };
    },
  };
}
