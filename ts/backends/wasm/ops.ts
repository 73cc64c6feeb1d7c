/**
 * The wasm backend's element-wise and channel ops: each plans its items, splits them over the
 * threads when that pays, and calls one kernel per range. Pointers are byte addresses in the
 * module's memory; shapes use (N, C, S) with S = D * H * W.
 */
import { ACTIVATION_CODES, activationAlpha } from '../../engine/activations.js';
import type { Activation } from '../../engine/backend.js';
import { runItems, type WasmContext } from './context.js';
import { batchPieces } from './executor.js';

/** Estimated scalar operations per element of each activation (exp-based ones cost more). */
const ACTIVATION_COST = { linear: 1, relu: 1, leakyRelu: 1, elu: 8, gelu: 16, sigmoid: 8 };

/** out = act(x) element-wise. x, out: (count) float32. */
export async function runActivation(
  ctx: WasmContext,
  x: number,
  out: number,
  count: number,
  activation: Activation,
): Promise<void> {
  const code = ACTIVATION_CODES[activation.kind];
  const alpha = activationAlpha(activation);
  const work = count * ACTIVATION_COST[activation.kind];
  await runItems(ctx, count, work, ({ start, end }) => [
    {
      kernel: 'activation_apply',
      args: [x + 4 * start, out + 4 * start, end - start, code, alpha],
    },
  ]);
}

/** Options of instance norm with tensors already resolved to pointers (0 for none). */
export interface InstanceNormPointers {
  eps: number;
  scale: number;
  shift: number;
  activation: Activation;
}

/**
 * Instance norm: float64 statistics per (n, c) plane, then the normalised, scaled, shifted and
 * activated output. x, out: (N, C, S) float32.
 */
export async function runInstanceNorm(
  ctx: WasmContext,
  x: number,
  out: number,
  shape: { n: number; c: number; s: number },
  options: InstanceNormPointers,
): Promise<void> {
  const planes = shape.n * shape.c;
  const stats = ctx.heap.alloc(planes * 16, 'instanceNorm statistics');
  try {
    const work = planes * shape.s * 4;
    await runItems(ctx, planes, work, ({ start, end }) => [
      { kernel: 'instance_norm_stats', args: [x, stats, shape.s, start, end] },
    ]);
    const code = ACTIVATION_CODES[options.activation.kind];
    const alpha = activationAlpha(options.activation);
    const { scale, shift, eps } = options;
    await runItems(ctx, planes, work, ({ start, end }) => [
      {
        kernel: 'instance_norm_apply',
        args: [x, out, stats, scale, shift, shape.c, shape.s, eps, code, alpha, start, end],
      },
    ]);
  } finally {
    ctx.heap.free(stats);
  }
}

/**
 * A per-position channel reduction (softmax_channels, argmax_channels) over (N, C, S) input;
 * the output has `outChannels` planes of 4-byte elements per batch item (C or 1).
 */
export async function runChannelKernel(
  ctx: WasmContext,
  kernel: 'softmax_channels' | 'argmax_channels',
  x: number,
  out: number,
  shape: { n: number; c: number; s: number },
  outChannels: number,
): Promise<void> {
  const { n, c, s } = shape;
  const work = n * s * c * (kernel === 'softmax_channels' ? 12 : 2);
  await runItems(ctx, n * s, work, ({ start, end }) =>
    batchPieces(start, end, s).map((piece) => ({
      kernel,
      args: [
        x + piece.batch * c * s * 4,
        out + piece.batch * outChannels * s * 4,
        c,
        s,
        piece.start,
        piece.end,
      ],
    })),
  );
}

/**
 * Copy `rows` blocks of `rowBytes` from src (stride srcStride) to dst (stride dstStride);
 * slice and concat.
 */
export function copyRows(
  ctx: WasmContext,
  dst: number,
  src: number,
  block: { rowBytes: number; rows: number; dstStride: number; srcStride: number },
): void {
  if (block.rowBytes === 0 || block.rows === 0) return;
  const { rowBytes, rows, dstStride, srcStride } = block;
  ctx.kernels.copy_rows(dst, src, rowBytes, rows, dstStride, srcStride);
}
