/**
 * The backends a backend-agnostic suite runs over: every registered backend but the reference
 * (the oracle), each either available or skipped with its stated reason.
 */
import '../../ts/node.js';
import type { Backend, BackendName } from '../../ts/engine/backend.js';
import { BACKEND_NAMES } from '../../ts/engine/backend.js';
import { getBackend } from '../../ts/engine/registry.js';

export interface BackendUnderTest {
  name: BackendName;
  backend?: Backend;
  /** Why the backend is skipped; empty when it runs. */
  skipReason: string;
}

/** Probe every non-reference backend once; unavailable ones carry their reason. */
export async function backendsUnderTest(): Promise<BackendUnderTest[]> {
  const result: BackendUnderTest[] = [];
  for (const name of BACKEND_NAMES) {
    if (name === 'reference') continue;
    try {
      result.push({ name, backend: await getBackend(name), skipReason: '' });
    } catch (error) {
      result.push({ name, skipReason: (error as Error).message });
    }
  }
  return result;
}

/** The reference backend, the oracle of every comparison. */
export function referenceBackend(): Promise<Backend> {
  return getBackend('reference');
}
