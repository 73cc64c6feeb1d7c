/** The core I/O and conform modules bundle for browsers: no Node built-in is reachable. */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const entry = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

describe('core modules in a browser bundle', () => {
  it('bundles ts/io/index.ts and ts/pipeline/conform.ts with platform "browser"', async () => {
    const result = await build({
      entryPoints: [entry('../ts/io/index.ts'), entry('../ts/pipeline/conform.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      outdir: 'out',
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles.map((file) => file.text).join('\n');
    expect(code).toContain('parseNifti');
    expect(code).not.toMatch(/from ["']node:|require\(["']node:/);
  });

  it('fails for a module that reaches a Node built-in (the check can fail)', async () => {
    const attempt = build({
      entryPoints: [entry('../ts/io/files.ts')],
      bundle: true,
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    await expect(attempt).rejects.toThrow(/node:/);
  });
});
