/**
 * Honest auto: whether `auto` should pick a working WebGPU adapter. A software adapter
 * (llvmpipe, lavapipe, SwiftShader, any fallback adapter) is rejected outright; any other is
 * timed on a short conv3d against the CPU backend (wasm, else whatever CPU backend is
 * registered) and rejected when slower. Measured decisions are cached per machine, keyed by
 * the adapter's description and the CPU backend compared with.
 */
import type { Backend } from '../../engine/backend.js';
import { conv3dParams } from '../../engine/backend.js';
import { logger } from '../../engine/log.js';
import type { AdapterFacts } from './device.js';

const log = logger('webgpu');

/** auto's verdict on one adapter, with its evidence. */
export interface AutoDecision {
  /** Whether auto would choose this backend. */
  pick: boolean;
  /** One sentence with the numbers behind the verdict. */
  reason: string;
  /** Calibration conv3d throughput on this adapter, GFLOP/s. */
  gpuGflops?: number;
  /** The same conv3d on `cpuBackend`, GFLOP/s. */
  cpuGflops?: number;
  cpuBackend?: string;
  /** ISO time of the measurement. */
  measuredAt?: string;
  /** True when the verdict came from the per-machine cache. */
  cached?: boolean;
}

/** Where measured decisions persist: a JSON file on Node, localStorage in browsers. */
export interface DecisionStore {
  /** Where the store keeps its data, for logs. */
  readonly location: string;
  load(key: string): Promise<AutoDecision | undefined>;
  save(key: string, decision: AutoDecision): Promise<void>;
}

/** Shape of the calibration conv3d: C -> C channels, 3x3x3, on a size^3 volume. */
export interface CalibrationShape {
  channels: number;
  size: number;
}

/** What decideAuto needs besides the backend. */
export interface AutoInputs {
  store: DecisionStore;
  /** The CPU backend to compare with, or null when none can run. */
  cpu(): Promise<Backend | null>;
  /** Calibration conv3d shape; default 16 channels on 24^3 (about 0.2 GFLOP). */
  shape?: CalibrationShape;
  /** Reject software adapters without measuring (default true). */
  rejectSoftware?: boolean;
  /** How throughput is measured (default conv3dGflops); tests substitute known numbers. */
  measure?: (backend: Backend, shape: CalibrationShape) => Promise<number>;
}

const SOFTWARE_ADAPTERS = ['llvmpipe', 'lavapipe', 'softpipe', 'swiftshader', 'basic render'];
const DEFAULT_SHAPE: CalibrationShape = { channels: 16, size: 24 };

/** Why an adapter is a software rasteriser, or null when it looks like hardware. */
export function softwareAdapter(facts: AdapterFacts): string | null {
  const text = adapterName(facts);
  const match = SOFTWARE_ADAPTERS.find((name) => text.toLowerCase().includes(name));
  if (match) return `software adapter '${text}' (${match})`;
  if (facts.isFallbackAdapter) return `fallback adapter '${text}' (isFallbackAdapter)`;
  return null;
}

/** The adapter's identifying text: vendor, architecture, device and description. */
export function adapterName(facts: AdapterFacts): string {
  const parts = [facts.vendor, facts.architecture, facts.device, facts.description];
  return parts.filter(Boolean).join(' ') || 'unknown adapter';
}

/** Cache key of a measured decision. */
export function decisionKey(facts: AdapterFacts, cpuBackend: string): string {
  return `v1|${adapterName(facts)}|vs ${cpuBackend}`;
}

/**
 * Decide whether auto should pick `gpu`, log the decision with its numbers, and cache it.
 *
 * @param gpu - the WebGPU backend and its adapter.
 * @returns the decision; `cached` tells whether it came from the store.
 */
export async function decideAuto(
  gpu: Backend & { adapter: AdapterFacts },
  inputs: AutoInputs,
): Promise<AutoDecision> {
  const software = inputs.rejectSoftware === false ? null : softwareAdapter(gpu.adapter);
  if (software) {
    return announce({ pick: false, reason: `${software} is slower than the CPU backends` });
  }
  const cpu = await inputs.cpu();
  if (!cpu) return announce({ pick: true, reason: 'no CPU backend to compare with' });

  const key = decisionKey(gpu.adapter, cpu.name);
  const cached = await inputs.store.load(key);
  if (cached) return announce({ ...cached, cached: true }, inputs.store.location);
  const decision = await calibrate(gpu, cpu, inputs.shape ?? DEFAULT_SHAPE, inputs.measure);
  await inputs.store.save(key, decision).catch((error: Error) => {
    log.warn(`could not cache the auto decision in ${inputs.store.location}: ${error.message}`);
  });
  return announce(decision);
}

async function calibrate(
  gpu: Backend,
  cpu: Backend,
  shape: CalibrationShape,
  measure = conv3dGflops,
): Promise<AutoDecision> {
  const gpuGflops = await measure(gpu, shape);
  const cpuGflops = await measure(cpu, shape);
  const pick = gpuGflops >= cpuGflops;
  const numbers =
    `calibration conv3d ${shape.channels}->${shape.channels} 3x3x3 on ${shape.size}^3: ` +
    `webgpu ${gpuGflops.toFixed(2)} GFLOP/s, ${cpu.name} ${cpuGflops.toFixed(2)} GFLOP/s`;
  const reason = pick ? numbers : `slower than ${cpu.name}: ${numbers}`;
  const measuredAt = new Date().toISOString();
  return { pick, reason, gpuGflops, cpuGflops, cpuBackend: cpu.name, measuredAt };
}

/**
 * Throughput of a 3x3x3 same-padded conv3d on `backend`: best of two timed runs after a
 * warm-up, each including the download that waits for the result.
 *
 * @returns GFLOP/s, counting a multiply-add as two operations.
 */
export async function conv3dGflops(backend: Backend, shape: CalibrationShape): Promise<number> {
  const { channels: c, size: s } = shape;
  const values = (n: number) =>
    Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 997) / 997 - 0.5);
  const x = await backend.upload(values(c * s ** 3), [1, c, s, s, s]);
  const w = await backend.upload(values(c * c * 27), [c, c, 3, 3, 3]);
  const params = conv3dParams({ padding: [1, 1, 1] });
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    const y = await backend.conv3d(x, w, null, params);
    await backend.download(y);
    if (run > 0) best = Math.min(best, performance.now() - start);
    backend.release(y);
  }
  backend.release(x);
  backend.release(w);
  return (2 * c * c * 27 * s ** 3) / (best * 1e6);
}

function announce(decision: AutoDecision, from?: string): AutoDecision {
  const source = from ? ` (cached in ${from})` : '';
  log.info(`auto ${decision.pick ? 'accepts' : 'rejects'} webgpu: ${decision.reason}${source}`);
  return decision;
}

/** A store in `localStorage` under one key (browsers). */
export function localStorageStore(storage: Storage, item = 'voxseg.webgpu-auto'): DecisionStore {
  const read = (): Record<string, AutoDecision> => JSON.parse(storage.getItem(item) ?? '{}');
  return {
    location: `localStorage '${item}'`,
    load: async (key) => read()[key],
    save: async (key, decision) =>
      storage.setItem(item, JSON.stringify({ ...read(), [key]: decision })),
  };
}

/** A store that lasts as long as the process. */
export function memoryStore(): DecisionStore {
  const decisions = new Map<string, AutoDecision>();
  return {
    location: 'memory',
    load: async (key) => decisions.get(key),
    save: async (key, decision) => void decisions.set(key, decision),
  };
}
