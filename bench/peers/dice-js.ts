/**
 * Plain-JavaScript label counting, the baseline of the Dice suite: three ways, the fastest of
 * which sets the ratio, so voxseg is compared with the best JavaScript can do on one thread.
 * Each takes two label maps of the same kind and length (uint8 or uint16, values below
 * numLabels) and returns per-label true positives and the two maps' label counts, from which
 * Dice = 2 tp / (pred + ref).
 */

/** Per-label counts: tp[l] (both l), pred[l], ref[l]. */
export interface JsCounts {
  tp: Float64Array;
  pred: Float64Array;
  ref: Float64Array;
}

/** A label map, x fastest: one label per voxel. */
export type LabelArray = Uint8Array | Uint16Array;

/** Three counters per voxel, as the reference backend counts: the plainest loop. */
export function countPerLabel(pred: LabelArray, ref: LabelArray, numLabels: number): JsCounts {
  const tp = new Uint32Array(numLabels);
  const p = new Uint32Array(numLabels);
  const r = new Uint32Array(numLabels);
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i];
    const b = ref[i];
    p[a]++;
    r[b]++;
    if (a === b) tp[a]++;
  }
  return { tp: Float64Array.from(tp), pred: Float64Array.from(p), ref: Float64Array.from(r) };
}

/** One counter per voxel: a joint histogram of (pred, ref), reduced afterwards. */
export function countJoint(pred: LabelArray, ref: LabelArray, numLabels: number): JsCounts {
  const joint = new Uint32Array(numLabels * numLabels);
  for (let i = 0; i < pred.length; i++) joint[pred[i] * numLabels + ref[i]]++;
  return reduceJoint(joint, numLabels);
}

/**
 * Four uint8 voxels at a time through Uint32 views: a word whose four labels are one value in
 * both maps (most of a segmentation: background and the inside of structures) adds 4 to one
 * diagonal cell; other words go voxel by voxel into the joint histogram. uint16 maps (and
 * lengths or offsets not a multiple of 4) use countJoint.
 */
export function countJointWords(pred: LabelArray, ref: LabelArray, numLabels: number): JsCounts {
  const aligned = pred.byteOffset % 4 === 0 && ref.byteOffset % 4 === 0 && pred.length % 4 === 0;
  if (!(pred instanceof Uint8Array) || !aligned) return countJoint(pred, ref, numLabels);
  const joint = new Uint32Array(numLabels * numLabels);
  const p32 = new Uint32Array(pred.buffer, pred.byteOffset, pred.length / 4);
  const r32 = new Uint32Array(ref.buffer, ref.byteOffset, ref.length / 4);
  const diagonal = numLabels + 1;
  for (let w = 0; w < p32.length; w++) {
    const word = p32[w];
    const low = word & 0xff;
    if (word === r32[w] && word === Math.imul(low, 0x01010101) >>> 0) {
      joint[low * diagonal] += 4;
      continue;
    }
    for (let i = 4 * w; i < 4 * w + 4; i++) joint[pred[i] * numLabels + ref[i]]++;
  }
  return reduceJoint(joint, numLabels);
}

/** tp, pred and ref counts from a joint histogram (row = pred label, column = ref label). */
function reduceJoint(joint: Uint32Array, numLabels: number): JsCounts {
  const tp = new Float64Array(numLabels);
  const pred = new Float64Array(numLabels);
  const ref = new Float64Array(numLabels);
  for (let a = 0; a < numLabels; a++) {
    for (let b = 0; b < numLabels; b++) {
      const n = joint[a * numLabels + b];
      pred[a] += n;
      ref[b] += n;
      if (a === b) tp[a] += n;
    }
  }
  return { tp, pred, ref };
}

/** The plain-JS counters by name, as the tables show them. */
export const JS_COUNTERS = {
  'js-per-label': countPerLabel,
  'js-joint': countJoint,
  'js-joint-words': countJointWords,
} as const;
