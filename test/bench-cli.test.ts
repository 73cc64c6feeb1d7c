/**
 * `voxseg bench` from the sources: its help lists the suites and options, an unknown suite is
 * a one-line error naming it, and a filtered quick run of one suite goes through bench/run.ts
 * and writes its report (conv3d on one small case, so it runs in seconds).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

describe('voxseg bench', () => {
  it('lists the suites and the options in its help', () => {
    const result = runCli(['bench', '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('suites to run: conv3d, dice, segment');
    for (const option of ['--quick', '--threads', '--filter', '--engines', '--cap']) {
      expect(result.stdout).toContain(option);
    }
  });

  it('names an unknown suite in a one-line error', () => {
    const result = runCli(['bench', 'gpu']);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      "voxseg: expected one of conv3d, dice, segment for the suite, received 'gpu'",
    );
  });

  it('runs a filtered quick suite and writes its report', () => {
    const out = mkdtempSync(join(tmpdir(), 'voxseg-bench-cli-'));
    try {
      const args = ['bench', 'conv3d', '--quick', '--threads', '1', '--engines', 'ort-node'];
      const result = runCli([...args, '--filter', '^5->3 ', '--out', out]);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toContain('| 5->3 k1 d1 @ 32^3 |');
      const files = readdirSync(out);
      expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(1);
      const report = JSON.parse(
        readFileSync(
          join(
            out,
            files.find((f) => f.endsWith('.json'))!,
          ),
          'utf8',
        ),
      );
      const engines = report.rows.map((r: { engine: string }) => r.engine);
      expect(engines).toEqual(['voxseg-wasm', 'ort-node']);
      expect(report.rows[1].agreement).toMatch(/^max rel diff/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
