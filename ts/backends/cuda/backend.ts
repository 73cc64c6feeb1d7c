/**
 * The cuda backend: the Backend contract over the native addon's CudaContext. Tensors are
 * device buffers; every op allocates its output (poisoned when VOXSEG_POISON=1), queues the
 * kernel on the context's stream and resolves when the stream has finished it.
 *
 * conv3d runs conv3d_direct (FP32) for thin channels and conv3d_implicit_gemm (TF32 tensor
 * cores, about 1e-3 relative error) when Cout/groups >= 32 and Cin/groups >= 16;
 * `VOXSEG_CUDA_CONV=direct|implicit_gemm` forces one.
 */
import { ACTIVATION_CODES, activationAlpha, checkActivation } from '../../engine/activations.js';
import type {
  Activation,
  Backend,
  BackendInfo,
  Conv3dParams,
  LabelCounts,
  SoftDiceSums,
} from '../../engine/backend.js';
import { ALL_OPS, distanceSpacing } from '../../engine/backend.js';
import { BackendRuntimeError, VoxsegError } from '../../engine/errors.js';
import { readSetting } from '../../engine/log.js';
import { MemoryTracker, poisonOutputs } from '../../engine/memory.js';
import {
  concatShape,
  conv3dOutputShape,
  requireDType,
  requireLabels,
  requireRank,
  requireSameShape,
  sliceShape,
} from '../../engine/shapes.js';
import {
  downloadTarget,
  DTYPE_BYTES,
  type DType,
  dtypeOf,
  formatShape,
  type HostArray,
  makeTensor,
  shapeSize,
  type Tensor,
} from '../../engine/tensor.js';
import type { CudaAddon, CudaBuffer, CudaContext, CudaDeviceInfo, CudaProbe } from './binding.js';
import {
  type BlockCopy,
  concatCopies,
  conv3dCallParams,
  labelBytes,
  parseConv3dAlgorithm,
  sliceCopy,
} from './plans.js';

const UNSUPPORTED = [
  'conv3d_implicit_gemm (chosen for Cout/groups >= 32, Cin/groups >= 16) multiplies in TF32: ' +
    'about 1e-3 relative error; VOXSEG_CUDA_CONV=direct keeps FP32',
  'instanceNorm and softDice: at most 65535 (N x C) planes',
  'labelConfusion: pred and ref must share one label dtype',
  'float32 tensors only (no float16)',
];

/** Where the backend came from: the addon, its file, the probe and the chosen device. */
export interface CudaBackendSource {
  addon: CudaAddon;
  addonPath: string;
  probe: CudaProbe;
  device: CudaDeviceInfo;
  context: CudaContext;
}

/**
 * The Backend contract on one CUDA device. Made by {@link createCudaBackend}, which loads the
 * addon and picks the device; every op resolves once its kernel has finished on the stream.
 *
 * @example
 * const cuda = await createCudaBackend();
 * const x = await cuda.upload(data, [1, 5, 64, 64, 64]);
 * const y = await cuda.activation(x, { kind: 'relu' });
 */
export class CudaBackend implements Backend {
  readonly name = 'cuda' as const;
  readonly ops = ALL_OPS;
  readonly unsupported: readonly string[] = UNSUPPORTED;
  private readonly memoryTracker = new MemoryTracker();
  private readonly context: CudaContext;

  constructor(private readonly source: CudaBackendSource) {
    this.context = source.context;
  }

  info(): BackendInfo {
    const { device, probe, addon, addonPath } = this.source;
    const details = {
      device: device.name,
      deviceIndex: device.index,
      computeCapability: device.computeCapability,
      multiprocessors: device.multiprocessors,
      totalBytes: device.totalBytes,
      driver: cudaVersion(probe.driverVersion),
      runtime: cudaVersion(probe.runtimeVersion),
      architectures: addon.architectures,
      addon: addonPath,
    };
    const description =
      `${device.name} (compute ${device.computeCapability}), CUDA driver ` +
      `${details.driver}, runtime ${details.runtime}`;
    return { name: this.name, description, details };
  }

  memory() {
    return this.memoryTracker.stats();
  }

  resetPeak(): void {
    this.memoryTracker.resetPeak();
  }

  async upload(data: HostArray, shape: readonly number[]): Promise<Tensor> {
    const dtype = dtypeOf(data);
    if (!dtype) throw new VoxsegError('expected a Float32/Int32/Uint8/Uint16Array for upload');
    if (shapeSize(shape) !== data.length) {
      const want = `${shapeSize(shape)} elements for shape ${formatShape(shape)}`;
      throw new VoxsegError(`expected ${want}, received ${data.length}`);
    }
    const tensor = this.allocate(shape, dtype, 'none');
    await this.run('upload', () => this.context.upload(this.buffer(tensor), data));
    return tensor;
  }

  async download(tensor: Tensor, into?: HostArray): Promise<HostArray> {
    const host = downloadTarget(tensor, into);
    await this.run('download', () => this.context.download(this.buffer(tensor), host));
    return host;
  }

  async zeros(shape: readonly number[], dtype: DType): Promise<Tensor> {
    return this.allocate(shape, dtype, 'zero');
  }

  release(tensor: Tensor): void {
    if (tensor.released || tensor.backend !== this.name) return;
    tensor.released = true;
    (tensor.handle as CudaBuffer).free();
    this.memoryTracker.free(tensor.size * DTYPE_BYTES[tensor.dtype]);
  }

  async conv3d(x: Tensor, weight: Tensor, bias: Tensor | null, params: Conv3dParams) {
    checkActivation(params.activation);
    const shape = conv3dOutputShape(x, weight, bias, params);
    requireDType(weight, 'float32', 'conv3d weight');
    if (bias) requireDType(bias, 'float32', 'conv3d bias');
    const algorithm = parseConv3dAlgorithm(readSetting('VOXSEG_CUDA_CONV'));
    const call = conv3dCallParams(x.shape, weight.shape, shape, params, algorithm);
    const out = this.output(shape, 'float32');
    const biasBuffer = bias ? this.buffer(bias) : null;
    return this.finish(out, 'conv3d', () =>
      this.context.conv3d(this.buffer(out), this.buffer(x), this.buffer(weight), biasBuffer, call),
    );
  }

  async activation(x: Tensor, activation: Activation) {
    checkActivation(activation);
    requireDType(x, 'float32', 'activation input x');
    const out = this.output(x.shape, 'float32');
    const code = ACTIVATION_CODES[activation.kind];
    const alpha = activationAlpha(activation);
    return this.finish(out, 'activation', () =>
      this.context.activation(this.buffer(out), this.buffer(x), x.size, code, alpha),
    );
  }

  async instanceNorm(
    x: Tensor,
    options: { eps: number; scale?: Tensor; shift?: Tensor; activation?: Activation },
  ) {
    requireRank(x, 5, 'instanceNorm input x (N, C, D, H, W)');
    requireDType(x, 'float32', 'instanceNorm input x');
    const [n, channels, d, h, w] = x.shape;
    const activation = options.activation ?? { kind: 'linear' };
    checkActivation(activation);
    const scale = options.scale ? this.channelVector(options.scale, channels, 'scale') : null;
    const shift = options.shift ? this.channelVector(options.shift, channels, 'shift') : null;
    const out = this.output(x.shape, 'float32');
    const code = ACTIVATION_CODES[activation.kind];
    const alpha = activationAlpha(activation);
    return this.finish(out, 'instanceNorm', () =>
      this.context.instanceNorm(
        ...([this.buffer(out), this.buffer(x), scale, shift] as const),
        ...([n, channels, d * h * w, options.eps, code, alpha] as const),
      ),
    );
  }

  async softmax(x: Tensor) {
    requireRank(x, 5, 'softmax input x (N, C, D, H, W)');
    requireDType(x, 'float32', 'softmax input x');
    const [n, channels, d, h, w] = x.shape;
    const out = this.output(x.shape, 'float32');
    return this.finish(out, 'softmax', () =>
      this.context.softmax(this.buffer(out), this.buffer(x), n, channels, d * h * w),
    );
  }

  async argmax(x: Tensor) {
    requireRank(x, 5, 'argmax input x (N, C, D, H, W)');
    requireDType(x, 'float32', 'argmax input x');
    const [n, channels, d, h, w] = x.shape;
    const out = this.output([n, d, h, w], 'int32');
    return this.finish(out, 'argmax', () =>
      this.context.argmax(this.buffer(out), this.buffer(x), n, channels, d * h * w),
    );
  }

  async labelConfusion(
    pred: Tensor,
    ref: Tensor,
    numLabels: number,
    ignoreLabel?: number,
  ): Promise<LabelCounts> {
    requireLabels(pred, 'labelConfusion pred');
    requireLabels(ref, 'labelConfusion ref');
    requireSameShape(pred, ref, ['pred', 'ref']);
    if (pred.dtype !== ref.dtype) {
      throw new VoxsegError(
        `expected pred and ref of one dtype, received ${pred.dtype} and ${ref.dtype}`,
      );
    }
    if (!Number.isInteger(numLabels) || numLabels < 1) {
      throw new VoxsegError(`expected a positive integer for numLabels, received ${numLabels}`);
    }
    if (ignoreLabel !== undefined && !Number.isInteger(ignoreLabel)) {
      throw new VoxsegError(`expected an integer for ignoreLabel, received ${ignoreLabel}`);
    }
    const counts = await this.run('labelConfusion', () =>
      this.context.labelConfusion(
        ...([this.buffer(pred), this.buffer(ref), labelBytes(pred.dtype)] as const),
        ...([pred.size, numLabels, ignoreLabel ?? null] as const),
      ),
    );
    if (counts.firstInvalid >= 0) {
      throw new VoxsegError(
        `expected labels in [0, ${numLabels}) for voxel ${counts.firstInvalid}, received pred ` +
          `${counts.invalidPred}, ref ${counts.invalidRef}`,
      );
    }
    const total = counts.ref.reduce((sum, count) => sum + count, 0);
    const fp = counts.pred.map((count, l) => count - counts.tp[l]);
    const fn = counts.ref.map((count, l) => count - counts.tp[l]);
    return { tp: counts.tp, fp, fn, total };
  }

  async softDice(probs: Tensor, target: Tensor): Promise<SoftDiceSums> {
    requireRank(probs, 5, 'softDice probs (N, C, D, H, W)');
    requireDType(probs, 'float32', 'softDice probs');
    requireLabels(target, 'softDice target');
    const [n, channels, d, h, w] = probs.shape;
    const expected = [n, d, h, w];
    if (target.shape.join() !== expected.join()) {
      throw new VoxsegError(
        `shape mismatch: softDice probs ${formatShape(probs.shape)} vs target ` +
          `${formatShape(target.shape)} (expected ${formatShape(expected)})`,
      );
    }
    return this.run('softDice', () =>
      this.context.softDice(
        ...([this.buffer(probs), this.buffer(target), labelBytes(target.dtype)] as const),
        ...([n, channels, d * h * w] as const),
      ),
    );
  }

  /** Squared EDT per batch item. mask: (N, D, H, W) labels -> float32 (N, D, H, W), mm^2. */
  async distanceTransform(mask: Tensor, spacing: readonly [number, number, number]) {
    requireRank(mask, 4, 'distanceTransform mask (N, D, H, W)');
    requireLabels(mask, 'distanceTransform mask');
    const steps = distanceSpacing(spacing);
    const [n, d, h, w] = mask.shape;
    const out = this.output(mask.shape, 'float32');
    return this.finish(out, 'distanceTransform', () =>
      this.context.distanceTransform(
        ...([this.buffer(out), this.buffer(mask), labelBytes(mask.dtype)] as const),
        ...([n, d, h, w, ...steps] as const),
      ),
    );
  }

  async slice(x: Tensor, axis: number, start: number, size: number) {
    const shape = sliceShape(x, axis, start, size);
    const out = this.output(shape, x.dtype);
    return this.copyInto(out, [x], [sliceCopy(x.shape, x.dtype, axis, start, size)], 'slice');
  }

  async concat(xs: readonly Tensor[], axis: number) {
    const shape = concatShape(xs, axis);
    const out = this.output(shape, xs[0].dtype);
    const copies = concatCopies(
      xs.map((x) => x.shape),
      shape,
      xs[0].dtype,
      axis,
    );
    return this.copyInto(out, xs, copies, 'concat');
  }

  async dispose(): Promise<void> {
    this.context.dispose();
  }

  /** A new tensor of `shape` and `dtype` on the device, memory filled as `fill` says. */
  private allocate(shape: readonly number[], dtype: DType, fill: 'none' | 'zero' | 'nan' | 'a5') {
    const bytes = shapeSize(shape) * DTYPE_BYTES[dtype];
    const buffer = this.context.alloc(bytes, fill);
    this.memoryTracker.allocate(bytes);
    return makeTensor(this.name, shape, dtype, buffer);
  }

  /** An op's output: poisoned (NaN or 0xA5 bytes) when VOXSEG_POISON=1. */
  private output(shape: readonly number[], dtype: DType): Tensor {
    const poison = dtype === 'float32' ? 'nan' : 'a5';
    return this.allocate(shape, dtype, poisonOutputs() ? poison : 'none');
  }

  /** Run `launch`; on failure release `out` and rethrow as a runtime error. */
  private async finish(out: Tensor, op: string, launch: () => Promise<void>): Promise<Tensor> {
    try {
      await this.run(op, launch);
      return out;
    } catch (error) {
      this.release(out);
      throw error;
    }
  }

  /** Await an addon call; its error becomes a BackendRuntimeError with this stack. */
  private async run<T>(op: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof VoxsegError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new BackendRuntimeError(`cuda ${op} failed: ${reason}`, { cause: error });
    }
  }

  private copyInto(out: Tensor, sources: readonly Tensor[], copies: BlockCopy[], op: string) {
    const dst = this.buffer(out);
    return this.finish(out, op, async () => {
      const queued = copies.map((c) =>
        this.context.copyBlocks(
          ...([dst, c.dstOffset, this.buffer(sources[c.source]), c.srcOffset] as const),
          ...([c.blocks, c.blockBytes, c.dstStride, c.srcStride] as const),
        ),
      );
      await Promise.all(queued);
    });
  }

  private channelVector(t: Tensor, channels: number, role: string): CudaBuffer {
    requireDType(t, 'float32', `instanceNorm ${role}`);
    if (t.shape.length !== 1 || t.shape[0] !== channels) {
      throw new VoxsegError(
        `expected shape (${channels}) for instanceNorm ${role}, received ${formatShape(t.shape)}`,
      );
    }
    return this.buffer(t);
  }

  private buffer(tensor: Tensor): CudaBuffer {
    if (tensor.backend !== this.name) {
      throw new VoxsegError(`expected a cuda tensor, received one from ${tensor.backend}`);
    }
    if (tensor.released) throw new VoxsegError(`tensor ${tensor.id} was used after release`);
    return tensor.handle as CudaBuffer;
  }
}

/** 13000 -> "13.0", 12040 -> "12.4"; "none" for 0. */
export function cudaVersion(version: number): string {
  if (!version) return 'none';
  return `${Math.floor(version / 1000)}.${Math.floor((version % 1000) / 10)}`;
}
