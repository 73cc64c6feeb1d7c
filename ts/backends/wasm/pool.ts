/**
 * Threads for the wasm backend: a pool of workers, each with an instance of the threaded build
 * on the one shared memory. The main thread takes a share of every run itself.
 *
 * Core code imports no Node built-ins: in browsers the pool uses the global `Worker` (a Blob URL
 * of WORKER_SOURCE); Node's entry (ts/node.ts) injects worker_threads with setWasmThreadHost().
 * Idle workers do not keep a Node process alive (unref), and dispose() terminates them.
 */
import { BackendRuntimeError } from '../../engine/errors.js';
import { logger } from '../../engine/log.js';
import { WORKER_SOURCE } from './worker-source.js';

const log = logger('wasm');

/** One kernel call: an export of the module and its numeric arguments. */
export interface KernelCall {
  kernel: string;
  args: number[];
}

/** The little of a Worker the pool uses; browsers' Worker and Node's worker_threads both fit. */
export interface WorkerLike {
  postMessage(message: unknown): void;
  /** Register the handler of messages from the worker (`event.data` already unwrapped). */
  onMessage(handler: (message: WorkerReply) => void): void;
  /** Register the handler of a worker crash. */
  onError(handler: (error: Error) => void): void;
  terminate(): void;
  /** Node: let an idle worker not keep the process alive (optional elsewhere). */
  unref?(): void;
  ref?(): void;
}

/** Where workers come from and how many hardware threads there are. */
export interface WasmThreadHost {
  /** Start a worker running `source` (classic-script JavaScript using `self`). */
  createWorker(source: string): WorkerLike;
  /** Hardware threads available, the default thread count. */
  concurrency: number;
}

/** What a worker sends back. */
export interface WorkerReply {
  type: 'ready' | 'done' | 'error';
  id?: number;
  results?: number[];
  message?: string;
}

let threadHost: WasmThreadHost | null = browserThreadHost();

/**
 * Set how wasm workers are made (Node's entry calls this with worker_threads); null disables
 * threads.
 */
export function setWasmThreadHost(host: WasmThreadHost | null): void {
  threadHost = host;
}

/** The current worker host, or null where none exists. */
export function wasmThreadHost(): WasmThreadHost | null {
  return threadHost;
}

/** The browser host: the global Worker from a Blob URL, navigator.hardwareConcurrency. */
function browserThreadHost(): WasmThreadHost | null {
  const scope = globalThis as {
    Worker?: new (url: string) => Worker;
    navigator?: { hardwareConcurrency?: number };
  };
  const { Worker: WorkerClass, navigator } = scope;
  if (!WorkerClass || typeof Blob === 'undefined' || typeof URL?.createObjectURL !== 'function') {
    return null;
  }
  return {
    concurrency: navigator?.hardwareConcurrency ?? 1,
    createWorker(source) {
      const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      const worker = new WorkerClass(url);
      return {
        postMessage: (message) => worker.postMessage(message),
        onMessage: (handler) => worker.addEventListener('message', (e) => handler(e.data)),
        onError: (handler) =>
          worker.addEventListener('error', (e) => handler(new Error(e.message || 'worker error'))),
        terminate: () => worker.terminate(),
      };
    },
  };
}

interface PendingRun {
  resolve(results: number[]): void;
  reject(error: Error): void;
}

/** A started worker and the runs it owes answers for. */
class PoolWorker {
  private readonly pending = new Map<number, PendingRun>();
  private nextId = 1;
  private failure: Error | null = null;

  constructor(readonly worker: WorkerLike) {
    worker.onMessage((reply) => this.receive(reply));
    worker.onError((error) => this.fail(error));
  }

  /** Send the calls; resolves with each call's return value. */
  run(calls: KernelCall[]): Promise<number[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, calls });
    });
  }

  private receive(reply: WorkerReply): void {
    const run = reply.id === undefined ? undefined : this.pending.get(reply.id);
    if (!run) return;
    this.pending.delete(reply.id!);
    if (reply.type === 'done') run.resolve(reply.results ?? []);
    else run.reject(new BackendRuntimeError(`wasm worker failed: ${reply.message}`));
  }

  /** Reject every pending run with `error`; later runs reject at once. */
  fail(error: Error): void {
    this.failure = new BackendRuntimeError(`wasm worker crashed: ${error.message}`, {
      cause: error,
    });
    for (const run of this.pending.values()) run.reject(this.failure);
    this.pending.clear();
  }
}

/**
 * Workers that run kernel calls on the shared memory; the main thread runs list 0 of each run.
 *
 * @example
 * const pool = await ThreadPool.start(host, 3, module, memory);
 * const results = await pool.run(lists, (call) => callKernel(kernels, call));
 */
export class ThreadPool {
  private inFlight = 0;
  private terminated = false;

  private constructor(private readonly workers: PoolWorker[]) {}

  /**
   * Start `count` workers on the module and shared memory; resolves once all are ready.
   *
   * @throws BackendRuntimeError when a worker cannot start or instantiate the module.
   */
  static async start(
    host: WasmThreadHost,
    count: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
  ): Promise<ThreadPool> {
    const workers = Array.from({ length: count }, () => host.createWorker(WORKER_SOURCE));
    try {
      await Promise.all(workers.map((worker) => initialise(worker, module, memory)));
    } catch (error) {
      for (const worker of workers) worker.terminate();
      throw error;
    }
    for (const worker of workers) worker.unref?.();
    log.debug(() => `started ${count} worker(s)`);
    return new ThreadPool(workers.map((worker) => new PoolWorker(worker)));
  }

  /** Workers in the pool (the main thread comes on top). */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Run `lists[i + 1]` on worker i and `lists[0]` on the main thread through `runMain`, all at
   * once; resolves with every call's result, by list.
   */
  async run(lists: KernelCall[][], runMain: (call: KernelCall) => number): Promise<number[][]> {
    if (this.terminated) throw new BackendRuntimeError('the wasm thread pool was disposed');
    this.begin();
    try {
      const remote = Promise.allSettled(
        lists.slice(1).map((calls, i) => (calls.length ? this.workers[i].run(calls) : [])),
      );
      const local = settle(() => lists[0].map(runMain));
      // Wait for every worker even when the main share failed: they still read the buffers.
      const settled = [local, ...(await remote)];
      const failure = settled.find((s) => s.status === 'rejected');
      if (failure) throw (failure as PromiseRejectedResult).reason;
      return settled.map((s) => (s as PromiseFulfilledResult<number[]>).value);
    } finally {
      this.end();
    }
  }

  /** Stop every worker; pending runs reject. */
  terminate(): void {
    this.terminated = true;
    for (const worker of this.workers) {
      worker.fail(new Error('the pool was terminated'));
      worker.worker.terminate();
    }
  }

  private begin(): void {
    if (this.inFlight++ === 0) for (const worker of this.workers) worker.worker.ref?.();
  }

  private end(): void {
    if (--this.inFlight > 0) return;
    for (const worker of this.workers) worker.worker.unref?.();
  }
}

/** Run `body` now and describe its outcome as Promise.allSettled would. */
function settle(body: () => number[]): PromiseSettledResult<number[]> {
  try {
    return { status: 'fulfilled', value: body() };
  } catch (reason) {
    return { status: 'rejected', reason };
  }
}

/** Send `init` and wait for `ready`. */
function initialise(
  worker: WorkerLike,
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.onMessage((reply) => {
      if (reply.type === 'ready') resolve();
      else if (reply.type === 'error' && reply.id === undefined) {
        reject(new BackendRuntimeError(`a wasm worker could not start: ${reply.message}`));
      }
    });
    worker.onError((error) =>
      reject(new BackendRuntimeError(`a wasm worker could not start: ${error.message}`)),
    );
    worker.postMessage({ type: 'init', module, memory });
  });
}
