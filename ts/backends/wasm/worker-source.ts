/**
 * The script each wasm worker runs, as plain JavaScript text, so that it needs no bundler, no
 * file and no fetch: browsers start it from a Blob URL, Node from `eval` (ts/backends/wasm/
 * node-workers.ts adds a `self` over `worker_threads.parentPort`).
 *
 * Protocol (all messages are plain objects):
 * - host -> worker `{ type: 'init', module, memory }`: instantiate the threaded build on the
 *   shared memory; worker -> host `{ type: 'ready' }` or `{ type: 'error', message }`.
 * - host -> worker `{ type: 'run', id, calls: [{ kernel, args }] }`: call the kernels in order;
 *   worker -> host `{ type: 'done', id, results }` or `{ type: 'error', id, message }`.
 * The worker never allocates: only the main thread's instance owns the allocator.
 */
export const WORKER_SOURCE = `
let kernels = null;
const describe = (error) => String((error && error.message) || error);
const abort = (message, file, line, column) => {
  throw new Error('wasm kernel aborted in a worker (' + line + ':' + column + ')');
};
self.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'init') {
    WebAssembly.instantiate(message.module, { env: { memory: message.memory, abort } })
      .then((instance) => {
        kernels = instance.exports;
        self.postMessage({ type: 'ready' });
      })
      .catch((error) => self.postMessage({ type: 'error', message: describe(error) }));
    return;
  }
  if (message.type === 'run') {
    try {
      const results = message.calls.map((call) => kernels[call.kernel](...call.args));
      self.postMessage({ type: 'done', id: message.id, results });
    } catch (error) {
      self.postMessage({ type: 'error', id: message.id, message: describe(error) });
    }
  }
};
`;
