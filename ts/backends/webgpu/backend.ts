/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend: tensors in GPU storage buffers, every op a WGSL kernel from
 * kernels/wgsl. Float tensors hold float32; label maps keep their host bytes packed in u32
 * words (int32 one per word, uint16 two, uint8 four), padded to a whole word.
 *
 * Tensors larger than one storage binding (maxStorageBufferBindingSize, 128 MiB on some
 * adapters) are processed in windows; a tensor must still fit one buffer (maxBufferSize).
 */
import { checkActivation } from '../../engine/activations.js';
import type {
  Activation,
  Backend,
  BackendInfo,
  Conv3dParams,
  LabelCounts,
  MemoryStats,
  SoftDiceSums,
} from '../../engine/backend.js';
import { ALL_OPS, distanceSpacing } from '../../engine/backend.js';
import { VoxsegError } from '../../engine/errors.js';
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
  type DType,
  DTYPE_BYTES,
  dtypeOf,
  formatShape,
  type HostArray,
  makeTensor,
  shapeSize,
  type Tensor,
} from '../../engine/tensor.js';
import { type AutoDecision, softwareAdapter } from './calibration.js';
import { type AcquiredDevice, acquireDevice, type AdapterFacts, planningLimits } from './device.js';
import { gpuProviders } from './providers.js';
import { GpuContext } from './gpu.js';
import { argmaxWebGpu, softmaxWebGpu } from './ops/channels.js';
import { conv3dWebGpu } from './ops/conv3d.js';
import { concatWebGpu, sliceWebGpu } from './ops/copy.js';
import { distanceTransformWebGpu } from './ops/edt.js';
import type { OpEnv } from './ops/env.js';
import { labelConfusionWebGpu, softDiceWebGpu, type StagedResult } from './ops/labels.js';
import { activationWebGpu, type InstanceNormOptions, instanceNormWebGpu } from './ops/normalise.js';
import { fillPoison } from './poison.js';

const DEFAULT_POOL_BYTES = 256 * 2 ** 20;

/** Options of a WebGPU backend. */
export interface WebGpuOptions {
  /**
   * Largest storage binding the tiler uses, in bytes (default: the device's
   * maxStorageBufferBindingSize). Lower it to exercise tiling on small tensors.
   */
  maxBindingBytes?: number;
  /** Bytes of released buffers kept for reuse (default 256 MiB). */
  poolBytes?: number;
}

/** The handle of a WebGPU tensor. */
interface GpuStorage {
  buffer: GPUBuffer;
}

/**
 * The `webgpu` backend (see the module comment). Create it through the registry
 * (`getBackend('webgpu')`) or with {@link createWebGpuBackend}; `dispose()` destroys the
 * device and every buffer.
 *
 * @example
 * const gpu = await createWebGpuBackend();
 * const x = await gpu.upload(volume, [1, 1, 64, 64, 64]); // (N, C, D, H, W)
 * const y = await gpu.conv3d(x, weight, bias, conv3dParams({ padding: [1, 1, 1] }));
 * const out = await gpu.download(y);
 */
export class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly ops = ALL_OPS;
  readonly unsupported: readonly string[];
  /** The adapter this backend runs on. */
  readonly adapter: AdapterFacts;
  /** auto's verdict on this adapter once known (set by the factory's veto). */
  autoDecision: AutoDecision | null = null;
  /** The GPU context (device, limits, pools); exposed for diagnostics and tests. */
  readonly gpu: GpuContext;
  private readonly memoryTracker = new MemoryTracker();
  private readonly live = new Set<Tensor>();
  private readonly via: string;
  /** Keeps the provider's GPU object (Dawn's instance) alive as long as the device. */
  private readonly owner: unknown;

  /**
   * @param acquired - the device and adapter from acquireDevice.
   * @param options - tiling limit and pool size.
   */
  constructor(acquired: AcquiredDevice, options: WebGpuOptions = {}) {
    const limits = planningLimits(acquired.device, options.maxBindingBytes);
    this.gpu = new GpuContext(acquired.device, limits, options.poolBytes ?? DEFAULT_POOL_BYTES);
    this.adapter = acquired.facts;
    this.via = acquired.via;
    this.owner = acquired.owner;
    const bufferBytes = this.gpu.limits.bufferBytes;
    this.unsupported = [
      `tensors over ${bufferBytes} bytes (this adapter's maxBufferSize)`,
      'conv3d kernels of more than 512 taps, KD x KH x KW (workgroup memory)',
      'conv3d whose input rows for one output row exceed a storage binding',
      'distanceTransform of a batch item larger than one storage binding (its D lines span it)',
    ];
  }

  info(): BackendInfo {
    const a = this.adapter;
    const limits = this.gpu.device.limits;
    const name = [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unknown';
    return {
      name: this.name,
      description: `${name} (${a.description || 'no description'}) via ${this.via}`,
      details: {
        ...{ vendor: a.vendor, architecture: a.architecture, device: a.device },
        ...{ adapterDescription: a.description, isFallbackAdapter: a.isFallbackAdapter },
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
        tilingBindingBytes: this.gpu.limits.bindingBytes,
        liveBuffers: this.gpu.pool.stats().liveBuffers,
        ...this.autoVerdict(),
      },
    };
  }

  /** What auto would do with this adapter as far as is known now, and why. */
  private autoVerdict(): { autoPick: boolean | 'not measured yet'; autoReason: string } {
    if (this.autoDecision)
      return { autoPick: this.autoDecision.pick, autoReason: this.autoDecision.reason };
    const software = softwareAdapter(this.adapter);
    if (software)
      return { autoPick: false, autoReason: `${software} is slower than the CPU backends` };
    const why = 'auto times a short conv3d against the CPU backend when it first probes webgpu';
    return { autoPick: 'not measured yet', autoReason: why };
  }

  memory(): MemoryStats {
    return this.memoryTracker.stats();
  }

  resetPeak(): void {
    this.memoryTracker.resetPeak();
  }

  async upload(data: HostArray, shape: readonly number[]): Promise<Tensor> {
    const dtype = dtypeOf(data);
    if (!dtype) throw new VoxsegError('expected a Float32/Int32/Uint8/Uint16Array for upload');
    if (shapeSize(shape) !== data.length) {
      throw new VoxsegError(
        `expected ${shapeSize(shape)} elements for shape [${shape}], received ${data.length}`,
      );
    }
    return this.produce('upload', (env) => {
      const tensor = env.output(shape, dtype, false);
      writePadded(this.gpu.device, env.buffer(tensor), data);
      return tensor;
    });
  }

  async download(tensor: Tensor, into?: HostArray): Promise<HostArray> {
    const buffer = this.storage(tensor).buffer;
    const bytes = tensor.size * DTYPE_BYTES[tensor.dtype];
    if (into) downloadTarget(tensor, into); // checked before the read
    const data = await this.gpu.read('download', buffer, 0, bytes);
    const view = hostView(tensor.dtype, data);
    if (!into) return view;
    into.set(view as never);
    return into;
  }

  async zeros(shape: readonly number[], dtype: DType): Promise<Tensor> {
    return this.produce('zeros', (env) => {
      const tensor = env.output(shape, dtype, false);
      this.gpu.clear('zeros', env.buffer(tensor));
      return tensor;
    });
  }

  release(tensor: Tensor): void {
    if (tensor.released || !this.live.delete(tensor)) return;
    tensor.released = true;
    this.memoryTracker.free(tensor.size * DTYPE_BYTES[tensor.dtype]);
    this.gpu.pool.release((tensor.handle as GpuStorage).buffer);
  }

  async conv3d(x: Tensor, weight: Tensor, bias: Tensor | null, params: Conv3dParams) {
    checkActivation(params.activation);
    const outShape = conv3dOutputShape(x, weight, bias, params);
    this.floats([x, weight, ...(bias ? [bias] : [])], 'conv3d');
    return this.produce('conv3d', (env) => conv3dWebGpu(env, x, weight, bias, params, outShape));
  }

  async activation(x: Tensor, activation: Activation) {
    checkActivation(activation);
    this.floats([x], 'activation');
    return this.produce('activation', (env) => activationWebGpu(env, x, activation));
  }

  async instanceNorm(x: Tensor, options: InstanceNormOptions) {
    requireRank(x, 5, 'instanceNorm input x (N, C, D, H, W)');
    if (options.activation) checkActivation(options.activation);
    const affine = [options.scale, options.shift].filter((t): t is Tensor => !!t);
    this.floats([x, ...affine], 'instanceNorm');
    for (const t of affine) requireChannels(t, x.shape[1], 'instanceNorm scale/shift');
    return this.produce('instanceNorm', (env) => instanceNormWebGpu(env, x, options));
  }

  async softmax(x: Tensor) {
    requireRank(x, 5, 'softmax input x (N, C, D, H, W)');
    this.floats([x], 'softmax');
    return this.produce('softmax', (env) => softmaxWebGpu(env, x));
  }

  async argmax(x: Tensor) {
    requireRank(x, 5, 'argmax input x (N, C, D, H, W)');
    this.floats([x], 'argmax');
    return this.produce('argmax', (env) => argmaxWebGpu(env, x));
  }

  async labelConfusion(pred: Tensor, ref: Tensor, numLabels: number, ignoreLabel?: number) {
    requireLabels(pred, 'labelConfusion pred');
    requireLabels(ref, 'labelConfusion ref');
    requireSameShape(pred, ref, ['pred', 'ref']);
    this.storage(pred);
    this.storage(ref);
    if (!Number.isInteger(numLabels) || numLabels < 1) {
      throw new VoxsegError(`expected a positive integer for numLabels, received ${numLabels}`);
    }
    if (ignoreLabel !== undefined && !Number.isInteger(ignoreLabel)) {
      throw new VoxsegError(`expected an integer for ignoreLabel, received ${ignoreLabel}`);
    }
    return this.staged<LabelCounts>('labelConfusion', (env) =>
      labelConfusionWebGpu(env, pred, ref, numLabels, ignoreLabel),
    );
  }

  async softDice(probs: Tensor, target: Tensor): Promise<SoftDiceSums> {
    requireRank(probs, 5, 'softDice probs (N, C, D, H, W)');
    requireLabels(target, 'softDice target');
    this.floats([probs], 'softDice');
    this.storage(target);
    const [n, , d, h, w] = probs.shape;
    if (formatShape(target.shape) !== formatShape([n, d, h, w])) {
      throw new VoxsegError(
        `shape mismatch: softDice target ${formatShape(target.shape)} vs probs ` +
          `${formatShape(probs.shape)} (expected ${formatShape([n, d, h, w])})`,
      );
    }
    return this.staged<SoftDiceSums>('softDice', (env) => softDiceWebGpu(env, probs, target));
  }

  async slice(x: Tensor, axis: number, start: number, size: number) {
    const shape = sliceShape(x, axis, start, size);
    this.storage(x);
    return this.produce('slice', (env) => sliceWebGpu(env, x, axis, start, shape));
  }

  async concat(xs: readonly Tensor[], axis: number) {
    const shape = concatShape(xs, axis);
    xs.forEach((x) => this.storage(x));
    return this.produce('concat', (env) => concatWebGpu(env, xs, axis, shape));
  }

  /** Squared EDT per batch item. mask: (N, D, H, W) labels -> float32 (N, D, H, W), mm^2. */
  async distanceTransform(mask: Tensor, spacing: readonly [number, number, number]) {
    requireRank(mask, 4, 'distanceTransform mask (N, D, H, W)');
    requireLabels(mask, 'distanceTransform mask');
    const steps = distanceSpacing(spacing);
    this.storage(mask);
    return this.produce('distanceTransform', (env) => distanceTransformWebGpu(env, mask, steps));
  }

  async dispose(): Promise<void> {
    for (const tensor of [...this.live]) this.release(tensor);
    this.gpu.dispose();
  }

  /**
   * Run one op's GPU work in the context's error scopes with an environment that allocates
   * outputs and scratch buffers; outputs are released if the op fails, scratch always.
   */
  private async produce<T>(op: string, work: (env: OpEnv & ProduceEnv) => Promise<T> | T) {
    const outputs: Tensor[] = [];
    const scratch: GPUBuffer[] = [];
    const env = {
      op,
      gpu: this.gpu,
      output: (shape: readonly number[], dtype: DType, poison = true) => {
        const tensor = this.allocate(shape, dtype, op, poison);
        outputs.push(tensor);
        return tensor;
      },
      scratch: (bytes: number, role: string) => {
        const buffer = this.gpu.pool.acquire(bytes, `${op}.${role}`);
        scratch.push(buffer);
        if (poisonOutputs()) fillPoison(this.gpu.device, buffer, 'float32');
        return buffer;
      },
      buffer: (tensor: Tensor) => this.storage(tensor).buffer,
    };
    try {
      return await this.gpu.scoped(op, () => work(env));
    } catch (error) {
      outputs.forEach((tensor) => this.release(tensor));
      throw error;
    } finally {
      scratch.forEach((buffer) => this.gpu.pool.release(buffer));
    }
  }

  /** Run an op that reads a result back: queue it in scope, then map outside the scope. */
  private async staged<T>(op: string, work: (env: OpEnv) => Promise<StagedResult<T>>) {
    const staged = await this.produce(op, work);
    const data = await this.gpu.mapRead(op, staged.staging, staged.bytes);
    return staged.finish(data);
  }

  private allocate(shape: readonly number[], dtype: DType, op: string, poison: boolean): Tensor {
    const bytes = shapeSize(shape) * DTYPE_BYTES[dtype];
    if (bytes > this.gpu.limits.bufferBytes) {
      throw new VoxsegError(
        `expected at most ${this.gpu.limits.bufferBytes} bytes for a webgpu tensor, received ` +
          `${formatShape(shape)} ${dtype} (${bytes} bytes)`,
        { hint: "this adapter's maxBufferSize; run on the wasm backend or process a smaller crop" },
      );
    }
    const buffer = this.gpu.pool.acquire(bytes, `${op}.output`);
    if (poison && poisonOutputs()) fillPoison(this.gpu.device, buffer, dtype);
    const tensor = makeTensor(this.name, shape, dtype, { buffer } satisfies GpuStorage);
    this.live.add(tensor);
    this.memoryTracker.allocate(bytes);
    return tensor;
  }

  private storage(tensor: Tensor): GpuStorage {
    if (tensor.backend !== this.name) {
      throw new VoxsegError(`expected a webgpu tensor, received one from ${tensor.backend}`);
    }
    if (tensor.released) throw new VoxsegError(`tensor ${tensor.id} was used after release`);
    return tensor.handle as GpuStorage;
  }

  private floats(tensors: readonly Tensor[], op: string): void {
    for (const tensor of tensors) {
      this.storage(tensor);
      requireDType(tensor, 'float32', `${op} tensor ${tensor.id}`);
    }
  }
}

/** Output allocation with poisoning optional (uploads and zeros fill their buffer anyway). */
interface ProduceEnv {
  output(shape: readonly number[], dtype: DType, poison?: boolean): Tensor;
}

function requireChannels(t: Tensor, channels: number, role: string): void {
  if (t.shape.length !== 1 || t.shape[0] !== channels) {
    throw new VoxsegError(
      `expected shape (${channels}) for ${role}, received ${formatShape(t.shape)}`,
    );
  }
}

/** Write host data into a buffer; a tail shorter than a word is padded with zeros. */
function writePadded(device: GPUDevice, buffer: GPUBuffer, data: HostArray): void {
  const whole = Math.floor(data.byteLength / 4) * 4;
  if (whole) device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, whole);
  if (whole < data.byteLength) {
    const tail = new Uint8Array(4);
    tail.set(new Uint8Array(data.buffer, data.byteOffset + whole, data.byteLength - whole));
    device.queue.writeBuffer(buffer, whole, tail);
  }
}

function hostView(dtype: DType, data: ArrayBuffer): HostArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(data);
    case 'int32':
      return new Int32Array(data);
    case 'uint8':
      return new Uint8Array(data);
    default:
      return new Uint16Array(data);
  }
}

/**
 * Create a WebGPU backend on the first registered provider that has an adapter.
 *
 * @param options - tiling limit and pool size.
 * @throws BackendUnavailableError with each provider's reason when there is no adapter.
 * @example
 * const gpu = await createWebGpuBackend({ maxBindingBytes: 1 << 20 });
 */
export async function createWebGpuBackend(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
  return new WebGpuBackend(await acquireDevice(gpuProviders()), options);
}
