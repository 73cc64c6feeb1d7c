#!/usr/bin/env node
// Runs the vitest suites and ends with one plain line "N passed, N failed" (skips reported
// separately), built from vitest's JSON report. Extra arguments go to vitest (file filters).
//
// Tests that never ran because their file's worker died count as failed, as does a file that
// failed outside its tests; vitest's error sections are printed again just above the summary,
// so a log cut to its last lines still says what broke.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'voxseg-test-'));
const reportPath = join(dir, 'report.json');
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${reportPath}`,
  ...process.argv.slice(2),
];

/** Run vitest, echoing its output and keeping a copy of it. */
function runVitest() {
  return new Promise((resolve) => {
    const child = spawn('npx', args, { stdio: ['inherit', 'pipe', 'pipe'] });
    const chunks = [];
    child.stdout.on('data', (c) => (process.stdout.write(c), chunks.push(c)));
    child.stderr.on('data', (c) => (process.stderr.write(c), chunks.push(c)));
    child.on('close', (status) => resolve({ status, output: Buffer.concat(chunks).toString() }));
  });
}

/** vitest's "Failed Suites", "Failed Tests" and "Unhandled Errors" sections, shortened. */
function errorSections(output) {
  const lines = output.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  const start = lines.findIndex((l) => /⎯ (Failed Suites|Failed Tests|Unhandled Error)/.test(l));
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && /^\s*Test Files\s/.test(l));
  const section = lines.slice(start, end < 0 ? undefined : end).filter((l) => l.trim());
  return section.length > 60
    ? [...section.slice(0, 60), `… ${section.length - 60} more lines`]
    : section;
}

const run = await runVitest();
let passed = 0;
let failed = 0;
let skipped = 0;
const problems = [];
try {
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests;
  for (const file of report.testResults) {
    const name = relative(process.cwd(), file.name);
    const tests = file.assertionResults;
    for (const test of tests) {
      if (test.status !== 'skipped' && test.status !== 'todo') continue;
      skipped += 1;
      console.log(`skipped: ${test.fullName}`);
    }
    // 'pending' is what vitest leaves on tests that never ran because the worker died.
    const neverRan = tests.filter((t) => t.status === 'pending').length;
    if (neverRan) {
      failed += neverRan;
      problems.push(
        `${name}: ${neverRan} tests never ran (the test process died; see the error above)`,
      );
    }
    const failedHere = tests.some((t) => t.status === 'failed');
    if (file.status === 'failed' && !failedHere && !neverRan) {
      failed += 1;
      problems.push(
        `${name}: failed outside its tests (${file.message || 'a hook or the file itself'})`,
      );
    }
  }
} catch (error) {
  problems.push(`could not read the vitest report: ${error.message}`);
  failed += 1;
}
rmSync(dir, { recursive: true, force: true });
if (run.status !== 0 && failed === 0) {
  problems.push(`vitest exited with status ${run.status} although no test failed`);
  failed += 1;
}
if (problems.length) {
  console.log('');
  for (const line of errorSections(run.output)) console.log(line);
  for (const problem of problems) console.log(`problem: ${problem}`);
}
if (skipped) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || run.status !== 0 ? 1 : 0);
