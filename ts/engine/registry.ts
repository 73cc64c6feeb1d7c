/**
 * The backend registry: factories by name, lazy probing, and selection with a stated reason.
 *
 * `auto` probes cuda -> webgpu -> wasm -> reference in that order, keeps the first that comes
 * up and is not vetoed, and remembers every other backend's failure reason. A forced backend
 * that is absent is an error listing every backend's reason, never a silent fallback.
 */
import { BACKEND_NAMES, type Backend, type BackendName } from './backend.js';
import { BackendUnavailableError, didYouMean } from './errors.js';
import { logger, readSetting } from './log.js';

const log = logger('engine');

/** How a backend is made; `create` throws (with a one-line reason) when it cannot run here. */
export interface BackendFactory {
  name: BackendName;
  create(): Promise<Backend>;
  /**
   * Optional veto for `auto`: a reason why this backend, although it works, should not be
   * chosen automatically (a software GPU adapter slower than wasm), or null to accept it.
   */
  autoVeto?(backend: Backend): Promise<string | null>;
}

/** What `selectBackend` chose and why, with every other backend's state. */
export interface BackendSelection {
  backend: Backend;
  /** One sentence: which backend and why it was chosen. */
  reason: string;
  /** Backends that could not be used, each with its reason. */
  skipped: Partial<Record<BackendName, string>>;
}

/** One backend's state after probing, for `voxseg info`. */
export interface BackendProbe {
  name: BackendName;
  available: boolean;
  /** Why it is unavailable, or why auto would not pick it; empty when fine. */
  reason: string;
  backend?: Backend;
}

export type BackendRequest = 'auto' | BackendName;

const factories = new Map<BackendName, BackendFactory>();
const instances = new Map<BackendName, Promise<Backend>>();
const failures = new Map<BackendName, string>();

/** Register (or replace) the factory for one backend. */
export function registerBackend(factory: BackendFactory): void {
  factories.set(factory.name, factory);
  instances.delete(factory.name);
  failures.delete(factory.name);
}

/**
 * Get a backend by name, creating it on first use.
 *
 * @throws BackendUnavailableError with the backend's reason when it cannot run here.
 */
export async function getBackend(name: BackendName): Promise<Backend> {
  const factory = factories.get(name);
  if (!factory) {
    throw new BackendUnavailableError(`backend '${name}' is not registered in this build`);
  }
  let instance = instances.get(name);
  if (!instance) {
    instance = factory.create();
    instances.set(name, instance);
  }
  try {
    return await instance;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    failures.set(name, reason);
    throw new BackendUnavailableError(`backend '${name}' is unavailable: ${reason}`, {
      cause: error,
    });
  }
}

/**
 * Choose a backend. `request` defaults to `VOXSEG_BACKEND`, else `auto`.
 *
 * @throws BackendUnavailableError listing every backend's reason when the forced one (or, for
 *   auto, every one) cannot run.
 */
export async function selectBackend(request?: string): Promise<BackendSelection> {
  const setting = readSetting('VOXSEG_BACKEND');
  const wanted =
    request !== undefined
      ? parseBackendRequest(request, 'backend')
      : parseBackendRequest(setting ?? 'auto', 'VOXSEG_BACKEND');
  const probes = await probeBackends(wanted === 'auto' ? undefined : [wanted]);
  const skipped: Partial<Record<BackendName, string>> = {};
  for (const probe of probes) if (!probe.available) skipped[probe.name] = probe.reason;

  if (wanted !== 'auto') {
    const probe = probes.find((p) => p.name === wanted)!;
    if (!probe.backend) throw unavailable(`the requested backend '${wanted}' cannot run here`);
    const veto = await factories.get(wanted)?.autoVeto?.(probe.backend);
    if (veto) log.warn(`${wanted} runs as requested, though auto would not choose it: ${veto}`);
    const reason = `${wanted} (forced by request)`;
    log.debug(`backend: ${reason}`);
    return { backend: probe.backend, reason, skipped };
  }

  const chosen = probes.find((p) => p.available);
  if (!chosen?.backend) throw unavailable('no backend can run here');
  const passed = probes.filter(
    (p) => BACKEND_NAMES.indexOf(p.name) < BACKEND_NAMES.indexOf(chosen.name),
  );
  const why = passed.length
    ? `; skipped ${passed.map((p) => `${p.name}: ${p.reason}`).join('; ')}`
    : '';
  const reason = `${chosen.name} (auto: first available${why})`;
  log.debug(`backend: ${reason}`);
  return { backend: chosen.backend, reason, skipped };
}

/**
 * Probe backends in auto order (or only `names`), creating each lazily. A backend that comes
 * up but is vetoed for auto is reported unavailable-for-auto with the veto's reason.
 */
export async function probeBackends(names?: readonly BackendName[]): Promise<BackendProbe[]> {
  const probes: BackendProbe[] = [];
  for (const name of BACKEND_NAMES) {
    if (names && !names.includes(name)) continue;
    const factory = factories.get(name);
    if (!factory) {
      probes.push({ name, available: false, reason: 'not registered in this build' });
      continue;
    }
    try {
      const backend = await getBackend(name);
      const veto = !names && factory.autoVeto ? await factory.autoVeto(backend) : null;
      probes.push({ name, available: veto === null, reason: veto ?? '', backend });
    } catch {
      probes.push({ name, available: false, reason: failures.get(name) ?? 'unknown failure' });
    }
  }
  return probes;
}

/** Dispose every created backend and forget them (tests, process exit). */
export async function disposeBackends(): Promise<void> {
  const created = [...instances.values()];
  instances.clear();
  failures.clear();
  for (const instance of created) await instance.then((b) => b.dispose()).catch(() => {});
}

/**
 * Check a backend request (`auto` or a backend name).
 *
 * @param field - where the value came from, named in the error (`--backend`, `VOXSEG_BACKEND`).
 * @throws BackendUnavailableError with a did-you-mean for an unknown name.
 */
export function parseBackendRequest(request: string, field: string): BackendRequest {
  const options = ['auto', ...BACKEND_NAMES];
  if (options.includes(request)) return request as BackendRequest;
  const hint = didYouMean(request, options);
  throw new BackendUnavailableError(
    `expected one of ${options.join(', ')} for ${field}, received '${request}'`,
    { field, value: request, hint: hint || undefined },
  );
}

function unavailable(summary: string): BackendUnavailableError {
  const reasons = BACKEND_NAMES.map((name) => {
    const reason = failures.get(name) ?? (factories.has(name) ? 'not probed' : 'not registered');
    return `${name}: ${instances.has(name) && !failures.has(name) ? 'available' : reason}`;
  });
  return new BackendUnavailableError(`${summary}; backends: ${reasons.join('; ')}`);
}
