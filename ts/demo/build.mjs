#!/usr/bin/env node
/**
 * Build the demo page into dist/demo (or the directory given as the first argument): the
 * TypeScript entry bundled by esbuild into app.js (ES2022 modules, the wasm kernels embedded,
 * no Node built-ins), next to index.html and style.css. `voxseg serve` serves that directory.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const STATIC_FILES = ['index.html', 'style.css'];

/**
 * Bundle the page and copy its static files.
 *
 * @param {string} outdir - output directory, created when missing.
 * @returns {Promise<{ outdir: string, bytes: number }>} the directory and app.js's size.
 */
export async function buildDemo(outdir = join(ROOT, 'dist', 'demo')) {
  await mkdir(outdir, { recursive: true });
  const result = await build({
    entryPoints: [join(HERE, 'main.ts')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    minify: false,
    metafile: true,
    logLevel: 'warning',
  });
  for (const name of STATIC_FILES) await copyFile(join(HERE, name), join(outdir, name));
  return { outdir, bytes: result.metafile.outputs[outputKey(result.metafile, 'app.js')].bytes };
}

function outputKey(metafile, name) {
  return Object.keys(metafile.outputs).find((key) => key.endsWith(name));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outdir, bytes } = await buildDemo(process.argv[2] && resolve(process.argv[2]));
  console.log(`demo page: ${outdir} (app.js ${(bytes / 1024).toFixed(0)} KiB)`);
}
