/**
 * distanceTransform on the wasm backend: three passes over (N, D, H, W), each split over the
 * threads by line ranges (the lines of one pass are independent): edt_rows_* along W from the
 * mask into the float32 output, then edt_envelope in place along H and along D, each thread
 * with its own line scratch. assembly/edt.ts has the kernels.
 */
import { runItems, type WasmContext } from './context.js';
import type { LabelMap } from './metrics.js';

const SUFFIX = { uint8: 'u8', uint16: 'u16', int32: 'i32' } as const;

/** Estimated scalar operations per voxel of a row pass and of an envelope pass. */
const ROW_COST = 6;
const ENVELOPE_COST = 30;

/** One envelope pass: lines of extent `n` whose elements lie `inner` apart. */
interface EnvelopeAxis {
  lines: number;
  n: number;
  inner: number;
  /** Voxel size along the axis, mm. */
  step: number;
}

/**
 * Squared EDT of each batch item. mask: (N, D, H, W) labels; out: (N, D, H, W) float32 mm^2.
 *
 * @param shape - (N, D, H, W).
 * @param spacing - (sd, sh, sw) in mm, checked by the caller.
 */
export async function runDistanceTransform(
  ctx: WasmContext,
  mask: LabelMap,
  out: number,
  shape: readonly number[],
  spacing: readonly [number, number, number],
): Promise<void> {
  const [n, d, h, w] = shape;
  if (n * d * h * w === 0) return;

  const rows = n * d * h;
  const kernel = `edt_rows_${SUFFIX[mask.dtype]}`;
  await runItems(ctx, rows, rows * w * ROW_COST, ({ start, end }) => [
    { kernel, args: [mask.ptr, out, w, spacing[2], start, end] },
  ]);
  await runEnvelope(ctx, out, { lines: n * d * w, n: h, inner: w, step: spacing[1] });
  await runEnvelope(ctx, out, { lines: n * h * w, n: d, inner: h * w, step: spacing[0] });
}

/** One envelope pass in place over float32 `data`, one scratch block per thread. */
async function runEnvelope(ctx: WasmContext, data: number, axis: EnvelopeAxis): Promise<void> {
  const scratchFn = ctx.kernels.edt_scratch_bytes as (n: number) => number;
  const bytes = Math.ceil(scratchFn(axis.n) / 16) * 16;
  const scratch = ctx.heap.alloc(bytes * ctx.executor.threads, 'distanceTransform line scratch');
  try {
    const work = axis.lines * axis.n * ENVELOPE_COST;
    await runItems(ctx, axis.lines, work, ({ start, end, thread }) => [
      {
        kernel: 'edt_envelope',
        args: [data, axis.n, axis.inner, axis.step, scratch + thread * bytes, start, end],
      },
    ]);
  } finally {
    ctx.heap.free(scratch);
  }
}
