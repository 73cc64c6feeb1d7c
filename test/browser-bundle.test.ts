/** The core entry bundles for browsers: no Node built-in is reachable from ts/index.ts. */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const entry = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

describe('core modules in a browser bundle', () => {
  it('bundles ts/index.ts (engine, backends, io, model, pipeline, metrics) for "browser"', async () => {
    const result = await build({
      entryPoints: [entry('../ts/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      outdir: 'out',
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles.map((file) => file.text).join('\n');
    for (const name of ['parseNifti', 'conformVolume', 'segment', 'squaredDistanceTransform']) {
      expect(code).toContain(name);
    }
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
