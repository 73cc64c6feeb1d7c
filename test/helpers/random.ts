/** Seeded random data for tests: never zeros, reproducible from the seed. */

/** mulberry32: a small, fast, seeded generator of floats in [0, 1). */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform floats in [lo, hi), no exact zeros. */
export function randomFloats(length: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const value = lo + (hi - lo) * next();
    out[i] = value === 0 ? 1e-3 : value;
  }
  return out;
}

/** Integer labels in [0, numLabels) as Int32Array. */
export function randomLabels(length: number, numLabels: number, seed: number): Int32Array {
  const next = rng(seed);
  return Int32Array.from({ length }, () => Math.floor(next() * numLabels));
}

/** A label map correlated with `base`: each voxel keeps its label with probability `keep`. */
export function perturbLabels(base: Int32Array, numLabels: number, keep: number, seed: number) {
  const next = rng(seed);
  return base.map((label) => (next() < keep ? label : Math.floor(next() * numLabels)));
}
