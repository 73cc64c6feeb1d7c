/**
 * How the wasm backend runs kernels: on the main thread alone, or split over a thread pool.
 * Ops describe their work as items; `parallel` cuts the items into one contiguous range per
 * thread when the work is large enough to pay for the messages, else runs them on the main
 * thread.
 */
import type { WasmKernels } from './module.js';
import type { KernelCall, ThreadPool } from './pool.js';

/** Runs lists of kernel calls, one list per thread. */
export interface Executor {
  /** Threads that share a run, the main one included. */
  readonly threads: number;
  /** Run list i on thread i (list 0 on the main thread); resolves with each call's result. */
  run(lists: KernelCall[][]): Promise<number[][]>;
  dispose(): void;
}

/** Call one kernel on the main thread's instance. */
export function callKernel(kernels: WasmKernels, call: KernelCall): number {
  const kernel = kernels[call.kernel] as (...args: number[]) => number | undefined;
  return kernel(...call.args) ?? 0;
}

/** Everything on the main thread. */
export class SerialExecutor implements Executor {
  readonly threads = 1;

  constructor(private readonly kernels: WasmKernels) {}

  async run(lists: KernelCall[][]): Promise<number[][]> {
    return lists.map((calls) => calls.map((call) => callKernel(this.kernels, call)));
  }

  dispose(): void {}
}

/** The main thread plus a pool of workers. */
export class PoolExecutor implements Executor {
  constructor(
    private readonly kernels: WasmKernels,
    private readonly pool: ThreadPool,
  ) {}

  get threads(): number {
    return this.pool.size + 1;
  }

  run(lists: KernelCall[][]): Promise<number[][]> {
    return this.pool.run(lists, (call) => callKernel(this.kernels, call));
  }

  dispose(): void {
    this.pool.terminate();
  }
}

/** Split [0, total) into at most `parts` contiguous ranges of near-equal size, none empty. */
export function splitRange(total: number, parts: number): Array<[number, number]> {
  const count = Math.max(1, Math.min(parts, total));
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const start = Math.floor((total * i) / count);
    const end = Math.floor((total * (i + 1)) / count);
    if (end > start) ranges.push([start, end]);
  }
  return ranges;
}

/**
 * Cut the flat position range [start, end) over batches of `spatial` positions into pieces
 * that stay within one batch item.
 */
export function batchPieces(start: number, end: number, spatial: number) {
  const pieces: Array<{ batch: number; start: number; end: number }> = [];
  for (let position = start; position < end;) {
    const batch = Math.floor(position / spatial);
    const stop = Math.min(end, (batch + 1) * spatial);
    pieces.push({ batch, start: position - batch * spatial, end: stop - batch * spatial });
    position = stop;
  }
  return pieces;
}

/** A range of items with the thread it runs on. */
export interface ItemRange {
  start: number;
  end: number;
  thread: number;
}

/**
 * Plan `total` items over the executor's threads: one range per thread when `work`
 * (estimated scalar operations) reaches `minParallelWork`, else one range on the main thread.
 *
 * @returns per-thread call lists and the ranges, in thread order.
 */
export function planItems(
  executor: Executor,
  minParallelWork: number,
  total: number,
  work: number,
  makeCalls: (range: ItemRange) => KernelCall[],
): { lists: KernelCall[][]; ranges: ItemRange[] } {
  const parts = work >= minParallelWork ? executor.threads : 1;
  const ranges = splitRange(total, parts).map(([start, end], thread) => ({ start, end, thread }));
  const lists: KernelCall[][] = Array.from({ length: executor.threads }, () => []);
  for (const range of ranges) lists[range.thread].push(...makeCalls(range));
  return { lists, ranges };
}
