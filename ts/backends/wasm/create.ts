/**
 * Creating the wasm backend: feature tests, the build to load (threaded or not), the workers.
 *
 * Settings: `VOXSEG_WASM_THREADS=<n>` overrides the default thread count (the host's hardware
 * concurrency); 1 disables workers.
 */
import { expected, VoxsegError } from '../../engine/errors.js';
import { logger, readSetting } from '../../engine/log.js';
import { WasmBackend } from './backend.js';
import type { WasmContext } from './context.js';
import { JOB_FIELDS, WeightCache } from './conv3d.js';
import { type Executor, PoolExecutor, SerialExecutor } from './executor.js';
import { WasmHeap } from './heap.js';
import {
  type EmbeddedBinaries,
  buildKey,
  type LoadedKernels,
  loadKernels,
  relaxedSimdAvailable,
  sharedMemoryReason,
  simdUnavailableReason,
} from './module.js';
import { ThreadPool, wasmThreadHost } from './pool.js';

/** Options of {@link createWasmBackend}. */
export interface WasmBackendOptions {
  /**
   * Threads that share each op, the main one included; default `VOXSEG_WASM_THREADS`, else the
   * host's hardware concurrency. 1 runs everything on the calling thread.
   */
  threads?: number;
  /**
   * Smallest op, in estimated scalar operations, that is split over threads; smaller ones stay
   * on the main thread because messages cost more. Default 2^20; 0 splits every op.
   */
  minParallelWork?: number;
  /** Largest padded conv3d input slab in bytes, default 64 MiB (one plane is always done). */
  padBudgetBytes?: number;
  /**
   * Use the relaxed-SIMD build (fused multiply-add in conv3d): default when the host validates
   * relaxed SIMD (Chromium; Node 20 with --experimental-wasm-relaxed-simd). true where it is
   * unavailable is an error; false forces the plain SIMD build.
   */
  relaxedSimd?: boolean;
}

const log = logger('wasm');

const DEFAULT_MIN_PARALLEL_WORK = 2 ** 20;
const DEFAULT_PAD_BUDGET = 64 * 2 ** 20;

/**
 * Create the wasm backend: load the SIMD build (threaded when workers and shared memory exist
 * and more than one thread is asked for) and start the workers.
 *
 * @throws Error with a one-line reason when WebAssembly SIMD is unavailable or the kernels are
 *   not built.
 * @example
 * const wasm = await createWasmBackend({ threads: 4 });
 */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const noSimd = simdUnavailableReason();
  if (noSimd) throw new VoxsegError(noSimd);
  checkSizes(options);
  const embedded = await importBinaries();
  const { threads, reason } = threadPlan(options.threads);
  const relaxed = relaxedPlan(options.relaxedSimd);

  const choice = { relaxed, threaded: threads > 1 };
  const loaded = await loadKernels(choice, embedded);
  const why = reason ? ` (${reason})` : '';
  log.debug(() => `loaded the ${buildKey(choice)} build; threads: ${threads}${why}`);
  checkJobLayout(loaded.kernels.conv3d_job_bytes());
  const executor = await startExecutor(loaded, threads);

  const heap = new WasmHeap(loaded.kernels, loaded.memory);
  const context: WasmContext = {
    kernels: loaded.kernels,
    heap,
    executor,
    minParallelWork: options.minParallelWork ?? DEFAULT_MIN_PARALLEL_WORK,
    padBudgetBytes: options.padBudgetBytes ?? DEFAULT_PAD_BUDGET,
    weights: new WeightCache(heap, loaded.kernels),
  };
  return new WasmBackend(context, { relaxedSimd: relaxed, singleThreadReason: reason });
}

/** The main thread alone, or with `threads - 1` workers on the threaded build's memory. */
async function startExecutor(loaded: LoadedKernels, threads: number): Promise<Executor> {
  if (threads <= 1) return new SerialExecutor(loaded.kernels);
  const host = wasmThreadHost()!;
  const pool = await ThreadPool.start(host, threads - 1, loaded.module, loaded.memory);
  return new PoolExecutor(loaded.kernels, pool);
}

async function importBinaries(): Promise<EmbeddedBinaries> {
  try {
    const generated = await import('./generated/binaries.js');
    return { binaries: generated.BINARIES, threadsMemory: generated.THREADS_MEMORY };
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new VoxsegError(`the wasm kernels are not built (run npm run build:wasm): ${detail}`, {
      cause: error,
    });
  }
}

/** minParallelWork and padBudgetBytes must be non-negative numbers when given. */
function checkSizes(options: WasmBackendOptions): void {
  for (const field of ['minParallelWork', 'padBudgetBytes'] as const) {
    const value = options[field];
    if (value !== undefined && !(value >= 0)) throw expected('a number >= 0', field, value);
  }
}

/** Whether to load the relaxed-SIMD build. */
function relaxedPlan(requested?: boolean): boolean {
  const available = relaxedSimdAvailable();
  if (requested && !available) {
    throw new VoxsegError('relaxed SIMD was requested but this runtime does not validate it', {
      hint: 'leave relaxedSimd unset to use the plain SIMD build',
    });
  }
  return requested ?? available;
}

/** The thread count to use and, when it is 1, why. */
function threadPlan(requested?: number): { threads: number; reason: string } {
  const setting = readSetting('VOXSEG_WASM_THREADS');
  const asked = requested ?? (setting === undefined ? undefined : Number(setting));
  if (asked !== undefined && !(Number.isInteger(asked) && asked >= 1)) {
    const field = requested === undefined ? 'VOXSEG_WASM_THREADS' : 'threads';
    throw expected('a positive integer', field, requested ?? setting);
  }
  const host = wasmThreadHost();
  const threads = asked ?? host?.concurrency ?? 1;
  if (threads <= 1) {
    return { threads: 1, reason: asked ? 'one thread requested' : 'one hardware thread' };
  }
  if (!host) return { threads: 1, reason: 'no worker host (Worker is unavailable)' };
  const noShared = sharedMemoryReason();
  if (noShared) return { threads: 1, reason: noShared };
  return { threads, reason: '' };
}

/** The host writes Conv3dJob as JOB_FIELDS, four bytes each; the module must agree. */
function checkJobLayout(bytes: number): void {
  if (bytes !== JOB_FIELDS.length * 4) {
    throw new VoxsegError(
      `the wasm kernels' Conv3dJob has ${bytes} bytes, expected ${JOB_FIELDS.length * 4}: ` +
        'rebuild with npm run build:wasm',
    );
  }
}
