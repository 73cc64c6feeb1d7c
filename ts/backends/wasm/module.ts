/**
 * Loading the kernels: feature tests, decoding the embedded binaries and instantiating them.
 * Uses only WebAssembly and atob, so it runs in browsers and Node alike.
 */
import { BackendRuntimeError } from '../../engine/errors.js';

/** The exports of assembly/index.ts, by name; every size is in elements unless noted. */
export interface WasmKernels {
  memory?: WebAssembly.Memory;
  OC_BLOCK: WebAssembly.Global;
  alloc(bytes: number): number;
  free(ptr: number): void;
  conv3d_job_bytes(): number;
  conv3d_pack_weights(
    w: number,
    packed: number,
    coutPerGroup: number,
    groups: number,
    taps: number,
  ): void;
  conv3d_pad_input(job: number, itemStart: number, itemEnd: number): void;
  conv3d_direct(job: number, scratch: number, itemStart: number, itemEnd: number): void;
  activation_apply(x: number, out: number, count: number, code: number, alpha: number): void;
  copy_rows(
    dst: number,
    src: number,
    rowBytes: number,
    rows: number,
    dstStride: number,
    srcStride: number,
  ): void;
  [kernel: string]: unknown;
}

/** A module of one function () -> v128 whose body is `code` (no locals). */
function probeModule(code: number[]): Uint8Array<ArrayBuffer> {
  const body = [0x00, ...code, 0x0b];
  const section = [0x01, body.length, ...body];
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types = [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b];
  const functions = [0x03, 0x02, 0x01, 0x00];
  return new Uint8Array([...header, ...types, ...functions, 0x0a, section.length, ...section]);
}

/** v128.const i32x4 0 0 0 0. */
const V128_ZERO = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
/** f32x4.relaxed_madd (opcode 0xfd 0x105). */
const RELAXED_MADD = [0xfd, 0x85, 0x02];

const SIMD_PROBE = probeModule(V128_ZERO);
const RELAXED_SIMD_PROBE = probeModule([...V128_ZERO, ...V128_ZERO, ...V128_ZERO, ...RELAXED_MADD]);

/** Why the wasm backend cannot run here, or null when WebAssembly with SIMD is available. */
export function simdUnavailableReason(): string | null {
  if (typeof WebAssembly !== 'object') return 'WebAssembly is not available in this runtime';
  return validates(SIMD_PROBE)
    ? null
    : 'WebAssembly SIMD is not available in this runtime (a v128 module does not validate)';
}

/** Whether the host validates relaxed SIMD (Chromium does; Node 20 only behind a flag). */
export function relaxedSimdAvailable(): boolean {
  return validates(RELAXED_SIMD_PROBE);
}

/**
 * Why shared memory (and so wasm threads) cannot exist here, or null: it needs
 * SharedArrayBuffer and, in a browser, a cross-origin isolated page (COOP/COEP headers).
 */
export function sharedMemoryReason(): string | null {
  if (typeof SharedArrayBuffer === 'undefined') {
    return 'SharedArrayBuffer is unavailable (browsers need COOP/COEP headers)';
  }
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  if (isolated === false) return 'the page is not cross-origin isolated (COOP/COEP headers)';
  return null;
}

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** A compiled kernel module with its memory and the main thread's instance. */
export interface LoadedKernels {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  kernels: WasmKernels;
}

/** Which of the four builds: relaxed SIMD (fused multiply-add) or not, threaded or not. */
export interface BuildChoice {
  relaxed: boolean;
  threaded: boolean;
}

/** The embedded builds (assembly/build.mjs) and the shared memory size of the threaded ones. */
export interface EmbeddedBinaries {
  binaries: Record<string, string>;
  threadsMemory: { initial: number; maximum: number };
}

/** The key of a build in the generated module: simd, simd-threads, relaxed-simd, ... */
export function buildKey(choice: BuildChoice): string {
  return `${choice.relaxed ? 'relaxed-simd' : 'simd'}${choice.threaded ? '-threads' : ''}`;
}

/**
 * Compile and instantiate one build. A threaded build gets a new shared memory of
 * `threadsMemory` pages.
 */
export async function loadKernels(
  choice: BuildChoice,
  embedded: EmbeddedBinaries,
): Promise<LoadedKernels> {
  const module = await WebAssembly.compile(decodeBase64(embedded.binaries[buildKey(choice)]));
  const shared = choice.threaded
    ? new WebAssembly.Memory({ ...embedded.threadsMemory, shared: true })
    : undefined;
  const holder: { memory?: WebAssembly.Memory } = { memory: shared };
  const instance = await WebAssembly.instantiate(module, {
    env: { ...(shared ? { memory: shared } : {}), abort: abortHandler(holder) },
  });
  const kernels = instance.exports as unknown as WasmKernels;
  const memory = shared ?? kernels.memory!;
  holder.memory = memory;
  return { module, memory, kernels };
}

/** The `env.abort` import: AssemblyScript calls it on a failed allocation or assertion. */
function abortHandler(holder: { memory?: WebAssembly.Memory }) {
  return (message: number, file: number, line: number, column: number): never => {
    const text = holder.memory ? readString(holder.memory, message) : 'abort';
    const where = holder.memory ? readString(holder.memory, file) : 'wasm';
    throw new BackendRuntimeError(`wasm kernel aborted: ${text} (${where}:${line}:${column})`);
  };
}

/** Read an AssemblyScript string (UTF-16, byte length stored 4 bytes before it). */
function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return '';
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  const units = new Uint16Array(memory.buffer.slice(ptr, ptr + bytes));
  return String.fromCharCode(...units);
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
