/**
 * TensorFlow.js as conv3d engines, the way a Keras layer runs there (brainchop's models are
 * tf.layers conv3d layers): conv3d, then the bias added and the activation applied as separate
 * ops, on channels-last tensors (N, D, H, W, C). The `cpu` backend is plain JavaScript on one
 * thread; the `wasm` backend is TensorFlow.js's C++ kernels built to WebAssembly (SIMD, and
 * threads where its loader finds them usable).
 *
 * The benchmark keeps voxseg's layouts; the channels-last copies of the data are made once per
 * case, outside the timed calls.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ConvCase } from '../lib/cases.js';
import { type ConvData, type ConvEngine, packageVersion, type PreparedConv } from './engine.js';

type Tf = typeof import('@tensorflow/tfjs-core');

let tfPromise: Promise<Tf> | null = null;

/** TensorFlow.js core with the cpu and wasm backends registered (loaded once). */
export function loadTf(): Promise<Tf> {
  tfPromise ??= (async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    wasm.setWasmPaths(`${join(dist, 'dist')}/`);
    // Production mode, as an application runs it: no per-op debug checks, no Node banner.
    tf.enableProdMode();
    return tf as Tf;
  })();
  return tfPromise;
}

/** Make `name` the active TensorFlow.js backend (initialising it the first time). */
export async function useTfBackend(tf: Tf, name: 'cpu' | 'wasm', threads: number): Promise<void> {
  if (tf.getBackend() === name) return;
  if (name === 'wasm' && !tf.findBackend('wasm')) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setThreadsCount(threads);
  }
  if (!(await tf.setBackend(name))) throw new Error(`TensorFlow.js backend ${name} did not start`);
  await tf.ready();
}

/** (C, S) channels-first -> (S, C) channels-last for `channels` channels. */
export function toChannelsLast(data: Float32Array, channels: number): Float32Array {
  const spatial = data.length / channels;
  const out = new Float32Array(data.length);
  for (let c = 0; c < channels; c++) {
    const plane = c * spatial;
    for (let s = 0; s < spatial; s++) out[s * channels + c] = data[plane + s];
  }
  return out;
}

/** (S, C) channels-last -> (C, S) channels-first. */
export function toChannelsFirst(data: Float32Array, channels: number): Float32Array {
  const spatial = data.length / channels;
  const out = new Float32Array(data.length);
  for (let s = 0; s < spatial; s++) {
    for (let c = 0; c < channels; c++) out[c * spatial + s] = data[s * channels + c];
  }
  return out;
}

/** Weights (Cout, Cin, K, K, K) -> TensorFlow's filter (K, K, K, Cin, Cout). */
export function toTfFilter(weight: Float32Array, cout: number, cin: number, k: number) {
  const taps = k * k * k;
  const out = new Float32Array(weight.length);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let t = 0; t < taps; t++)
        out[(t * cin + i) * cout + o] = weight[(o * cin + i) * taps + t];
    }
  }
  return out;
}

/** TensorFlow.js on `backend`; the cpu backend always runs one thread. */
export async function createTfjsEngine(
  backend: 'cpu' | 'wasm',
  threads: number,
): Promise<ConvEngine> {
  const tf = await loadTf();
  await useTfBackend(tf, backend, threads);
  const used = backend === 'cpu' ? 1 : await wasmThreads(threads);
  const version = `@tensorflow/tfjs-core ${packageVersion('@tensorflow/tfjs-core')} (${backend})`;
  return {
    id: backend === 'cpu' ? 'tfjs-cpu' : 'tfjs-wasm',
    threads: used,
    version,
    unsupported: (c) => (c.stride === 1 ? null : "stride 2: TensorFlow's 'same' pads differently"),
    prepare: (c, data) => prepareTf(tf, backend, threads, c, data),
    dispose: async () => {},
  };
}

/** The threads tfjs-backend-wasm really uses (1 when it loaded its single-threaded build). */
async function wasmThreads(asked: number): Promise<number> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const getter = (wasm as { getThreadsCount?: () => number }).getThreadsCount;
  return getter ? getter() : asked;
}

async function prepareTf(
  tf: Tf,
  backend: 'cpu' | 'wasm',
  threads: number,
  c: ConvCase,
  data: ConvData,
): Promise<PreparedConv> {
  await useTfBackend(tf, backend, threads);
  const k = c.kernel;
  const filter = tf.tensor5d(toTfFilter(data.weight, c.cout, c.cin, k), [k, k, k, c.cin, c.cout]);
  const bias = data.bias ? tf.tensor1d(data.bias) : null;
  const xLast = toChannelsLast(data.x, c.cin);
  const pad = c.padding === 0 ? 'valid' : 'same';
  const call = async (): Promise<Float32Array> => {
    await useTfBackend(tf, backend, threads);
    const y = tf.tidy(() => {
      const x = tf.tensor5d(xLast, [1, ...c.dims, c.cin]);
      const d = c.dilation;
      let out = tf.conv3d(x, filter, c.stride, pad, 'NDHWC', [d, d, d]);
      if (bias) out = tf.add(out, bias);
      if (c.activation === 'relu') out = tf.relu(out);
      if (c.activation === 'elu') out = tf.elu(out);
      return out;
    });
    const out = (await y.data()) as Float32Array;
    y.dispose();
    return out;
  };
  return {
    run: async () => void (await call()),
    output: async () => toChannelsFirst(await call(), c.cout),
    dispose: async () => [filter, bias].forEach((t) => t?.dispose()),
  };
}
