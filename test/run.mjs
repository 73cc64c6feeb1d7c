#!/usr/bin/env node
// Runs the vitest suites and ends with one plain line "N passed, N failed" (skips reported
// separately), built from vitest's JSON report. Extra arguments go to vitest (file filters).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
const run = spawnSync('npx', args, { stdio: 'inherit' });

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests;
  skipped = report.numPendingTests + (report.numTodoTests ?? 0);
  const skippedTests = report.testResults.flatMap((file) =>
    file.assertionResults.filter((test) => test.status !== 'passed' && test.status !== 'failed'),
  );
  for (const test of skippedTests) console.log(`skipped: ${test.fullName}`);
  const brokenFiles = report.testResults.filter((r) => r.status === 'failed' && !r.assertionResults.length);
  failed += brokenFiles.length;
} catch (error) {
  console.error(`could not read the vitest report: ${error.message}`);
  failed += 1;
}
rmSync(dir, { recursive: true, force: true });
if (skipped) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || run.status !== 0 ? 1 : 0);
