/** What every wasm op implementation shares: the kernels, memory, threads and tuning knobs. */
import type { WeightCache } from './conv3d.js';
import { planItems, type Executor, type ItemRange } from './executor.js';
import type { WasmHeap } from './heap.js';
import type { WasmKernels } from './module.js';
import type { KernelCall } from './pool.js';

/** The kernels, memory, threads and tuning of one wasm backend instance. */
export interface WasmContext {
  kernels: WasmKernels;
  heap: WasmHeap;
  executor: Executor;
  /** Smallest op, in estimated scalar operations, that is split over threads. */
  minParallelWork: number;
  /** Largest padded conv3d input slab in bytes (at least one output plane is always done). */
  padBudgetBytes: number;
  weights: WeightCache;
}

/**
 * Run `total` items, split over the threads when `work` (estimated scalar operations) pays for
 * it; `makeCalls` gives the kernel calls of one range.
 *
 * @returns each range with the results of its calls.
 */
export async function runItems(
  ctx: WasmContext,
  total: number,
  work: number,
  makeCalls: (range: ItemRange) => KernelCall[],
): Promise<Array<{ range: ItemRange; results: number[] }>> {
  const { lists, ranges } = planItems(ctx.executor, ctx.minParallelWork, total, work, makeCalls);
  const results = await ctx.executor.run(lists);
  return ranges.map((range) => ({ range, results: results[range.thread] }));
}
