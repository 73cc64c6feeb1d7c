/**
 * Honest auto for WebGPU: software adapters are vetoed with a stated reason, hardware adapters
 * are vetoed exactly when the calibration conv3d runs slower than the CPU backend, decisions
 * are cached per machine (JSON file on Node, localStorage in browsers), and info() says what
 * auto would do and why. GPU parts skip with the reason when there is no adapter.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../ts/node.js';
import { ReferenceBackend } from '../ts/backends/reference/index.js';
import {
  type AutoDecision,
  conv3dGflops,
  decideAuto,
  localStorageStore,
  memoryStore,
  softwareAdapter,
} from '../ts/backends/webgpu/calibration.js';
import type { AdapterFacts } from '../ts/backends/webgpu/device.js';
import { webgpuFactory } from '../ts/backends/webgpu/factory.js';
import { fileDecisionStore } from '../ts/backends/webgpu/node.js';
import type { Backend } from '../ts/engine/backend.js';
import { configureLogging } from '../ts/engine/log.js';
import { disposeBackends, getBackend, selectBackend } from '../ts/engine/registry.js';

const HARDWARE: AdapterFacts = {
  vendor: 'nvidia',
  architecture: 'hopper',
  device: 'NVIDIA H200',
  description: 'Vulkan driver 570',
  isFallbackAdapter: false,
};
const facts = (changes: Partial<AdapterFacts>) => ({ ...HARDWARE, ...changes });

/** A stand-in GPU backend: the reference with adapter facts attached. */
function fakeGpu(adapter: AdapterFacts): Backend & { adapter: AdapterFacts } {
  return Object.assign(new ReferenceBackend(), { adapter });
}

/** A measure that returns fixed GFLOP/s per backend and counts its calls. */
function fixedMeasure(rates: Map<Backend, number>) {
  const measure = async (backend: Backend) => {
    measure.calls++;
    return rates.get(backend)!;
  };
  measure.calls = 0;
  return measure;
}

const logged: string[] = [];
configureLogging({ sink: (_level, tag, text) => logged.push(`[${tag}] ${text}`) });

describe('software adapters', () => {
  it.each([
    [facts({ vendor: '', device: 'llvmpipe-llvm-15-0-6-256-bits-' }), /llvmpipe/],
    [facts({ vendor: 'google', device: 'SwiftShader Device (Subzero)' }), /swiftshader/],
    [facts({ device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: 'lavapipe' }), /llvmpipe/],
    [facts({ isFallbackAdapter: true, device: 'Some Device' }), /isFallbackAdapter/],
  ])('rejects %o', async (adapter, why) => {
    expect(softwareAdapter(adapter)).toMatch(why);
    const decision = await decideAuto(fakeGpu(adapter), {
      store: memoryStore(),
      cpu: async () => new ReferenceBackend(),
    });
    expect(decision.pick).toBe(false);
    expect(decision.reason).toMatch(/slower than the CPU backends/);
  });

  it('accepts a hardware adapter by name', () => {
    expect(softwareAdapter(HARDWARE)).toBeNull();
  });
});

describe('calibration against the CPU backend', () => {
  it('vetoes a slower adapter, says why with both numbers, and caches the verdict', async () => {
    const gpu = fakeGpu(HARDWARE);
    const cpu = new ReferenceBackend();
    const measure = fixedMeasure(
      new Map<Backend, number>([
        [gpu, 3.25],
        [cpu, 40.5],
      ]),
    );
    const inputs = { store: memoryStore(), cpu: async () => cpu, measure };
    const first = await decideAuto(gpu, inputs);
    expect(first).toMatchObject({ pick: false, gpuGflops: 3.25, cpuGflops: 40.5 });
    expect(first.reason).toContain('slower than reference');
    expect(first.reason).toContain('webgpu 3.25 GFLOP/s, reference 40.50 GFLOP/s');
    expect(logged.at(-1)).toMatch(/^\[webgpu\] auto rejects webgpu: slower than reference/);

    const again = await decideAuto(gpu, inputs);
    expect(measure.calls).toBe(2);
    expect(again).toMatchObject({ pick: false, cached: true, gpuGflops: 3.25 });
    expect(logged.at(-1)).toContain('(cached in memory)');
  });

  it('accepts a faster adapter', async () => {
    const gpu = fakeGpu(HARDWARE);
    const cpu = new ReferenceBackend();
    const measure = fixedMeasure(
      new Map<Backend, number>([
        [gpu, 900],
        [cpu, 40],
      ]),
    );
    const decision = await decideAuto(gpu, { store: memoryStore(), cpu: async () => cpu, measure });
    expect(decision).toMatchObject({ pick: true, gpuGflops: 900, cpuGflops: 40 });
  });

  it('keys the cache by adapter and CPU backend', async () => {
    const store = memoryStore();
    const cpu = new ReferenceBackend();
    const a = fakeGpu(HARDWARE);
    const b = fakeGpu(facts({ device: 'Other GPU' }));
    const measure = fixedMeasure(
      new Map<Backend, number>([
        [a, 1],
        [b, 100],
        [cpu, 10],
      ]),
    );
    expect((await decideAuto(a, { store, cpu: async () => cpu, measure })).pick).toBe(false);
    expect((await decideAuto(b, { store, cpu: async () => cpu, measure })).pick).toBe(true);
    expect(measure.calls).toBe(4);
  });

  it('measures conv3d throughput on a real backend', async () => {
    const rate = await conv3dGflops(new ReferenceBackend(), { channels: 2, size: 6 });
    expect(rate).toBeGreaterThan(0);
    expect(Number.isFinite(rate)).toBe(true);
  });
});

describe('decision stores', () => {
  const directory = mkdtempSync(join(tmpdir(), 'voxseg-auto-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const decision: AutoDecision = { pick: false, reason: 'slower', gpuGflops: 1, cpuGflops: 2 };

  it('keeps decisions in a JSON file in the cache directory', async () => {
    const store = fileDecisionStore(directory);
    expect(await store.load('k')).toBeUndefined();
    await store.save('k', decision);
    await store.save('other', { ...decision, pick: true });
    expect(await fileDecisionStore(directory).load('k')).toEqual(decision);
    const file = JSON.parse(readFileSync(join(directory, 'webgpu-auto.json'), 'utf8'));
    expect(Object.keys(file)).toEqual(['k', 'other']);
  });

  it('keeps decisions in localStorage in browsers', async () => {
    const items = new Map<string, string>();
    const storage = {
      getItem: (key: string) => items.get(key) ?? null,
      setItem: (key: string, value: string) => void items.set(key, value),
    } as Storage;
    await localStorageStore(storage).save('k', decision);
    expect(await localStorageStore(storage).load('k')).toEqual(decision);
    expect(JSON.parse(items.get('voxseg.webgpu-auto')!)).toEqual({ k: decision });
  });
});

const webgpu = await getBackend('webgpu').catch((error: Error) => error.message);
const noAdapter = typeof webgpu === 'string' ? webgpu : '';
if (noAdapter) console.warn(`webgpu auto tests on a real adapter skipped: ${noAdapter}`);

describe.skipIf(!!noAdapter)('auto on this machine’s adapter', () => {
  afterAll(() => disposeBackends());

  it('vetoes a software adapter, and info() says so', async () => {
    const backend = webgpu as Backend;
    const veto = await webgpuFactory.autoVeto!(backend);
    const details = backend.info().details;
    if (softwareAdapter((backend as unknown as { adapter: AdapterFacts }).adapter)) {
      expect(veto).toMatch(/software adapter .* is slower than the CPU backends/);
      expect(details.autoPick).toBe(false);
    } else {
      expect(details.autoPick).toBe(veto === null);
    }
    if (veto) expect(details.autoReason).toBe(veto);
    else expect(details.autoReason).toEqual(expect.any(String));
    expect(details).toHaveProperty('maxStorageBufferBindingSize');
  });

  it('is skipped by auto selection with its reason when vetoed', async () => {
    const backend = webgpu as Backend & { adapter: AdapterFacts };
    const selection = await selectBackend('auto');
    if (softwareAdapter(backend.adapter)) {
      expect(selection.backend.name).not.toBe('webgpu');
      expect(selection.skipped.webgpu).toMatch(/software adapter/);
      expect(selection.reason).toMatch(/webgpu: software adapter/);
    }
    expect((await selectBackend('webgpu')).backend).toBe(backend);
  });

  it('calibrates this adapter against the reference when software is not ruled out', async () => {
    const gpu = webgpu as Backend & { adapter: AdapterFacts };
    const cpu = new ReferenceBackend();
    const decision = await decideAuto(gpu, {
      store: memoryStore(),
      cpu: async () => cpu,
      rejectSoftware: false,
      shape: { channels: 4, size: 10 },
    });
    expect(decision.gpuGflops).toBeGreaterThan(0);
    expect(decision.cpuGflops).toBeGreaterThan(0);
    expect(decision.pick).toBe(decision.gpuGflops! >= decision.cpuGflops!);
    expect(decision.reason).toContain(`webgpu ${decision.gpuGflops!.toFixed(2)} GFLOP/s`);
  });
});
