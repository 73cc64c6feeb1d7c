/**
 * A proposal, measured next to voxseg in the Dice suite: a SIMD label_confusion kernel for the
 * wasm backend (today's assembly/metrics.ts counts voxel by voxel, three read-modify-writes
 * each). Compiled here from source with asc, in its own module; not part of voxseg.
 *
 * How it counts uint8 maps with up to 16 labels: chunks of 255 blocks of 16 voxels; a first
 * pass per chunk (from memory) finds the largest label and counts agreeing voxels, then per
 * group of 2 or 4 labels (from L1; label 0 excepted: it is what the others leave of the
 * totals) the counters stay in registers (i8x16.eq of each map with the label, and of the two
 * maps, subtracted: a true lane adds 1), then are widened and added to the uint32 counts. A
 * 3-label map costs ~20 vector ops per 16 voxels, about the speed of memory. More labels, or
 * uint16 maps, take a scalar loop with a fast path for blocks of 16 (8) voxels that hold one
 * label in each map (most of a segmentation). A label outside [0, numLabels) is reported by
 * the index of its first voxel, as voxseg's kernel does.
 */
import asc from 'assemblyscript/asc';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The kernel's AssemblyScript source (formatted and type-checked like assembly/). */
const SOURCE_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  'assembly',
  'label_confusion_simd.ts',
);

/** The proposed kernel, instantiated: count two maps (copied into its memory) per label. */
export interface SimdLabelCounter {
  /** Copy both maps into the module's memory (what voxseg's upload does). */
  load(pred: Uint8Array | Uint16Array, ref: Uint8Array | Uint16Array): void;
  /** Count the loaded maps: tp, pred and ref per label. */
  count(numLabels: number): { tp: Float64Array; pred: Float64Array; ref: Float64Array };
}

/**
 * Compile the proposal (SIMD, no threads) and make a counter with room for `bytes` bytes per
 * map.
 *
 * @throws Error when asc fails.
 */
export async function createSimdLabelCounter(bytes: number): Promise<SimdLabelCounter> {
  const { binary, stderr } = await asc.compileString(readFileSync(SOURCE_FILE, 'utf8'), {
    optimizeLevel: 3,
    runtime: 'stub',
    noAssert: true,
    enable: ['simd'],
  } as Parameters<typeof asc.compileString>[1]);
  if (!binary) throw new Error(`the SIMD label counter did not compile: ${stderr.toString()}`);
  const { instance } = (await WebAssembly.instantiate(binary, {
    env: { abort: () => {} },
  })) as unknown as WebAssembly.WebAssemblyInstantiatedSource;
  const exports = instance.exports as Record<string, (...args: number[]) => number>;
  const memory = instance.exports.memory as WebAssembly.Memory;
  const [pred, ref, counts] = [exports.alloc(bytes), exports.alloc(bytes), exports.alloc(1 << 20)];
  let dtype: 'u8' | 'u16' = 'u8';
  let count = 0;
  return {
    load: (p, r) => {
      new Uint8Array(memory.buffer, pred, p.byteLength).set(
        new Uint8Array(p.buffer, p.byteOffset, p.byteLength),
      );
      new Uint8Array(memory.buffer, ref, r.byteLength).set(
        new Uint8Array(r.buffer, r.byteOffset, r.byteLength),
      );
      dtype = p instanceof Uint8Array ? 'u8' : 'u16';
      count = p.length;
    },
    count: (numLabels) => {
      new Uint32Array(memory.buffer, counts, 3 * numLabels + 2).fill(0);
      const bad = exports[`label_confusion_simd_${dtype}`](
        pred >>> 0,
        ref >>> 0,
        count,
        numLabels,
        counts >>> 0,
      );
      if (bad >= 0) throw new Error(`label outside [0, ${numLabels}) at voxel ${bad}`);
      const c = new Uint32Array(memory.buffer, counts, 3 * numLabels);
      const row = (k: number) => Float64Array.from(c.subarray(k * numLabels, (k + 1) * numLabels));
      return { tp: row(0), pred: row(1), ref: row(2) };
    },
  };
}
