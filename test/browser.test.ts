/**
 * The demo page end to end in headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core, WebGPU on SwiftShader): `voxseg serve` in-process on an ephemeral loopback
 * port, a 56^3 brain block of fs_norm (zero elsewhere, crop margin 0 so the network sees only
 * the block) segmented by model5_gw_ae on wasm and then on WebGPU. Both must agree (Dice >=
 * 0.999 per label, computed by the page), the page must be cross-origin isolated and the wasm
 * backend must have used threads. Screenshot: test-results/browser-demo.png.
 *
 * Skips with the reason when /usr/bin/chromium or the shared data is absent; never downloads
 * a browser.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoServer, startDemoServer } from '../ts/cli/serve.js';
import type { DemoRun, DemoState } from '../ts/demo/state.js';
import { readVolume, writeVolume } from '../ts/io/files.js';
import type { Volume } from '../ts/io/volume.js';
import { dataPath, missingData } from './helpers/data.js';
import { buildDemo } from '../ts/demo/build.mjs';

const CHROMIUM = '/usr/bin/chromium';
/** The flags that give headless Chromium a WebGPU adapter (SwiftShader) and no network. */
const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const BLOCK = 56;
/** Corner (x, y, z) of the block in fs_norm: the centre of the reference's brain labels - 28. */
const CORNER: [number, number, number] = [99, 83, 103];
const ARTIFACTS = resolve(__dirname, '../test-results');

const skip = existsSync(CHROMIUM)
  ? missingData(
      'derived/fs_norm.nii.gz',
      'derived/fs_ref_gwm3.nii.gz',
      'brainchop/models/model5_gw_ae/model.json',
    )
  : `${CHROMIUM} is absent (apt-get install chromium)`;

/** The volume with every voxel outside the `size`^3 block at `corner` set to zero. */
function keepBlock(volume: Volume, corner: [number, number, number], size: number): Volume {
  const [nx, ny] = volume.dims;
  const data = new Uint8Array(volume.data.length);
  for (let z = corner[2]; z < corner[2] + size; z++) {
    for (let y = corner[1]; y < corner[1] + size; y++) {
      const from = corner[0] + nx * (y + ny * z);
      data.set(volume.data.subarray(from, from + size), from);
    }
  }
  return { ...volume, data };
}

/** Numbers of a record rounded, as JSON. */
function rounded(values: Record<string, number> | undefined, digits = 0): string {
  const entries = Object.entries(values ?? {}).map(([key, value]) => [key, +value.toFixed(digits)]);
  return JSON.stringify(Object.fromEntries(entries));
}

/** Click Segment with `backend` chosen and wait for the run to finish; returns its summary. */
async function segmentOn(page: Page, backend: string): Promise<DemoRun> {
  const before = await page.evaluate(() => window.voxsegDemo.runs.length);
  await page.selectOption('#backend', backend);
  await page.click('#segment-button');
  await page.waitForFunction(
    (count) => window.voxsegDemo.runs.length > count || window.voxsegDemo.status === 'error',
    before,
    { timeout: 240_000, polling: 250 },
  );
  const state: DemoState = await page.evaluate(() => window.voxsegDemo);
  expect(state.error, 'the page reported an error').toBeUndefined();
  return state.runs[state.runs.length - 1];
}

describe('the demo page in headless Chromium', () => {
  let dir: string;
  let server: DemoServer;
  let browser: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'voxseg-browser-'));
    const norm = await readVolume(dataPath('derived/fs_norm.nii.gz'));
    const reference = await readVolume(dataPath('derived/fs_ref_gwm3.nii.gz'));
    await writeVolume(join(dir, 'block.nii.gz'), keepBlock(norm, CORNER, BLOCK));
    await writeVolume(join(dir, 'block_ref.nii.gz'), keepBlock(reference, CORNER, BLOCK));

    const { outdir } = await buildDemo(join(dir, 'demo'));
    server = await startDemoServer({ port: 0, demoDir: outdir, modelsDir: dataPath('brainchop') });
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
    });
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('segments on wasm and WebGPU with the same labels', { timeout: 300_000 }, async (context) => {
    if (skip) return context.skip(skip);
    await page.goto(`${server.url}?model=model5_gw_ae&cropPadding=0`);
    await page.waitForFunction(() => window.voxsegDemo?.status === 'ready');
    await page.setInputFiles('#volume-file', join(dir, 'block.nii.gz'));
    await page.setInputFiles('#reference-file', join(dir, 'block_ref.nii.gz'));
    await page.waitForFunction(() => document.getElementById('reference-info')!.textContent);
    await expect(page.textContent('#volume-info')).resolves.toContain('256 x 256 x 256 voxels');

    const wasm = await segmentOn(page, 'wasm');
    const webgpu = await segmentOn(page, 'webgpu');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'browser-demo.png'), fullPage: true });
    const state: DemoState = await page.evaluate(() => window.voxsegDemo);
    console.info(
      `wasm: ${wasm.description}, ms ${rounded(wasm.timingsMs)}; ` +
        `webgpu: ${webgpu.description}, ms ${rounded(webgpu.timingsMs)}; ` +
        `Dice webgpu vs wasm ${rounded(webgpu.agreement?.dice, 5)}; ` +
        `vs FreeSurfer (block only): wasm ${rounded(wasm.referenceDice, 3)}, ` +
        `webgpu ${rounded(webgpu.referenceDice, 3)}; label voxels ${wasm.labelVoxels}`,
    );

    expect(pageErrors).toEqual([]);
    expect(state.crossOriginIsolated).toBe(true);
    expect([wasm.backend, webgpu.backend]).toEqual(['wasm', 'webgpu']);
    expect(wasm.details.threads, `${wasm.details.singleThreadReason}`).toBeGreaterThan(1);
    expect(Math.min(wasm.labelVoxels[1], wasm.labelVoxels[2])).toBeGreaterThan(5_000);
    expect(webgpu.agreement?.backend).toBe('wasm');
    expect(Object.keys(webgpu.agreement!.dice).sort()).toEqual(['1', '2']);
    for (const dice of Object.values(webgpu.agreement!.dice)) {
      expect(dice).toBeGreaterThanOrEqual(0.999);
    }
    expect(Object.keys(wasm.referenceDice ?? {}).sort()).toEqual(['1', '2']);
    for (const label of [1, 2]) {
      expect(webgpu.referenceDice?.[label]).toBeCloseTo(wasm.referenceDice![label], 3);
    }
    const canvas = await page.$eval('#slices', (element) => {
      const slices = element as HTMLCanvasElement;
      return [slices.width, slices.height];
    });
    expect(canvas).toEqual([256 * 3, 256]);
  });
});
