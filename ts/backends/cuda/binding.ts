/**
 * The CUDA addon's export table as a TypeScript type (it mirrors native/addon/addon.cc), and
 * the defensive loader: candidate paths tried in order, every failure kept, one message with
 * the remedy when none loads. Nothing here runs at import time; a missing or broken addon only
 * makes the cuda backend unavailable.
 *
 * Settings: `VOXSEG_CUDA_ADDON=<path>` is tried before the build outputs.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError } from '../../engine/errors.js';
import { readSetting } from '../../engine/log.js';

/** One CUDA device as the addon reports it. */
export interface CudaDeviceInfo {
  index: number;
  name: string;
  /** "9.0" for Hopper, "8.0" for A100. */
  computeCapability: string;
  multiprocessors: number;
  totalBytes: number;
  freeBytes: number;
  /** Largest shared memory one block may opt into, bytes. */
  sharedPerBlockOptin: number;
}

/** What the CUDA runtime sees; `probe()` never throws. */
export interface CudaProbe {
  /** At least one device and no error. */
  ok: boolean;
  /** "cudaGetDeviceCount returned 35 (CUDA driver version is insufficient ...)" or "". */
  error: string;
  /** The CUDA error code, 0 when fine, -1 in the stub. */
  errorCode: number;
  deviceCount: number;
  /** Driver version as major * 1000 + minor * 10; 0 without a driver. */
  driverVersion: number;
  /** Runtime version the addon was built with (13000 for 13.0). */
  runtimeVersion: number;
  devices: CudaDeviceInfo[];
}

/** A device allocation; `free()` is idempotent and waits for work still using it. */
export interface CudaBuffer {
  readonly bytes: number;
  readonly freed: boolean;
  free(): void;
}

/** How `alloc` fills new memory: poison patterns, zeros or nothing. */
export type CudaFill = 'none' | 'zero' | 'nan' | 'a5';

/** conv3d sizes, as vx_conv3d_params; triples are (D, H, W). */
export interface CudaConv3dParams {
  n: number;
  cin: number;
  d: number;
  h: number;
  w: number;
  cout: number;
  kd: number;
  kh: number;
  kw: number;
  od: number;
  oh: number;
  ow: number;
  stride: readonly number[];
  padding: readonly number[];
  dilation: readonly number[];
  groups: number;
  /** ACTIVATION_CODES value. */
  activation: number;
  alpha: number;
  /** 0 auto, 1 conv3d_direct, 2 conv3d_implicit_gemm. */
  algorithm: number;
}

/** Counts from `labelConfusion`, indexed by label. */
export interface CudaLabelCounts {
  tp: Float64Array;
  pred: Float64Array;
  ref: Float64Array;
  /** First voxel with a label outside [0, numLabels), or -1. */
  firstInvalid: number;
  invalidPred: number;
  invalidRef: number;
}

/** One device and its stream. Every op is queued on the stream and resolves when it is done. */
export interface CudaContext {
  alloc(bytes: number, fill: CudaFill): CudaBuffer;
  upload(dst: CudaBuffer, src: ArrayBufferView): Promise<void>;
  download(src: CudaBuffer, dst: ArrayBufferView): Promise<void>;
  /** out: (N, Cout, OD, OH, OW); x: (N, Cin, D, H, W); weight: (Cout, Cin/groups, KD, KH, KW). */
  conv3d(
    out: CudaBuffer,
    x: CudaBuffer,
    weight: CudaBuffer,
    bias: CudaBuffer | null,
    params: CudaConv3dParams,
  ): Promise<void>;
  /** out, x: (count). */
  activation(
    out: CudaBuffer,
    x: CudaBuffer,
    count: number,
    code: number,
    alpha: number,
  ): Promise<void>;
  /** out, x: (N, C, S); scale, shift: (C). */
  instanceNorm(
    out: CudaBuffer,
    x: CudaBuffer,
    scale: CudaBuffer | null,
    shift: CudaBuffer | null,
    n: number,
    channels: number,
    spatial: number,
    eps: number,
    code: number,
    alpha: number,
  ): Promise<void>;
  /** out, x: (N, C, S). */
  softmax(
    out: CudaBuffer,
    x: CudaBuffer,
    n: number,
    channels: number,
    spatial: number,
  ): Promise<void>;
  /** out: (N, S) int32; x: (N, C, S). */
  argmax(
    out: CudaBuffer,
    x: CudaBuffer,
    n: number,
    channels: number,
    spatial: number,
  ): Promise<void>;
  /** pred, ref: (count) labels of `labelBytes` (1 uint8, 2 uint16, 4 int32). */
  labelConfusion(
    pred: CudaBuffer,
    ref: CudaBuffer,
    labelBytes: number,
    count: number,
    numLabels: number,
    ignoreLabel: number | null,
  ): Promise<CudaLabelCounts>;
  /** probs: (N, C, S) float32; target: (N, S) labels of `labelBytes`. */
  softDice(
    probs: CudaBuffer,
    target: CudaBuffer,
    labelBytes: number,
    n: number,
    channels: number,
    spatial: number,
  ): Promise<{ intersection: Float64Array; predSum: Float64Array; targetSum: Float64Array }>;
  /**
   * Squared EDT per batch item. out: (N, D, H, W) float32 mm^2; mask: (N, D, H, W) labels of
   * `labelBytes`; spacing along (D, H, W) in mm.
   */
  distanceTransform(
    out: CudaBuffer,
    mask: CudaBuffer,
    labelBytes: number,
    n: number,
    d: number,
    h: number,
    w: number,
    spacingD: number,
    spacingH: number,
    spacingW: number,
  ): Promise<void>;
  /**
   * Copy `blocks` runs of `blockBytes` bytes: run i goes from src + srcOffset + i * srcStride
   * to dst + dstOffset + i * dstStride.
   */
  copyBlocks(
    dst: CudaBuffer,
    dstOffset: number,
    src: CudaBuffer,
    srcOffset: number,
    blocks: number,
    blockBytes: number,
    dstStride: number,
    srcStride: number,
  ): Promise<void>;
  synchronize(): Promise<void>;
  memoryInfo(): { freeBytes: number; totalBytes: number };
  /** Free every buffer and the stream once the work in flight is done; idempotent. */
  dispose(): void;
}

/** The addon's one export table (native/addon/addon.cc; the stub in native/addon/stub.cc). */
export interface CudaAddon {
  /** False in the stub built without nvcc. */
  readonly compiled: boolean;
  /** Why CUDA cannot work in this build ("" when compiled). */
  readonly reason: string;
  readonly version: string;
  /** CUDA architectures compiled in, e.g. "80-real 90". */
  readonly architectures: string;
  probe(): CudaProbe;
  /** A stream on one device; throws (the stub always) when the device cannot be used. */
  readonly CudaContext: new (device: number) => CudaContext;
  /** The class of the buffers `alloc` returns; an empty one when constructed directly. */
  readonly CudaBuffer: new () => CudaBuffer;
}

/** A loaded addon and the file it came from. */
export interface LoadedAddon {
  addon: CudaAddon;
  path: string;
}

const EXPORTS = ['compiled', 'reason', 'version', 'architectures', 'probe', 'CudaContext'];

/** The package root: three levels above this file in ts/ and in dist/. */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Where the addon may be, in the order tried: VOXSEG_CUDA_ADDON, then the cmake-js outputs. */
export function addonCandidates(): string[] {
  const root = packageRoot();
  const configured = readSetting('VOXSEG_CUDA_ADDON');
  return [
    ...(configured ? [configured] : []),
    join(root, 'build', 'Release', 'voxseg_cuda.node'),
    join(root, 'build', 'Debug', 'voxseg_cuda.node'),
  ];
}

/**
 * Load the first candidate that is a voxseg CUDA addon.
 *
 * @param candidates - paths to try, default {@link addonCandidates}.
 * @returns the addon and its path.
 * @throws BackendUnavailableError "addon not built: <each path: why>" with the remedy.
 * @example
 * const { addon } = loadCudaAddon();
 * console.log(addon.probe().error);
 */
export function loadCudaAddon(candidates: readonly string[] = addonCandidates()): LoadedAddon {
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of candidates) {
    const shown = relative(process.cwd(), path) || path;
    if (!existsSync(path)) {
      failures.push(`${shown} (not found)`);
      continue;
    }
    try {
      const loaded = require(path) as Record<string, unknown>;
      const missing = EXPORTS.filter((name) => !(name in loaded));
      if (!missing.length) return { addon: loaded as unknown as CudaAddon, path };
      failures.push(`${shown} (not a voxseg CUDA addon: missing ${missing.join(', ')})`);
    } catch (error) {
      failures.push(`${shown} (${firstLine(error)})`);
    }
  }
  throw new BackendUnavailableError(`addon not built: tried ${failures.join(', ')}`, {
    hint: 'run `npm run build:native`',
  });
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0];
}
