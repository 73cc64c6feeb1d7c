/**
 * What every conv3d engine in the benchmarks offers: voxseg's wasm backend and each peer
 * (onnxruntime-node, onnxruntime-web, TensorFlow.js cpu and wasm). Every engine takes the same
 * host arrays and gives host arrays back, so a timed call is the same work everywhere: the
 * input copied in, the convolution, the output copied out.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConvCase } from '../lib/cases.js';

/** Engine names as the tables print them. */
export type EngineId =
  'voxseg-wasm' | 'voxseg-wasm-relaxed' | 'ort-node' | 'ort-web' | 'tfjs-wasm' | 'tfjs-cpu';

/** The data of one case, in voxseg's layouts. */
export interface ConvData {
  /** (1, Cin, D, H, W). */
  x: Float32Array;
  /** (Cout, Cin, K, K, K). */
  weight: Float32Array;
  /** (Cout), or null when the case has no bias. */
  bias: Float32Array | null;
}

/** One case made ready on an engine: weights loaded, session or kernels compiled. */
export interface PreparedConv {
  /** One timed call: input in, conv (and fused activation), output out. */
  run(): Promise<void>;
  /** Run once and return the output as (1, Cout, OD, OH, OW), for the agreement check. */
  output(): Promise<Float32Array>;
  /** Optional kernel-only call (tensors already on the engine), for voxseg's own column. */
  runKernel?(): Promise<void>;
  dispose(): Promise<void>;
}

/** A conv3d engine at a fixed thread count. */
export interface ConvEngine {
  readonly id: EngineId;
  /** Threads the engine really uses (TF.js cpu: always 1). */
  readonly threads: number;
  /** Package name and version, and the build it runs (SIMD, threads). */
  readonly version: string;
  /** Why the engine cannot run `c`, or null when it can. */
  unsupported(c: ConvCase): string | null;
  prepare(c: ConvCase, data: ConvData): Promise<PreparedConv>;
  dispose(): Promise<void>;
}

/** A package's version from the repository's node_modules, or 'unknown'. */
export function packageVersion(name: string): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  try {
    const file = join(root, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** voxseg's version and wasm build, as the reports name it. */
export function voxsegVersion(relaxedSimd = false): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  const build = relaxedSimd ? 'relaxed SIMD (fused multiply-add)' : 'SIMD';
  return `voxseg ${version}: WebAssembly ${build} (AssemblyScript)`;
}
