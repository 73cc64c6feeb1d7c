/**
 * Activations on four lanes, the formulas of ts/engine/activations.ts (codes from
 * ACTIVATION_CODES): linear 0, relu 1, leakyRelu 2, elu 3, gelu 4, sigmoid 5. erf is
 * Abramowitz-Stegun 7.1.26, as in every backend.
 */
import { Lanes } from './simd';

/** Activation code of linear (identity). */
export const ACT_LINEAR = 0;
/** Activation code of relu: max(0, x). */
export const ACT_RELU = 1;
/** Activation code of leakyRelu: x > 0 ? x : alpha x. */
export const ACT_LEAKY_RELU = 2;
/** Activation code of elu: x > 0 ? x : alpha (e^x - 1). */
export const ACT_ELU = 3;
/** Activation code of gelu: x / 2 (1 + erf(x / sqrt 2)). */
export const ACT_GELU = 4;
/** Activation code of sigmoid: 1 / (1 + e^-x). */
export const ACT_SIGMOID = 5;

/** The activation formulas on one v128 of four float32 lanes. */
export class Activate {
  /** erf(x) by Abramowitz-Stegun 7.1.26. */
  @inline
  static erf(x: v128): v128 {
    const a = f32x4.abs(x);
    const one = f32x4.splat(1);
    const t = f32x4.div(one, f32x4.add(one, f32x4.mul(a, f32x4.splat(0.3275911))));
    let poly = f32x4.splat(1.061405429);
    poly = f32x4.add(f32x4.mul(poly, t), f32x4.splat(-1.453152027));
    poly = f32x4.add(f32x4.mul(poly, t), f32x4.splat(1.421413741));
    poly = f32x4.add(f32x4.mul(poly, t), f32x4.splat(-0.284496736));
    poly = f32x4.add(f32x4.mul(poly, t), f32x4.splat(0.254829592));
    poly = f32x4.mul(poly, t);
    const gaussian = Lanes.exp(f32x4.neg(f32x4.mul(a, a)));
    const magnitude = f32x4.sub(one, f32x4.mul(poly, gaussian));
    // Copy x's sign bit onto the magnitude.
    return v128.or(magnitude, v128.and(x, i32x4.splat(0x80000000)));
  }

  /** Activation `code` (alpha: leakyRelu slope or elu scale) of four lanes. */
  @inline
  static lanes(code: i32, alpha: f32, x: v128): v128 {
    const zero = f32x4.splat(0);
    const positive = f32x4.gt(x, zero);
    switch (code) {
      case ACT_RELU:
        return f32x4.pmax(zero, x);
      case ACT_LEAKY_RELU:
        return v128.bitselect(x, f32x4.mul(x, f32x4.splat(alpha)), positive);
      case ACT_ELU: {
        const below = f32x4.mul(f32x4.splat(alpha), f32x4.sub(Lanes.exp(x), f32x4.splat(1)));
        return v128.bitselect(x, below, positive);
      }
      case ACT_GELU: {
        const cdf = f32x4.add(f32x4.splat(1), Activate.erf(f32x4.mul(x, f32x4.splat(0.70710678))));
        return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), cdf);
      }
      case ACT_SIGMOID:
        return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), Lanes.exp(f32x4.neg(x))));
      default:
        return x;
    }
  }
}

/** Apply an activation to `count` floats from `src` into `dst` (may be the same row). */
export function activateRow(src: usize, dst: usize, count: i32, code: i32, alpha: f32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const offset = (<usize>i) << 2;
    v128.store(dst + offset, Activate.lanes(code, alpha, v128.load(src + offset)));
  }
  const rest = count - i;
  if (rest > 0) {
    const offset = (<usize>i) << 2;
    Lanes.store(dst + offset, Activate.lanes(code, alpha, Lanes.load(src + offset, rest)), rest);
  }
}

/** Element-wise activation. x, out: (count) float32, may alias; code from ACTIVATION_CODES. */
export function activation_apply(x: usize, out: usize, count: i32, code: i32, alpha: f32): void {
  activateRow(x, out, count, code, alpha);
}
