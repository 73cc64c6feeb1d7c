/**
 * voxseg's wasm backend as a conv3d engine. A timed call uploads the input, runs conv3d with
 * the fused activation, downloads the output into one host array kept across calls
 * (`download(tensor, into)`) and releases both, like a peer's session call; `runKernel` times
 * conv3d alone on resident tensors.
 */
import '../../ts/node.js';
import { createWasmBackend } from '../../ts/backends/wasm/index.js';
import type { WasmBackend } from '../../ts/backends/wasm/backend.js';
import { conv3dParams, type Conv3dParams } from '../../ts/engine/backend.js';
import type { Tensor } from '../../ts/engine/tensor.js';
import type { ConvCase } from '../lib/cases.js';
import { type ConvData, type ConvEngine, type PreparedConv, voxsegVersion } from './engine.js';

/** The conv3d parameters of a case. */
export function caseParams(c: ConvCase): Conv3dParams {
  const p = c.padding;
  const s = c.stride;
  const d = c.dilation;
  return conv3dParams({
    stride: [s, s, s],
    padding: [p, p, p],
    dilation: [d, d, d],
    activation: c.activation === 'elu' ? { kind: 'elu', alpha: 1 } : { kind: c.activation },
  });
}

/** voxseg's wasm backend at `threads` threads; `relaxedSimd` picks the fused multiply-add build. */
export async function createVoxsegEngine(
  threads: number,
  relaxedSimd = false,
): Promise<ConvEngine> {
  const backend = await createWasmBackend({ threads, relaxedSimd });
  const info = backend.info();
  return {
    id: relaxedSimd ? 'voxseg-wasm-relaxed' : 'voxseg-wasm',
    threads: info.details.threads as number,
    version: voxsegVersion(relaxedSimd),
    unsupported: (c) => tooLarge(c),
    prepare: (c, data) => prepareVoxseg(backend, c, data),
    dispose: () => backend.dispose(),
  };
}

/** The wasm backend's 1 GiB limit per tensor. */
function tooLarge(c: ConvCase): string | null {
  const inBytes = 4 * c.cin * c.dims[0] * c.dims[1] * c.dims[2];
  const outBytes = 4 * c.cout * c.outDims[0] * c.outDims[1] * c.outDims[2];
  return Math.max(inBytes, outBytes) > 2 ** 30 ? 'a tensor over 1 GiB' : null;
}

async function prepareVoxseg(
  backend: WasmBackend,
  c: ConvCase,
  data: ConvData,
): Promise<PreparedConv> {
  const k = c.kernel;
  const xShape = [1, c.cin, ...c.dims]; // (N, Cin, D, H, W)
  const weight = await backend.upload(data.weight, [c.cout, c.cin, k, k, k]);
  const bias = data.bias ? await backend.upload(data.bias, [c.cout]) : null;
  const params = caseParams(c);
  const resident = await backend.upload(data.x, xShape);

  let reused: Float32Array | undefined;
  const call = async (into: Float32Array | undefined): Promise<Float32Array> => {
    const x = await backend.upload(data.x, xShape);
    const y = await backend.conv3d(x, weight, bias, params);
    const out = (await backend.download(y, into)) as Float32Array;
    [x, y].forEach((t) => backend.release(t));
    return out;
  };
  return {
    run: async () => void (reused = await call(reused)),
    output: () => call(undefined),
    runKernel: async () => backend.release(await backend.conv3d(resident, weight, bias, params)),
    dispose: async () => [resident, weight, bias].forEach((t) => t && backend.release(t as Tensor)),
  };
}
