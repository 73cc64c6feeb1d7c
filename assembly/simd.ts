/**
 * Small SIMD helpers shared by the kernels: partial loads and stores for row tails and a
 * vector exp, on four float32 lanes (one v128). Static methods of a class so that `@inline`
 * stays valid TypeScript syntax for the formatter.
 */
export class Lanes {
  /** Load the first `count` (0..4) floats at `ptr` into a vector; missing lanes are zero. */
  @inline
  static load(ptr: usize, count: i32): v128 {
    if (count >= 4) return v128.load(ptr);
    let v = f32x4.splat(0);
    if (count > 0) v = f32x4.replace_lane(v, 0, load<f32>(ptr));
    if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(ptr, 4));
    if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(ptr, 8));
    return v;
  }

  /** Store the first `count` (0..4) lanes of `v` at `ptr`. */
  @inline
  static store(ptr: usize, v: v128, count: i32): void {
    if (count >= 4) {
      v128.store(ptr, v);
      return;
    }
    if (count > 0) store<f32>(ptr, f32x4.extract_lane(v, 0));
    if (count > 1) store<f32>(ptr, f32x4.extract_lane(v, 1), 4);
    if (count > 2) store<f32>(ptr, f32x4.extract_lane(v, 2), 8);
  }

  /**
   * exp(x) on four lanes: range reduction x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two
   * parts), a degree-7 polynomial for e^r (Cephes' expf coefficients), then 2^n built in the
   * exponent bits. Relative error about 2 ulp; inputs are clamped to [-87.3, 88.3], so results
   * stay finite and normal (exp(-100) gives 1.2e-38 instead of 3.7e-44).
   */
  @inline
  static exp(x: v128): v128 {
    x = f32x4.max(f32x4.min(x, f32x4.splat(88.3762626647949)), f32x4.splat(-87.3365447504019));
    const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
    let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
    r = f32x4.add(r, f32x4.mul(n, f32x4.splat(2.1219444e-4)));

    let p = f32x4.splat(1.98756915e-4);
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
    const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));

    const exponent = i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127));
    return f32x4.mul(y, i32x4.shl(exponent, 23));
  }
}
