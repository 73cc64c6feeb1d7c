/**
 * conv3d on the wasm backend: 3x3x3 stride-1 convolutions go to conv3d_winograd
 * (./conv3d-winograd.ts), 1x1x1 unpadded ones to conv3d_pointwise, the rest to conv3d_direct.
 * For conv3d_direct: plan the geometry, pack weights once per weight tensor, then per batch
 * item walk the output planes in slabs: pad the input planes the slab newly needs into a ring
 * (each plane once) and run conv3d_direct over the slab (assembly/conv3d.ts explains the
 * kernel's layout and blocking).
 *
 * The ring bounds the padded copy's memory: it holds as many planes per channel as a slab
 * of output planes reads, with slabs as deep as keep it under `padBudgetBytes` (at least the
 * kernel's depth reach, so a dilation of 16 never re-pads a plane).
 */
import { ACTIVATION_CODES, activationAlpha } from '../../engine/activations.js';
import type { Conv3dParams } from '../../engine/backend.js';
import type { Tensor } from '../../engine/tensor.js';
import { runItems, type WasmContext } from './context.js';
import type { WasmHeap } from './heap.js';
import type { WasmKernels } from './module.js';
import {
  channelBlocks,
  packWinogradWeights,
  runConv3dWinograd,
  winogradApplies,
} from './conv3d-winograd.js';

/** Field order of the Conv3dJob record in assembly/conv3d.ts (32-bit fields). */
export const JOB_FIELDS = [
  'x', 'ring', 'zero', 'cin', 'd', 'h', 'w', 'padD', 'padH', 'padW', 'ringDepth', 'padFrom',
  'padCount', 'hp', 'strideW', 'phaseLen', 'weights', 'planeTaps', 'tapsPerPlane', 'kd',
  'dilationD', 'dilationH', 'taps', 'bias', 'out', 'groups', 'ocBlocks', 'coutPerGroup', 'outZ',
  'oh', 'ow', 'owPad', 'strideD', 'strideH', 'outChannelStride', 'activation', 'alpha',
] as const; // prettier-ignore

type JobField = (typeof JOB_FIELDS)[number];

/** Sizes of one conv3d call, all derived once. */
interface ConvGeometry {
  n: number;
  cin: number;
  d: number;
  h: number;
  w: number;
  cout: number;
  groups: number;
  cinPerGroup: number;
  coutPerGroup: number;
  ocBlock: number;
  ocBlocks: number;
  kernel: [number, number, number];
  /** Taps per output: Cin / groups * KD * KH * KW. */
  taps: number;
  out: [number, number, number];
  /** OW rounded up to whole vectors. */
  owPad: number;
  /** Floats per phase of a padded row, and per padded row (strideW phases). */
  phaseLen: number;
  rowLen: number;
  /** Padded height. */
  hp: number;
  /** Output planes per slab, and padded planes per channel in the ring. */
  slabOut: number;
  ringDepth: number;
}

/** The buffers of one conv3d call in wasm memory. */
interface ConvBuffers {
  packed: number;
  bias: number;
  planeTaps: number;
  ring: number;
  zero: number;
  job: number;
  scratch: number;
}

/** A packed copy of one weight tensor: for conv3d_direct (per group count) or conv3d_winograd. */
interface PackedEntry {
  ptr: number;
  groups: number;
  /** conv3d_winograd only: the channel block table and its length. */
  blocks?: number;
  count?: number;
}

/**
 * Weights repacked for conv3d_direct or transformed for conv3d_winograd, at most one entry of
 * each kind per weight tensor, freed with the tensor.
 */
export class WeightCache {
  private readonly entries = new Map<number, PackedEntry>();
  private readonly winogradEntries = new Map<number, PackedEntry>();

  constructor(
    private readonly heap: WasmHeap,
    private readonly kernels: WasmKernels,
  ) {}

  /**
   * The packed copy of `weight` (Cout, Cin / groups, KD, KH, KW) for `groups`, packing it on
   * first use: (groups, ocBlocks, taps, OC_BLOCK) float32.
   */
  packed(weight: Tensor, weightPtr: number, geometry: ConvGeometry): number {
    const cached = this.entries.get(weight.id);
    if (cached?.groups === geometry.groups) return cached.ptr;
    if (cached) this.drop(weight.id);

    const { groups, ocBlocks, ocBlock, taps, coutPerGroup } = geometry;
    const ptr = this.heap.alloc(groups * ocBlocks * taps * ocBlock * 4, 'conv3d packed weights');
    this.kernels.conv3d_pack_weights(weightPtr, ptr, coutPerGroup, groups, taps);
    this.entries.set(weight.id, { ptr, groups });
    return ptr;
  }

  /**
   * The Winograd-transformed copy of `weight` (Cout, Cin, 3, 3, 3), made on first use: per
   * channel block (64, Cin, B) float32, and the block table (blocks, 4) int32 (first channel,
   * size, valid channels, float offset).
   */
  winograd(weight: Tensor, weightPtr: number, cout: number, cin: number) {
    let entry = this.winogradEntries.get(weight.id);
    if (!entry) {
      entry = this.transform(weightPtr, cout, cin);
      this.winogradEntries.set(weight.id, entry);
    }
    return { ptr: entry.ptr, blocks: entry.blocks!, count: entry.count! };
  }

  private transform(weightPtr: number, cout: number, cin: number): PackedEntry {
    const blocks = channelBlocks(cout);
    const weights = this.heap.f32(weightPtr, cout * cin * 27).slice();
    const packed = packWinogradWeights(weights, cout, cin, blocks);
    const ptr = this.heap.alloc(packed.byteLength + 16 * blocks.length, 'conv3d winograd weights');
    this.heap.f32(ptr, packed.length).set(packed);
    const table = ptr + packed.byteLength;
    let offset = 0;
    const rows = blocks.map((b) => [
      b.first,
      b.size,
      b.valid,
      (offset += 64 * cin * b.size) - 64 * cin * b.size,
    ]);
    this.heap.i32(table, 4 * blocks.length).set(rows.flat());
    return { ptr, groups: 1, blocks: table, count: blocks.length };
  }

  /** Forget (and free) the packed copies of a weight tensor, if any. */
  drop(tensorId: number): void {
    for (const entries of [this.entries, this.winogradEntries]) {
      const entry = entries.get(tensorId);
      if (!entry) continue;
      entries.delete(tensorId);
      this.heap.free(entry.ptr);
    }
  }

  /** Number of packed weight copies held. */
  get size(): number {
    return this.entries.size + this.winogradEntries.size;
  }
}

/**
 * out = act(conv3d(x, weight) + bias), written at `ptrs.out`.
 *
 * @param x - (N, Cin, D, H, W) at `ptrs.x`.
 * @param weight - (Cout, Cin / groups, KD, KH, KW) at `ptrs.weight`.
 * @param outShape - (N, Cout, OD, OH, OW), already checked by conv3dOutputShape.
 */
export async function runConv3d(
  ctx: WasmContext,
  x: Tensor,
  weight: Tensor,
  ptrs: { x: number; weight: number; bias: number | null; out: number },
  params: Conv3dParams,
  outShape: readonly number[],
): Promise<void> {
  if (winogradApplies(weight.shape, params, outShape)) {
    return runConv3dWinograd(ctx, x, weight, ptrs, params, outShape);
  }
  const g = convGeometry(x.shape, weight.shape, params, outShape, ctx);
  if (pointwiseApplies(weight.shape, params)) return runPointwise(ctx, g, weight, ptrs, params);
  const temps: number[] = [];
  const temp = (bytes: number, role: string) => {
    temps.push(ctx.heap.alloc(bytes, role));
    return temps[temps.length - 1];
  };
  try {
    const buffers: ConvBuffers = {
      packed: ctx.weights.packed(weight, ptrs.weight, g),
      bias: packBias(ctx, g, ptrs.bias, temp(g.groups * g.ocBlocks * g.ocBlock * 4, 'conv3d bias')),
      planeTaps: writePlaneTaps(ctx, g, params, temp(g.kernel[1] * g.kernel[2] * 4, 'conv3d taps')),
      ring: temp(g.cin * g.ringDepth * planeBytes(g), 'conv3d padded planes'),
      zero: temp(planeBytes(g), 'conv3d zero plane'),
      job: temp(JOB_FIELDS.length * 4, 'conv3d job'),
      scratch: temp(scratchBytes(g) * ctx.executor.threads, 'conv3d scratch'),
    };
    ctx.heap.bytes(buffers.zero, planeBytes(g)).fill(0);
    writeJob(ctx, g, params, buffers);
    for (let batch = 0; batch < g.n; batch++) {
      setJob(ctx, buffers.job, {
        x: ptrs.x + batch * g.cin * g.d * g.h * g.w * 4,
        out: ptrs.out + batch * g.cout * g.out[0] * g.out[1] * g.out[2] * 4,
      });
      await convolveBatchItem(ctx, g, params, buffers);
    }
  } finally {
    for (const ptr of temps) ctx.heap.free(ptr);
  }
}

/** Whether conv3d_pointwise runs it: a 1x1x1 kernel, stride 1, no padding, one group. */
function pointwiseApplies(weightShape: readonly number[], params: Conv3dParams): boolean {
  const [, , kd, kh, kw] = weightShape;
  const ones = (v: readonly number[], n: number) => v.every((e) => e === n);
  return (
    kd * kh * kw === 1 && ones(params.stride, 1) && ones(params.padding, 0) && params.groups === 1
  );
}

/** Positions per conv3d_pointwise work item (POINTWISE_RUN in assembly/conv3d.ts). */
const POINTWISE_RUN = 1024;

/** conv3d_pointwise: each batch item's positions in runs, split over the threads. */
async function runPointwise(
  ctx: WasmContext,
  g: ConvGeometry,
  weight: Tensor,
  ptrs: { x: number; weight: number; bias: number | null; out: number },
  params: Conv3dParams,
): Promise<void> {
  const spatial = g.d * g.h * g.w;
  const biasBytes = g.ocBlocks * g.ocBlock * 4;
  const job = ctx.heap.alloc(JOB_FIELDS.length * 4, 'conv3d job');
  const bias = ctx.heap.alloc(biasBytes, 'conv3d bias');
  try {
    packBias(ctx, g, ptrs.bias, bias);
    setJob(ctx, job, {
      weights: ctx.weights.packed(weight, ptrs.weight, g), bias, taps: g.taps,
      coutPerGroup: g.cout, ocBlocks: g.ocBlocks, outChannelStride: spatial,
      activation: ACTIVATION_CODES[params.activation.kind],
    }); // prettier-ignore
    ctx.heap.f32(job, JOB_FIELDS.length)[JOB_FIELDS.indexOf('alpha')] = activationAlpha(
      params.activation,
    );
    const items = Math.ceil(spatial / POINTWISE_RUN);
    for (let batch = 0; batch < g.n; batch++) {
      setJob(ctx, job, {
        x: ptrs.x + batch * g.cin * spatial * 4,
        out: ptrs.out + batch * g.cout * spatial * 4,
      });
      await runItems(ctx, items, 2 * spatial * g.cin * g.cout, (r) => [
        { kernel: 'conv3d_pointwise', args: [job, r.start, r.end] },
      ]);
    }
  } finally {
    ctx.heap.free(job);
    ctx.heap.free(bias);
  }
}

/** Every slab of output planes of one batch item: pad the planes it newly needs, convolve. */
async function convolveBatchItem(
  ctx: WasmContext,
  g: ConvGeometry,
  params: Conv3dParams,
  buffers: ConvBuffers,
): Promise<void> {
  const [sd] = params.stride;
  const [pd] = params.padding;
  const reach = (g.kernel[0] - 1) * params.dilation[0];
  let padded = 0;
  for (let z0 = 0; z0 < g.out[0]; z0 += g.slabOut) {
    const z1 = Math.min(g.out[0], z0 + g.slabOut);
    const low = Math.max(padded, z0 * sd - pd);
    const high = Math.min(g.d - 1, (z1 - 1) * sd + reach - pd);
    if (high >= low) {
      await padPlanes(ctx, g.cin, g.hp * g.rowLen, buffers.job, low, high - low + 1);
      padded = high + 1;
    }
    await convolvePlanes(ctx, g, buffers, z0, z1 - z0);
  }
}

function convGeometry(
  input: readonly number[],
  weightShape: readonly number[],
  params: Conv3dParams,
  outShape: readonly number[],
  ctx: WasmContext,
): ConvGeometry {
  const [n, cin, d, h, w] = input;
  const [cout, cinPerGroup, kd, kh, kw] = weightShape;
  const [, , od, oh, ow] = outShape;
  const { groups, stride, padding, dilation } = params;
  const ocBlock = (ctx.kernels.OC_BLOCK as WebAssembly.Global).value as number;
  const coutPerGroup = cout / groups;

  const owPad = Math.ceil(ow / 4) * 4;
  const phaseLen = owPad + Math.floor(((kw - 1) * dilation[2]) / stride[2]);
  const rowLen = stride[2] * phaseLen;
  const hp = h + 2 * padding[1];

  // Output planes per slab: as many as keep the ring under budget; at least one.
  const reach = (kd - 1) * dilation[0] + 1;
  const budgetPlanes = Math.floor(ctx.padBudgetBytes / (cin * hp * rowLen * 4));
  const fit = Math.floor((budgetPlanes - reach) / stride[0]) + 1;
  const slabOut = Math.max(1, Math.min(od, fit));
  const ringDepth = Math.min(d, (slabOut - 1) * stride[0] + reach);

  return {
    n, cin, d, h, w, cout, groups, cinPerGroup, coutPerGroup, ocBlock,
    ocBlocks: Math.ceil(coutPerGroup / ocBlock),
    kernel: [kd, kh, kw],
    taps: cinPerGroup * kd * kh * kw,
    out: [od, oh, ow],
    owPad, phaseLen, rowLen, hp, slabOut, ringDepth,
  }; // prettier-ignore
}

function planeBytes(g: ConvGeometry): number {
  return g.hp * g.rowLen * 4;
}

/** Per thread: (OC_BLOCK, owPad) float32 rows, then (taps) int32 addresses; 16-byte aligned. */
function scratchBytes(g: ConvGeometry): number {
  return Math.ceil((g.ocBlock * g.owPad + g.taps) / 4) * 16;
}

/** Bias as (groups, ocBlocks, OC_BLOCK) float32, zeros where absent. */
function packBias(ctx: WasmContext, g: ConvGeometry, biasPtr: number | null, ptr: number) {
  const packed = ctx.heap.f32(ptr, g.groups * g.ocBlocks * g.ocBlock).fill(0);
  if (biasPtr === null) return ptr;
  const bias = ctx.heap.f32(biasPtr, g.cout);
  for (let oc = 0; oc < g.cout; oc++) {
    const group = Math.floor(oc / g.coutPerGroup);
    const local = oc % g.coutPerGroup;
    packed[group * g.ocBlocks * g.ocBlock + local] = bias[oc];
  }
  return ptr;
}

/**
 * Byte offset of each (ky, kx) tap within a padded plane: dilated rows, then the stride phase
 * of kx and the step within it.
 */
function writePlaneTaps(ctx: WasmContext, g: ConvGeometry, params: Conv3dParams, ptr: number) {
  const [, kh, kw] = g.kernel;
  const [, dh, dw] = params.dilation;
  const sw = params.stride[2];
  const offsets = ctx.heap.i32(ptr, kh * kw);
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const phase = (kx * dw) % sw;
      const step = Math.floor((kx * dw) / sw);
      offsets[ky * kw + kx] = 4 * (ky * dh * g.rowLen + phase * g.phaseLen + step);
    }
  }
  return ptr;
}

/** Fill the Conv3dJob record's fields that hold for the whole call. */
function writeJob(ctx: WasmContext, g: ConvGeometry, params: Conv3dParams, b: ConvBuffers) {
  const [, oh, ow] = g.out;
  setJob(ctx, b.job, {
    ring: b.ring, zero: b.zero,
    cin: g.cin, d: g.d, h: g.h, w: g.w,
    padD: params.padding[0], padH: params.padding[1], padW: params.padding[2],
    ringDepth: g.ringDepth, hp: g.hp, strideW: params.stride[2], phaseLen: g.phaseLen,
    weights: b.packed, planeTaps: b.planeTaps, tapsPerPlane: g.kernel[1] * g.kernel[2],
    kd: g.kernel[0], dilationD: params.dilation[0], dilationH: params.dilation[1],
    taps: g.taps, bias: b.bias,
    groups: g.groups, ocBlocks: g.ocBlocks, coutPerGroup: g.coutPerGroup,
    oh, ow, owPad: g.owPad,
    strideD: params.stride[0], strideH: params.stride[1],
    outChannelStride: g.out[0] * oh * ow,
    activation: ACTIVATION_CODES[params.activation.kind],
  }); // prettier-ignore
  const alphaAt = JOB_FIELDS.indexOf('alpha');
  ctx.heap.f32(b.job, JOB_FIELDS.length)[alphaAt] = activationAlpha(params.activation);
}

/** Set some int32 fields of a Conv3dJob record. */
export function setJob(ctx: WasmContext, job: number, values: Partial<Record<JobField, number>>) {
  const fields = ctx.heap.i32(job, JOB_FIELDS.length);
  for (const [name, value] of Object.entries(values)) {
    fields[JOB_FIELDS.indexOf(name as JobField)] = value;
  }
}

/**
 * conv3d_pad_input for input planes [from, from + count) of `cin` channels, each padded plane
 * `planeFloats` floats.
 */
export async function padPlanes(
  ctx: WasmContext,
  cin: number,
  planeFloats: number,
  job: number,
  from: number,
  count: number,
) {
  setJob(ctx, job, { padFrom: from, padCount: count });
  const items = cin * count;
  await runItems(ctx, items, items * planeFloats, (r) => [
    { kernel: 'conv3d_pad_input', args: [job, r.start, r.end] },
  ]);
}

/** conv3d_direct over output planes [z0, z0 + planes) x groups x channel blocks. */
async function convolvePlanes(
  ctx: WasmContext,
  g: ConvGeometry,
  b: ConvBuffers,
  z0: number,
  planes: number,
): Promise<void> {
  setJob(ctx, b.job, { outZ: z0 });
  const items = planes * g.groups * g.ocBlocks;
  const work = 2 * items * g.ocBlock * g.out[1] * g.owPad * g.taps;
  await runItems(ctx, items, work, (r) => [
    {
      kernel: 'conv3d_direct',
      args: [b.job, b.scratch + r.thread * scratchBytes(g), r.start, r.end],
    },
  ]);
}
