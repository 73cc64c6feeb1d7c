/**
 * conv3d on the WebGPU backend: GFLOP/s of conv3d_direct for a 16 -> 16 channel, 3x3x3
 * convolution ('same' padding, bias, no activation) at 32^3 and 64^3, next to the wasm
 * backend on the same shapes in the same run, with the adapter named. Prints a markdown table
 * and writes the numbers to bench/results/ as JSON.
 *
 * Run: npx tsx bench/webgpu-conv3d.ts [--sizes 32,64] [--runs 3] [--no-wasm]
 *
 * Each row: one warm-up call (reported as "first": it includes pipeline compilation), then the
 * median of `runs` timed calls. A GPU call is timed from conv3d() until the queue reports the
 * work done (onSubmittedWorkDone), so no readback is counted; a wasm call until it resolves.
 * On llvmpipe (Mesa's software rasteriser) this measures correctness-grade speed, not a GPU.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import '../ts/node.js';
import { createWebGpuBackend, WebGpuBackend } from '../ts/backends/webgpu/backend.js';
import type { Backend } from '../ts/engine/backend.js';
import { conv3dParams } from '../ts/engine/backend.js';
import { getBackend } from '../ts/engine/registry.js';
import { randomFloats } from '../test/helpers/random.js';
import { describeMachine, median } from './machine.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHANNELS = 16;

interface Row {
  backend: string;
  size: number;
  firstMs: number;
  medianMs: number;
  gflops: number;
}

/** Time one conv3d until its result exists: the GPU queue drained, or the promise resolved. */
async function timedConv(backend: Backend, inputs: Parameters<Backend['conv3d']>) {
  const start = performance.now();
  const y = await backend.conv3d(...inputs);
  if (backend instanceof WebGpuBackend) await backend.gpu.device.queue.onSubmittedWorkDone();
  const ms = performance.now() - start;
  backend.release(y);
  return ms;
}

async function measure(backend: Backend, size: number, runs: number): Promise<Row> {
  const xShape = [1, CHANNELS, size, size, size]; // (N, C, D, H, W)
  const wShape = [CHANNELS, CHANNELS, 3, 3, 3]; // (Cout, Cin, KD, KH, KW)
  const x = await backend.upload(randomFloats(CHANNELS * size ** 3, 1), xShape);
  const w = await backend.upload(randomFloats(CHANNELS * CHANNELS * 27, 2), wShape);
  const b = await backend.upload(randomFloats(CHANNELS, 3), [CHANNELS]);
  const inputs: Parameters<Backend['conv3d']> = [x, w, b, conv3dParams({ padding: [1, 1, 1] })];

  const firstMs = await timedConv(backend, inputs);
  const times: number[] = [];
  for (let run = 0; run < runs; run++) times.push(await timedConv(backend, inputs));
  [x, w, b].forEach((t) => backend.release(t));

  const medianMs = median(times);
  const flops = 2 * CHANNELS * CHANNELS * 27 * size ** 3;
  return { backend: backend.name, size, firstMs, medianMs, gflops: flops / (medianMs * 1e6) };
}

function table(rows: Row[], adapter: string): string {
  const lines = [
    `conv3d ${CHANNELS}->${CHANNELS}, 3x3x3, same padding, bias; webgpu adapter: ${adapter}`,
    '',
    '| backend | size | first ms | median ms | GFLOP/s | webgpu / wasm |',
    '|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const wasm = rows.find((r) => r.backend === 'wasm' && r.size === row.size);
    const ratio = row.backend === 'webgpu' && wasm ? (row.gflops / wasm.gflops).toFixed(3) : '';
    lines.push(
      `| ${row.backend} | ${row.size}^3 | ${row.firstMs.toFixed(1)} | ${row.medianMs.toFixed(1)} ` +
        `| ${row.gflops.toFixed(2)} | ${ratio} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '32,64' },
      runs: { type: 'string', default: '3' },
      'no-wasm': { type: 'boolean', default: false },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  const runs = Number(values.runs);
  const gpu = await createWebGpuBackend();
  const wasm = values['no-wasm'] ? null : await getBackend('wasm').catch(() => null);
  const adapter = gpu.info().description;

  const rows: Row[] = [];
  for (const size of sizes) {
    rows.push(await measure(gpu, size, runs));
    if (wasm) rows.push(await measure(wasm, size, runs));
  }
  await gpu.dispose();
  await wasm?.dispose();

  console.log(table(rows, adapter));
  const report = { machine: describeMachine(), adapter, info: gpu.info().details, runs, rows };
  const results = join(root, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  const file = join(
    results,
    `webgpu-conv3d-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  writeFileSync(file, JSON.stringify(report, null, 2));
  console.log(`\nwrote ${file}`);
}

await main();
