/** Grid geometry: 4x4 inverse and product, orientation codes, quaternions. */
import { describe, expect, it } from 'vitest';
import {
  affineFromQuaternion,
  identity4,
  invert4,
  multiply4,
  orientationCode,
  quaternionFromAffine,
  transformPoint,
} from '../ts/io/affine.js';
import { expectClose } from './helpers/compare.js';
import { rng } from './helpers/random.js';

const LIA = [-1, 0, 0, 127.5, 0, 0, 1, -133.5, 0, -1, 0, 134.5, 0, 0, 0, 1];

/** A random proper rotation from a random unit quaternion. */
function randomRotationAffine(seed: number): number[] {
  const next = rng(seed);
  const q = [next() - 0.5, next() - 0.5, next() - 0.5, next() - 0.5];
  const n = Math.hypot(...q);
  // a = q[0] / n is implied (NIfTI keeps a >= 0): scale by its sign.
  const [, b, c, d] = q.map((v) => (v / n) * Math.sign(q[0]));
  return affineFromQuaternion({ b, c, d, qfac: 1, spacing: [1.5, 0.8, 3], offset: [1, -2, 3] });
}

describe('4x4 matrices', () => {
  it('inverts a general affine', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const m = randomRotationAffine(seed);
      m[1] += 0.3; // shear too
      expectClose(multiply4(m, invert4(m)), identity4(), { atol: 1e-12, rtol: 0 });
    }
  });

  it('inverts permutations and flips with half-integer offsets exactly', () => {
    const inverse = invert4(LIA);
    expect(multiply4(LIA, inverse)).toEqual(identity4());
    expect(transformPoint(inverse, transformPoint(LIA, [3, 250, 17]))).toEqual([3, 250, 17]);
  });

  it('rejects a singular matrix naming it', () => {
    expect(() => invert4([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], 'sform')).toThrow(
      /expected an invertible, finite 4x4 matrix for sform/,
    );
  });
});

describe('orientation codes', () => {
  it('names each voxel axis by the direction it grows towards', () => {
    expect(orientationCode(LIA)).toBe('LIA');
    expect(orientationCode(identity4())).toBe('RAS');
    expect(orientationCode([0, 0, -2, 0, -2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1])).toBe('PSL');
  });

  it('assigns oblique axes to distinct world axes', () => {
    // 45-degree in-plane rotation: both x and y columns weigh x and y equally.
    const s = Math.SQRT1_2;
    const code = orientationCode([s, -s, 0, 0, s, s, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect(new Set(code).size).toBe(3);
    expect(code[2]).toBe('S');
  });
});

describe('quaternions', () => {
  it('round-trips rotations of every angle, both handednesses', () => {
    const halfTurns = [
      [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1],
      [-1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1],
      [-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
    ];
    const affines = [...halfTurns, ...[1, 2, 3, 4, 5, 6].map(randomRotationAffine), LIA];
    for (const affine of affines) {
      for (const flip of [1, -1]) {
        const m = affine.map((v, i) => (i % 4 === 2 && i < 12 ? v * flip : v));
        const q = quaternionFromAffine(m);
        expect(q?.qfac).toBe(flip * Math.sign(determinant(affine)));
        expectClose(affineFromQuaternion(q!), m, { atol: 1e-12, rtol: 0 });
      }
    }
  });

  it('gives no quaternion for a sheared affine', () => {
    expect(quaternionFromAffine([1, 0.2, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])).toBeNull();
  });
});

function determinant(m: number[]): number {
  return (
    m[0] * (m[5] * m[10] - m[6] * m[9]) -
    m[1] * (m[4] * m[10] - m[6] * m[8]) +
    m[2] * (m[4] * m[9] - m[5] * m[8])
  );
}
