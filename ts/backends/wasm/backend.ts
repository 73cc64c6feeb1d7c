/**
 * The wasm backend class: tensors in the module's linear memory, each op checked with the
 * shared shape rules, then run by the op modules (conv3d.ts, ops.ts, metrics.ts) on the main
 * thread or split over the thread pool.
 */
import { checkActivation } from '../../engine/activations.js';
import type {
  Activation,
  Backend,
  BackendInfo,
  Conv3dParams,
  LabelCounts,
  SoftDiceSums,
} from '../../engine/backend.js';
import { ALL_OPS, distanceSpacing } from '../../engine/backend.js';
import { expected, VoxsegError } from '../../engine/errors.js';
import { poisonOutputs } from '../../engine/memory.js';
import {
  axisSplit,
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
import type { WasmContext } from './context.js';
import { runConv3d } from './conv3d.js';
import { runDistanceTransform } from './edt.js';
import { MAX_BLOCK_BYTES, type WasmHeap } from './heap.js';
import { type LabelMap, runLabelConfusion, runSoftDice } from './metrics.js';
import { copyRows, runActivation, runChannelKernel, runInstanceNorm } from './ops.js';

/** Where a tensor's data lives in wasm memory. */
interface WasmStorage {
  ptr: number;
  bytes: number;
  /** The heap of the backend instance that owns the block. */
  owner: WasmHeap;
}

const MAX_LABELS = 2 ** 24;

const UNSUPPORTED = [
  'a tensor over 1 GiB: the AssemblyScript allocator hands out blocks up to 1 GiB',
  'more than 4 GiB of live tensors: wasm32 linear memory ends at 4 GiB',
  'labelConfusion with more than 2^24 labels: one count block per thread must fit in memory',
];

/**
 * The wasm backend; make one with {@link createWasmBackend}.
 *
 * @example
 * const wasm = await createWasmBackend({ threads: 1 });
 * const x = await wasm.upload(new Float32Array(8), [1, 1, 2, 2, 2]);
 */
export class WasmBackend implements Backend {
  readonly name = 'wasm' as const;
  readonly ops = ALL_OPS;
  readonly unsupported: readonly string[] = UNSUPPORTED;
  private readonly deferred: number[] = [];
  private opsInFlight = 0;
  private disposed = false;

  /** @internal use {@link createWasmBackend}. */
  constructor(
    private readonly ctx: WasmContext,
    private readonly build: { relaxedSimd: boolean; singleThreadReason: string },
  ) {}

  /** Threads, SIMD level, reserved memory and packed weights. */
  info(): BackendInfo {
    const threads = this.ctx.executor.threads;
    const { relaxedSimd, singleThreadReason } = this.build;
    const details: BackendInfo['details'] = {
      threads,
      simd: true,
      relaxedSimd,
      reservedBytes: this.ctx.heap.reservedBytes(),
      packedWeights: this.ctx.weights.size,
    };
    if (singleThreadReason) details.singleThreadReason = singleThreadReason;
    const simd = relaxedSimd ? 'relaxed SIMD (fused multiply-add)' : 'SIMD';
    const plural = threads === 1 ? 'thread' : 'threads';
    return {
      name: this.name,
      description: `WebAssembly ${simd} (AssemblyScript), ${threads} ${plural}`,
      details,
    };
  }

  /** Bytes of live tensors, packed weights and op temporaries; peak since creation. */
  memory() {
    return this.ctx.heap.stats();
  }

  /** Start a new peak window. */
  resetPeak(): void {
    this.ctx.heap.resetPeak();
  }

  /** Copy host data into wasm memory; the dtype follows the array. */
  async upload(data: HostArray, shape: readonly number[]): Promise<Tensor> {
    const dtype = dtypeOf(data);
    if (!dtype) throw new VoxsegError('expected a Float32/Int32/Uint8/Uint16Array for upload');
    if (shapeSize(shape) !== data.length) {
      throw new VoxsegError(
        `expected ${shapeSize(shape)} elements for shape [${shape}], received ${data.length}`,
      );
    }
    const tensor = this.allocate(shape, dtype, false);
    const source = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.ctx.heap.bytes(this.storage(tensor).ptr, data.byteLength).set(source);
    return tensor;
  }

  /** Copy a tensor out of wasm memory, into `into` when given. */
  async download(tensor: Tensor, into?: HostArray): Promise<HostArray> {
    const { ptr, bytes } = this.storage(tensor);
    const out = downloadTarget(tensor, into);
    new Uint8Array(out.buffer, out.byteOffset, bytes).set(this.ctx.heap.bytes(ptr, bytes));
    return out;
  }

  /** A tensor of zeros. */
  async zeros(shape: readonly number[], dtype: DType): Promise<Tensor> {
    const tensor = this.allocate(shape, dtype, false);
    const { ptr, bytes } = this.storage(tensor);
    this.ctx.heap.bytes(ptr, bytes).fill(0);
    return tensor;
  }

  /** Free a tensor (and its packed weights); idempotent; other instances' tensors are ignored. */
  release(tensor: Tensor): void {
    if (tensor.released || tensor.backend !== this.name) return;
    const { ptr, owner } = tensor.handle as WasmStorage;
    if (owner !== this.ctx.heap) return;
    tensor.released = true;
    this.ctx.weights.drop(tensor.id);
    // An op in flight may still read it (ops await between kernel runs): free it afterwards.
    if (this.opsInFlight > 0) this.deferred.push(ptr);
    else this.ctx.heap.free(ptr);
  }

  /**
   * x: (N, Cin, D, H, W); weight: (Cout, Cin / groups, KD, KH, KW); bias: (Cout) or null
   * -> (N, Cout, D', H', W').
   */
  async conv3d(x: Tensor, weight: Tensor, bias: Tensor | null, params: Conv3dParams) {
    return this.track(async () => {
      checkActivation(params.activation);
      const outShape = conv3dOutputShape(x, weight, bias, params);
      requireDType(weight, 'float32', 'conv3d weight');
      if (bias) requireDType(bias, 'float32', 'conv3d bias');
      const ptrs = {
        x: this.storage(x).ptr,
        weight: this.storage(weight).ptr,
        bias: bias ? this.storage(bias).ptr : null,
      };
      const out = this.allocate(outShape, 'float32');
      const all = { ...ptrs, out: this.storage(out).ptr };
      await runConv3d(this.ctx, x, weight, all, params, outShape);
      return out;
    });
  }

  /** Element-wise activation; x: any shape, float32. */
  async activation(x: Tensor, activation: Activation) {
    return this.track(async () => {
      checkActivation(activation);
      requireDType(x, 'float32', 'activation input x');
      const input = this.storage(x).ptr;
      const out = this.allocate(x.shape, 'float32');
      await runActivation(this.ctx, input, this.storage(out).ptr, x.size, activation);
      return out;
    });
  }

  /** x: (N, C, D, H, W); scale, shift: (C) -> (N, C, D, H, W). */
  async instanceNorm(
    x: Tensor,
    options: { eps: number; scale?: Tensor; shift?: Tensor; activation?: Activation },
  ) {
    return this.track(async () => {
      requireRank(x, 5, 'instanceNorm input x (N, C, D, H, W)');
      requireDType(x, 'float32', 'instanceNorm input x');
      const activation = options.activation ?? { kind: 'linear' };
      checkActivation(activation);
      const [n, c, d, h, w] = x.shape;
      const pointers = {
        eps: options.eps,
        scale: this.channelVector(options.scale, c, 'instanceNorm scale'),
        shift: this.channelVector(options.shift, c, 'instanceNorm shift'),
        activation,
      };
      const input = this.storage(x).ptr;
      const out = this.allocate(x.shape, 'float32');
      await runInstanceNorm(
        this.ctx,
        input,
        this.storage(out).ptr,
        { n, c, s: d * h * w },
        pointers,
      );
      return out;
    });
  }

  /** Softmax over channels. x: (N, C, D, H, W) -> (N, C, D, H, W). */
  async softmax(x: Tensor) {
    return this.track(async () => {
      const shape = this.channelShape(x, 'softmax input x (N, C, D, H, W)');
      const input = this.storage(x).ptr;
      const out = this.allocate(x.shape, 'float32');
      await runChannelKernel(
        this.ctx,
        'softmax_channels',
        input,
        this.storage(out).ptr,
        shape,
        shape.c,
      );
      return out;
    });
  }

  /** Argmax over channels, ties to the lower index. x: (N, C, D, H, W) -> int32 (N, D, H, W). */
  async argmax(x: Tensor) {
    return this.track(async () => {
      const shape = this.channelShape(x, 'argmax input x (N, C, D, H, W)');
      const input = this.storage(x).ptr;
      const [n, , d, h, w] = x.shape;
      const out = this.allocate([n, d, h, w], 'int32');
      await runChannelKernel(this.ctx, 'argmax_channels', input, this.storage(out).ptr, shape, 1);
      return out;
    });
  }

  /** Per-label TP, FP, FN of pred, ref: (N, D, H, W) uint8 / uint16 / int32 label maps. */
  async labelConfusion(
    pred: Tensor,
    ref: Tensor,
    numLabels: number,
    ignoreLabel?: number,
  ): Promise<LabelCounts> {
    return this.track(async () => {
      requireLabels(pred, 'labelConfusion pred');
      requireLabels(ref, 'labelConfusion ref');
      requireSameShape(pred, ref, ['pred', 'ref']);
      if (!(Number.isInteger(numLabels) && numLabels >= 1 && numLabels <= MAX_LABELS)) {
        throw expected(`an integer in [1, ${MAX_LABELS}]`, 'numLabels', numLabels);
      }
      const maps = [pred, ref].map((t) => this.labelMap(t));
      return runLabelConfusion(this.ctx, maps[0], maps[1], pred.size, numLabels, ignoreLabel);
    });
  }

  /** Soft Dice sums per channel. probs: (N, C, D, H, W) float32; target: (N, D, H, W) labels. */
  async softDice(probs: Tensor, target: Tensor): Promise<SoftDiceSums> {
    return this.track(async () => {
      const shape = this.channelShape(probs, 'softDice probs (N, C, D, H, W)');
      requireLabels(target, 'softDice target');
      const [n, , d, h, w] = probs.shape;
      const expectedShape = [n, d, h, w];
      if (target.shape.join() !== expectedShape.join()) {
        throw new VoxsegError(
          `shape mismatch: softDice probs ${formatShape(probs.shape)} vs target ` +
            `${formatShape(target.shape)} (expected ${formatShape(expectedShape)})`,
        );
      }
      return runSoftDice(this.ctx, this.storage(probs).ptr, this.labelMap(target), shape);
    });
  }

  /** [start, start + size) along `axis`, any dtype. */
  async slice(x: Tensor, axis: number, start: number, size: number) {
    const shape = sliceShape(x, axis, start, size);
    const source = this.storage(x).ptr;
    const { outer, inner } = axisSplit(x.shape, axis);
    const element = DTYPE_BYTES[x.dtype];
    const out = this.allocate(shape, x.dtype);
    copyRows(this.ctx, this.storage(out).ptr, source + start * inner * element, {
      rowBytes: size * inner * element,
      rows: outer,
      dstStride: size * inner * element,
      srcStride: x.shape[axis] * inner * element,
    });
    return out;
  }

  /** Join along `axis`; other dimensions and the dtype must agree. */
  async concat(xs: readonly Tensor[], axis: number) {
    const shape = concatShape(xs, axis);
    const sources = xs.map((x) => this.storage(x).ptr);
    const { outer, inner } = axisSplit(shape, axis);
    const element = DTYPE_BYTES[xs[0].dtype];
    const out = this.allocate(shape, xs[0].dtype);
    let offset = this.storage(out).ptr;
    xs.forEach((x, i) => {
      const rowBytes = x.shape[axis] * inner * element;
      copyRows(this.ctx, offset, sources[i], {
        rowBytes,
        rows: outer,
        dstStride: shape[axis] * inner * element,
        srcStride: rowBytes,
      });
      offset += rowBytes;
    });
    return out;
  }

  /** Squared EDT per batch item. mask: (N, D, H, W) labels -> float32 (N, D, H, W), mm^2. */
  async distanceTransform(mask: Tensor, spacing: readonly [number, number, number]) {
    return this.track(async () => {
      requireRank(mask, 4, 'distanceTransform mask (N, D, H, W)');
      requireLabels(mask, 'distanceTransform mask');
      const steps = distanceSpacing(spacing);
      const labels = this.labelMap(mask);
      const out = this.allocate(mask.shape, 'float32');
      await runDistanceTransform(this.ctx, labels, this.storage(out).ptr, mask.shape, steps);
      return out;
    });
  }

  /** Terminate the workers and free every block; the backend is unusable afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx.executor.dispose();
    this.ctx.heap.freeAll();
  }

  /** A new tensor in wasm memory, poisoned (NaN / 0xA5 bytes) when poisonOutputs() is on. */
  private allocate(shape: readonly number[], dtype: DType, poison = true): Tensor {
    this.requireLive();
    const bytes = shapeSize(shape) * DTYPE_BYTES[dtype];
    const role = `a ${dtype} tensor of shape ${formatShape(shape)}`;
    if (bytes > MAX_BLOCK_BYTES) throw expected('at most 1 GiB', 'tensor size', `${bytes} bytes`);
    const ptr = this.ctx.heap.alloc(bytes, role);
    if (poison && poisonOutputs()) {
      if (dtype === 'float32') this.ctx.heap.f32(ptr, bytes / 4).fill(NaN);
      else this.ctx.heap.bytes(ptr, bytes).fill(0xa5);
    }
    const storage: WasmStorage = { ptr, bytes, owner: this.ctx.heap };
    return makeTensor(this.name, shape, dtype, storage);
  }

  /** The storage of a live tensor of this backend. */
  private storage(tensor: Tensor): WasmStorage {
    this.requireLive();
    if (tensor.backend !== this.name) {
      throw new VoxsegError(`expected a wasm tensor, received one from ${tensor.backend}`);
    }
    if (tensor.released) throw new VoxsegError(`tensor ${tensor.id} was used after release`);
    const storage = tensor.handle as WasmStorage;
    if (storage.owner !== this.ctx.heap) {
      throw new VoxsegError(`tensor ${tensor.id} belongs to another wasm backend instance`);
    }
    return storage;
  }

  private labelMap(tensor: Tensor): LabelMap {
    return { ptr: this.storage(tensor).ptr, dtype: tensor.dtype as LabelMap['dtype'] };
  }

  /** (N, C, S) of a rank-5 float32 tensor. */
  private channelShape(x: Tensor, role: string) {
    requireRank(x, 5, role);
    requireDType(x, 'float32', role);
    const [n, c, d, h, w] = x.shape;
    return { n, c, s: d * h * w };
  }

  /** Pointer of an optional (C) float32 vector, 0 when absent. */
  private channelVector(t: Tensor | undefined, channels: number, role: string): number {
    if (!t) return 0;
    requireDType(t, 'float32', role);
    if (t.shape.length !== 1 || t.shape[0] !== channels) {
      throw expected(`shape (${channels})`, role, formatShape(t.shape));
    }
    return this.storage(t).ptr;
  }

  /** Count an op in flight; blocks released meanwhile are freed when none is left. */
  private async track<T>(body: () => Promise<T>): Promise<T> {
    this.opsInFlight++;
    try {
      return await body();
    } finally {
      if (--this.opsInFlight === 0) {
        for (const ptr of this.deferred.splice(0)) this.ctx.heap.free(ptr);
      }
    }
  }

  private requireLive(): void {
    if (this.disposed) throw new VoxsegError('the wasm backend was disposed');
  }
}
