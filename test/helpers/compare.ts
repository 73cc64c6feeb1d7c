/** Element-wise comparison with |got - ref| <= atol + rtol * |ref|, naming the first misses. */
import { expect } from 'vitest';

export interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * Assert two arrays agree element-wise. On failure the message lists the first mismatches by
 * index with both values, and the count. NaN in `got` always fails (poisoned output).
 */
export function expectClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  tolerance: Tolerance = { atol: 1e-5, rtol: 1e-4 },
  what = 'output',
): void {
  expect(got.length, `${what}: length`).toBe(ref.length);
  const misses: string[] = [];
  let count = 0;
  for (let i = 0; i < ref.length; i++) {
    const g = got[i];
    const r = ref[i];
    const ok = Math.abs(g - r) <= tolerance.atol + tolerance.rtol * Math.abs(r);
    if (ok) continue;
    count++;
    if (misses.length < 8) misses.push(`[${i}] got ${g}, ref ${r}`);
  }
  if (count) {
    throw new Error(`${what}: ${count} of ${ref.length} elements differ: ${misses.join('; ')}`);
  }
}

/** Assert two integer arrays are identical, naming the first differences. */
export function expectEqualArrays(got: ArrayLike<number>, ref: ArrayLike<number>, what = 'output') {
  expectClose(got, ref, { atol: 0, rtol: 0 }, what);
}
