/**
 * What the demo page publishes as `window.voxsegDemo`: its status and a summary of every run,
 * for people reading the console and for the end-to-end browser tests. Plain data only.
 */

/** Where the page is: loading, waiting for input, segmenting, finished, or failed. */
export type DemoStatus = 'loading' | 'ready' | 'running' | 'done' | 'error';

/** Dice of each label value (key) between two label maps. */
export type DiceByLabel = Record<number, number>;

/** One segmentation run, as the page reports it. */
export interface DemoRun {
  /** Name of the input volume (file name or the example's). */
  input: string;
  model: string;
  /** The backend that ran the network, and why it was chosen (`selectBackend`'s sentence). */
  backend: string;
  reason: string;
  /** The backend's one-line description and its facts (threads, adapter, limits). */
  description: string;
  details: Record<string, string | number | boolean>;
  /** Milliseconds per stage: model, backend, then the pipeline's stages, and total. */
  timingsMs: Record<string, number>;
  /** Voxels of each label value on the input's grid (index = value). */
  labelVoxels: number[];
  /** Dice per label against the reference labels, when the user gave a reference. */
  referenceDice?: DiceByLabel;
  /** Dice per label against the previous run on the same input and model. */
  agreement?: { run: number; backend: string; dice: DiceByLabel };
}

/** The page's published state. */
export interface DemoState {
  status: DemoStatus;
  /** The last error's message while status is `error`. */
  error?: string;
  /** Whether the page is cross-origin isolated (SharedArrayBuffer, so wasm threads). */
  crossOriginIsolated: boolean;
  /** Every run since the page loaded, oldest first. */
  runs: DemoRun[];
}

declare global {
  interface Window {
    /** The demo page's state, for the console and end-to-end tests. */
    voxsegDemo: DemoState;
  }
}
