/**
 * The reference backend: plain TypeScript over host typed arrays, written for clarity. It is
 * the oracle every other backend is tested against, not a backend for production speed.
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
import { VoxsegError } from '../../engine/errors.js';
import { MemoryTracker } from '../../engine/memory.js';
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
  allocHost,
  DTYPE_BYTES,
  type DType,
  dtypeOf,
  type HostArray,
  makeTensor,
  type Tensor,
} from '../../engine/tensor.js';
import { conv3dReference } from './conv3d.js';
import { distanceTransformReference } from './edt.js';
import {
  activationReference,
  argmaxReference,
  instanceNormReference,
  labelConfusionReference,
  softDiceReference,
  softmaxReference,
} from './ops.js';

export class ReferenceBackend implements Backend {
  readonly name = 'reference' as const;
  readonly ops = ALL_OPS;
  readonly unsupported: readonly string[] = [];
  private readonly memoryTracker = new MemoryTracker();

  info(): BackendInfo {
    return { name: this.name, description: 'plain TypeScript, single thread', details: {} };
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
    return this.wrap(data.slice(), shape);
  }

  async download(tensor: Tensor, into?: HostArray): Promise<HostArray> {
    const out = downloadTarget(tensor, into);
    out.set(this.data(tensor) as never);
    return out;
  }

  async zeros(shape: readonly number[], dtype: DType): Promise<Tensor> {
    return this.wrap(
      allocHost(
        dtype,
        shape.reduce((a, b) => a * b, 1),
      ),
      shape,
    );
  }

  release(tensor: Tensor): void {
    if (tensor.released) return;
    tensor.released = true;
    this.memoryTracker.free(tensor.size * DTYPE_BYTES[tensor.dtype]);
  }

  async conv3d(x: Tensor, weight: Tensor, bias: Tensor | null, params: Conv3dParams) {
    checkActivation(params.activation);
    const output = conv3dOutputShape(x, weight, bias, params);
    const shapes = { input: x.shape, weight: weight.shape, output };
    const biasData = bias ? this.float(bias) : null;
    const out = conv3dReference(this.float(x), this.float(weight), biasData, shapes, params);
    return this.wrap(out, output);
  }

  async activation(x: Tensor, activation: Activation) {
    checkActivation(activation);
    return this.wrap(activationReference(this.float(x), activation), x.shape);
  }

  async instanceNorm(
    x: Tensor,
    options: { eps: number; scale?: Tensor; shift?: Tensor; activation?: Activation },
  ) {
    requireRank(x, 5, 'instanceNorm input x (N, C, D, H, W)');
    const [, channels, d, h, w] = x.shape;
    const out = instanceNormReference(this.float(x), channels, d * h * w, {
      eps: options.eps,
      scale: options.scale && this.float(options.scale),
      shift: options.shift && this.float(options.shift),
      activation: options.activation,
    });
    return this.wrap(out, x.shape);
  }

  async softmax(x: Tensor) {
    requireRank(x, 5, 'softmax input x (N, C, D, H, W)');
    const [, channels, d, h, w] = x.shape;
    return this.wrap(softmaxReference(this.float(x), channels, d * h * w), x.shape);
  }

  async argmax(x: Tensor) {
    requireRank(x, 5, 'argmax input x (N, C, D, H, W)');
    const [n, channels, d, h, w] = x.shape;
    return this.wrap(argmaxReference(this.float(x), channels, d * h * w), [n, d, h, w]);
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
    return labelConfusionReference(this.data(pred), this.data(ref), numLabels, ignoreLabel);
  }

  async softDice(probs: Tensor, target: Tensor): Promise<SoftDiceSums> {
    requireRank(probs, 5, 'softDice probs (N, C, D, H, W)');
    requireLabels(target, 'softDice target');
    const [, channels, d, h, w] = probs.shape;
    return softDiceReference(this.float(probs), this.data(target), channels, d * h * w);
  }

  async slice(x: Tensor, axis: number, start: number, size: number) {
    const shape = sliceShape(x, axis, start, size);
    const { outer, inner } = axisSplit(x.shape, axis);
    const source = this.data(x);
    const out = allocHost(x.dtype, outer * size * inner);
    for (let o = 0; o < outer; o++) {
      const from = (o * x.shape[axis] + start) * inner;
      out.set(source.subarray(from, from + size * inner), o * size * inner);
    }
    return this.wrap(out, shape);
  }

  async concat(xs: readonly Tensor[], axis: number) {
    const shape = concatShape(xs, axis);
    const { outer, inner } = axisSplit(shape, axis);
    const out = allocHost(xs[0].dtype, outer * shape[axis] * inner);
    let offset = 0;
    for (const x of xs) {
      const block = x.shape[axis] * inner;
      const source = this.data(x);
      for (let o = 0; o < outer; o++) {
        out.set(source.subarray(o * block, (o + 1) * block), o * shape[axis] * inner + offset);
      }
      offset += block;
    }
    return this.wrap(out, shape);
  }

  /** Squared EDT per batch item. mask: (N, D, H, W) labels -> float32 (N, D, H, W), mm^2. */
  async distanceTransform(mask: Tensor, spacing: readonly [number, number, number]) {
    requireRank(mask, 4, 'distanceTransform mask (N, D, H, W)');
    requireLabels(mask, 'distanceTransform mask');
    const steps = distanceSpacing(spacing);
    return this.wrap(distanceTransformReference(this.data(mask), mask.shape, steps), mask.shape);
  }

  async dispose(): Promise<void> {}

  private wrap(data: HostArray, shape: readonly number[]): Tensor {
    const tensor = makeTensor(this.name, shape, dtypeOf(data)!, data);
    if (tensor.size !== data.length) {
      throw new VoxsegError(
        `expected ${tensor.size} elements for shape [${shape}], received ${data.length}`,
      );
    }
    this.memoryTracker.allocate(data.byteLength);
    return tensor;
  }

  private data(tensor: Tensor): HostArray {
    if (tensor.backend !== this.name) {
      throw new VoxsegError(`expected a reference tensor, received one from ${tensor.backend}`);
    }
    if (tensor.released) throw new VoxsegError(`tensor ${tensor.id} was used after release`);
    return tensor.handle as HostArray;
  }

  private float(tensor: Tensor): Float32Array {
    requireDType(tensor, 'float32', `tensor ${tensor.id}`);
    return this.data(tensor) as Float32Array;
  }
}
