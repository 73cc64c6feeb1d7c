/**
 * Node's worker host for the wasm backend: worker_threads with an eval'd script. Only the Node
 * entry (ts/node.ts) imports this file, so the core entry stays free of Node built-ins.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { WasmThreadHost, WorkerLike } from './pool.js';

/** Gives the browser-style worker script a `self` backed by worker_threads' parentPort. */
const NODE_PRELUDE = `
const { parentPort } = require('node:worker_threads');
const self = {
  postMessage: (message) => parentPort.postMessage(message),
  set onmessage(handler) {
    parentPort.on('message', (data) => handler({ data }));
  },
};
`;

/** Start one worker_threads worker running `source`. */
function createNodeWorker(source: string): WorkerLike {
  const worker = new Worker(NODE_PRELUDE + source, { eval: true });
  return {
    postMessage: (message) => worker.postMessage(message),
    onMessage: (handler) => worker.on('message', handler),
    onError: (handler) => {
      worker.on('error', handler);
      worker.on('exit', (code) => handler(new Error(`worker exited with code ${code}`)));
    },
    terminate: () => void worker.terminate(),
    unref: () => worker.unref(),
    ref: () => worker.ref(),
  };
}

/** worker_threads and os.availableParallelism() as a WasmThreadHost. */
export const nodeThreadHost: WasmThreadHost = {
  createWorker: createNodeWorker,
  concurrency: availableParallelism(),
};
