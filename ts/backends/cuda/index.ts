/**
 * The cuda backend's entry: create it (loading the addon lazily), or probe what is there for
 * `voxseg info` without creating anything.
 *
 * Settings:
 * - `VOXSEG_CUDA_ADDON=<path>`: addon file tried before build/Release and build/Debug.
 * - `VOXSEG_CUDA_DEVICE=<index>`: the device to use (default 0).
 * - `VOXSEG_CUDA_CONV=auto|direct|implicit_gemm`: force a conv3d kernel (default auto).
 */
import { BackendUnavailableError, expected } from '../../engine/errors.js';
import { readSetting } from '../../engine/log.js';
import { CudaBackend, cudaVersion } from './backend.js';
import { type CudaAddon, type CudaProbe, loadCudaAddon, type LoadedAddon } from './binding.js';

export { CudaBackend, cudaVersion } from './backend.js';
export type { CudaAddon, CudaDeviceInfo, CudaProbe } from './binding.js';
export { addonCandidates, loadCudaAddon } from './binding.js';

/** What `voxseg info` shows about CUDA, with or without a usable device. */
export interface CudaStatus {
  available: boolean;
  /** One line: why cuda cannot run here, or "" when it can. */
  reason: string;
  /** The addon file that loaded, if any. */
  addon?: string;
  driver?: string;
  runtime?: string;
  devices: string[];
}

let loaded: LoadedAddon | undefined;

/** Load the addon once per process (a failure is retried on the next call). */
function addon(): LoadedAddon {
  loaded ??= loadCudaAddon();
  return loaded;
}

/**
 * Create the cuda backend on one device.
 *
 * @param options.device - device index, default `VOXSEG_CUDA_DEVICE` or 0.
 * @param options.loaded - an addon to use instead of loading one (tests).
 * @throws BackendUnavailableError with one line: "addon not built: ...", "CUDA not compiled in
 *   ...", or "no CUDA device: cudaGetDeviceCount returned 35 (...)".
 * @example
 * const cuda = await createCudaBackend();
 * console.log(cuda.info().description);
 */
export async function createCudaBackend(
  options: { device?: number; loaded?: LoadedAddon } = {},
): Promise<CudaBackend> {
  const { addon: native, path } = options.loaded ?? addon();
  if (!native.compiled) throw new BackendUnavailableError(native.reason);
  const probe = native.probe();
  if (!probe.ok) throw new BackendUnavailableError(`no CUDA device: ${probe.error}`);

  const index = options.device ?? deviceSetting(probe);
  const device = probe.devices[index];
  const context = new native.CudaContext(index);
  return new CudaBackend({ addon: native, addonPath: path, probe, device, context });
}

/**
 * Probe CUDA without creating a backend; never throws.
 *
 * @example
 * const status = probeCuda();
 * if (!status.available) console.log(`cuda: ${status.reason}`);
 */
export function probeCuda(): CudaStatus {
  let native: CudaAddon;
  let path: string;
  try {
    ({ addon: native, path } = addon());
  } catch (error) {
    return { available: false, reason: (error as Error).message, devices: [] };
  }
  if (!native.compiled)
    return { available: false, reason: native.reason, addon: path, devices: [] };
  const probe = native.probe();
  return {
    available: probe.ok,
    reason: probe.ok ? '' : `no CUDA device: ${probe.error}`,
    addon: path,
    driver: cudaVersion(probe.driverVersion),
    runtime: cudaVersion(probe.runtimeVersion),
    devices: probe.devices.map((d) => `${d.index}: ${d.name} (compute ${d.computeCapability})`),
  };
}

function deviceSetting(probe: CudaProbe): number {
  const setting = readSetting('VOXSEG_CUDA_DEVICE') ?? '0';
  const index = Number(setting);
  if (!Number.isInteger(index) || index < 0 || index >= probe.deviceCount) {
    throw expected(`a device index in [0, ${probe.deviceCount})`, 'VOXSEG_CUDA_DEVICE', setting);
  }
  return index;
}
