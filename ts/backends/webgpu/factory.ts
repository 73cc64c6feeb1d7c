/**
 * The registry entry of the WebGPU backend. It loads the backend module lazily (so the core
 * entry stays light and bundles for browsers), creates it on the first registered provider
 * with an adapter, and vetoes it for `auto` when it is a software adapter or slower than the
 * CPU backend (see calibration.ts).
 */
import type { Backend } from '../../engine/backend.js';
import { BackendUnavailableError } from '../../engine/errors.js';
import type { BackendFactory } from '../../engine/registry.js';
import { getBackend } from '../../engine/registry.js';
import {
  type AutoDecision,
  type DecisionStore,
  decideAuto,
  localStorageStore,
  memoryStore,
} from './calibration.js';
import type { AdapterFacts } from './device.js';

let store: DecisionStore | null = null;

/** Replace where auto's measured decisions are kept (the Node entry uses a file). */
export function setDecisionStore(replacement: DecisionStore): void {
  store = replacement;
}

/** The decision store in use: the one set, else localStorage when present, else memory. */
export function decisionStore(): DecisionStore {
  if (!store) {
    const storage = (globalThis as { localStorage?: Storage }).localStorage;
    store = storage ? localStorageStore(storage) : memoryStore();
  }
  return store;
}

/** The backend registry's factory for `webgpu`. */
export const webgpuFactory: BackendFactory = {
  name: 'webgpu',
  async create() {
    const module = await import('./backend.js').catch((error: Error) => {
      const stale = /wgsl-sources/.test(error.message);
      throw new BackendUnavailableError(`the webgpu backend did not load: ${error.message}`, {
        hint: stale ? 'generate the kernels: node kernels/wgsl/generate.mjs' : undefined,
        cause: error,
      });
    });
    return module.createWebGpuBackend();
  },
  async autoVeto(backend: Backend) {
    const gpu = backend as Backend & { adapter: AdapterFacts; autoDecision: AutoDecision | null };
    const decision = await decideAuto(gpu, { store: decisionStore(), cpu: calibrationPeer });
    gpu.autoDecision = decision;
    return decision.pick ? null : decision.reason;
  },
};

/** The CPU backend the calibration compares with: wasm, else the reference. */
async function calibrationPeer(): Promise<Backend | null> {
  for (const name of ['wasm', 'reference'] as const) {
    try {
      return await getBackend(name);
    } catch {
      continue;
    }
  }
  return null;
}
