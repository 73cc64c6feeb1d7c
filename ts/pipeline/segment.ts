/**
 * The main job: segment one volume with one model, following the model's recipe.
 *
 * conform (256^3, 1 mm, LIA, uint8) -> normalise -> crop to the foreground box -> run the
 * network streamed along D -> argmax -> largest connected component -> paste back into the
 * conformed grid -> labels back onto the input's grid (nearest neighbour), with its affine.
 */
import type { Backend } from '../engine/backend.js';
import { BackendRuntimeError, InputError } from '../engine/errors.js';
import type { Volume } from '../io/volume.js';
import type { LoadedModel } from '../model/model.js';
import { prepareModel, type RunOptions, type RunResult, runModel } from '../model/runner.js';
import { type ComponentSummary, keepLargestComponent } from './components.js';
import { conformVolume } from './conform.js';
import { type Box, boxSize, cropVolume, foregroundBox, pasteVolume } from './crop.js';
import { minMax, normalizeIntensities, requireFinite } from './intensity.js';

/** Stages of the pipeline, in order, as reported to progress callbacks and in timings. */
export type SegmentStage = 'conform' | 'normalize' | 'inference' | 'postprocess' | 'resample';

export interface SegmentOptions extends Pick<RunOptions, 'chunkPlanes' | 'memoryBudget'> {
  /** The backend that runs the network. */
  backend: Backend;
  /**
   * Backends to retry the network on, in order, when the one before fails while running
   * (a lost GPU device, GPU out of memory: a BackendRuntimeError). Default none: the error
   * propagates.
   */
  fallbacks?: Backend[];
  /** Called when the network moves to the next backend, with the failure that caused it. */
  onFallback?: (from: Backend, to: Backend, error: BackendRuntimeError) => void;
  /** Name of the input, for error messages. */
  file?: string;
  /** Called as each stage starts and progresses (fraction in [0, 1]). */
  onProgress?: (stage: SegmentStage, fraction: number) => void;
}

export interface SegmentResult {
  /** Labels on the input's grid, with its dims and affine; uint8 (uint16 above 255 classes). */
  labels: Volume;
  /** The conformed input and its labels (256^3 LIA), for previews. */
  conformed: { volume: Volume; labels: Uint8Array | Uint16Array };
  /** Milliseconds per stage. */
  timings: Record<SegmentStage, number>;
  /** Foreground box the network ran on, in conformed voxels (x, y, z). */
  crop: Box;
  /** Peak bytes of activations on the backend, planned and measured. */
  memory: { plannedBytes: number; peakBytes: number; chunkPlanes: number };
  /** Foreground components before the largest was kept; null when the recipe keeps all. */
  components: ComponentSummary | null;
  /** Name of the backend that ran the network (after any fallback). */
  backend: string;
}

/**
 * Segment a volume.
 *
 * @param volume - any 3D volume (NIfTI/MGH); scaling already applied by the reader.
 * @param model - a loaded model with its recipe.
 * @returns labels on the input grid, the stage timings, the crop and the memory used.
 * @throws InputError for NaN/Inf voxels or a channel mismatch (naming the file).
 * @example
 * const { labels } = await segment(volume, model, { backend });
 */
export async function segment(
  volume: Volume,
  model: LoadedModel,
  options: SegmentOptions,
): Promise<SegmentResult> {
  const file = options.file ?? 'input volume';
  checkInput(volume, model, file);
  const timings = {} as Record<SegmentStage, number>;
  const timed = async <T>(stage: SegmentStage, work: () => T | Promise<T>): Promise<T> => {
    options.onProgress?.(stage, 0);
    const start = performance.now();
    const value = await work();
    timings[stage] = performance.now() - start;
    options.onProgress?.(stage, 1);
    return value;
  };

  const conformed = await timed('conform', () => conformVolume(volume));
  const { recipe } = model;
  const dims = conformed.volume.dims;
  const { input, box } = await timed('normalize', () => {
    const normalized = normalizeIntensities(conformed.volume.data, recipe.normalization);
    const threshold = recipe.cropThreshold * minMax(normalized)[1];
    const box = foregroundBox(normalized, dims, threshold, recipe.cropPadding);
    return { input: cropVolume(normalized, dims, box), box };
  });

  const [sx, sy, sz] = boxSize(box);
  const run = await timed('inference', () => runWithFallbacks(model, input, [sz, sy, sx], options));
  const post = await timed('postprocess', () => {
    const cropLabels = run.labels!;
    const components = recipe.largestComponent
      ? keepLargestComponent(cropLabels, [sx, sy, sz])
      : null;
    const full = labelArray(model.graph.outputChannels, dims[0] * dims[1] * dims[2]);
    return { full: pasteVolume(full, dims, cropLabels, box), components };
  });

  const labels = await timed('resample', () => conformed.labelsToInput(post.full));
  return {
    labels,
    conformed: { volume: conformed.volume, labels: post.full },
    timings,
    crop: box,
    memory: {
      plannedBytes: run.plannedBytes,
      peakBytes: run.peakBytes,
      chunkPlanes: run.chunkPlanes,
    },
    components: post.components,
    backend: run.backend,
  };
}

/**
 * Run the network on the chosen backend; on a BackendRuntimeError move on to the next fallback.
 * input: (1, D, H, W) voxels, dims (D, H, W).
 */
async function runWithFallbacks(
  model: LoadedModel,
  input: Float32Array,
  dims: [number, number, number],
  options: SegmentOptions,
): Promise<RunResult & { backend: string }> {
  const backends = [options.backend, ...(options.fallbacks ?? [])];
  for (let i = 0; ; i++) {
    const backend = backends[i];
    const prepared = await prepareModel(backend, model.graph);
    try {
      const result = await runModel(prepared, input, dims, {
        chunkPlanes: options.chunkPlanes,
        memoryBudget: options.memoryBudget,
        onProgress: (fraction) => options.onProgress?.('inference', fraction),
      });
      return { ...result, backend: backend.name };
    } catch (error) {
      const next = backends[i + 1];
      if (!(error instanceof BackendRuntimeError) || !next) throw error;
      options.onFallback?.(backend, next, error);
    } finally {
      prepared.release();
    }
  }
}

function checkInput(volume: Volume, model: LoadedModel, file: string): void {
  if (volume.frames !== model.graph.inputChannels) {
    throw new InputError(
      `model '${model.name}' expects ${model.graph.inputChannels} channel(s), but the volume ` +
        `has ${volume.frames} frame(s)`,
      { file, field: 'dim[4]', value: volume.frames, hint: 'pass a single 3D volume' },
    );
  }
  requireFinite(volume.data, volume.dims, file);
}

function labelArray(classes: number, length: number): Uint8Array | Uint16Array {
  return classes <= 256 ? new Uint8Array(length) : new Uint16Array(length);
}
