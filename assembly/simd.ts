/**
 * Small SIMD helpers shared by the kernels: partial loads and stores for row tails and a
 * vector exp, on four float32 lanes (one v128). Static methods of a class so that `@inline`
 * stays valid TypeScript syntax for the formatter.
 */
/**
 * Lanes.exp's constants, in the order it reads them: clamp bounds, 1 / ln2, 1.5 * 2^23, ln2 in
 * two parts, the polynomial's coefficients, 1, and the bits of 1.5 * 2^23 less 127.
 */
const EXP_CONSTANTS = memory.data<f32>([
  88.3762626647949,
  -87.3365447504019,
  1.44269504088896341,
  12582912,
  0.693359375,
  2.1219444e-4,
  1.98756915e-4,
  1.3981999507e-3,
  8.3334519073e-3,
  4.1665795894e-2,
  1.6666665459e-1,
  5.0000001201e-1,
  1,
  reinterpret<f32>(0x4b400000 - 127),
]);

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
   * stay finite and normal (exp(-100) gives 1.2e-38 instead of 3.7e-44); NaN stays NaN.
   * n comes from adding 1.5 * 2^23, which rounds x / ln2 to an integer held in the low bits of
   * the sum, so n and 2^n need no float-integer conversion. Constants are splat-loaded from
   * EXP_CONSTANTS: V8 rebuilds a v128 constant in three instructions at every use inside a
   * loop, a load32_splat is one.
   */
  @inline
  static exp(x: v128): v128 {
    const k = EXP_CONSTANTS;
    x = f32x4.pmax(f32x4.pmin(x, v128.load32_splat(k)), v128.load32_splat(k, 4));
    const magic = v128.load32_splat(k, 12);
    const t = f32x4.add(f32x4.mul(x, v128.load32_splat(k, 8)), magic);
    const n = f32x4.sub(t, magic);
    let r = f32x4.sub(x, f32x4.mul(n, v128.load32_splat(k, 16)));
    r = f32x4.add(r, f32x4.mul(n, v128.load32_splat(k, 20)));

    let p = v128.load32_splat(k, 24);
    p = f32x4.add(f32x4.mul(p, r), v128.load32_splat(k, 28));
    p = f32x4.add(f32x4.mul(p, r), v128.load32_splat(k, 32));
    p = f32x4.add(f32x4.mul(p, r), v128.load32_splat(k, 36));
    p = f32x4.add(f32x4.mul(p, r), v128.load32_splat(k, 40));
    p = f32x4.add(f32x4.mul(p, r), v128.load32_splat(k, 44));
    const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), v128.load32_splat(k, 48));

    // t's bits are those of 1.5 * 2^23 plus n: take them away, add the exponent bias 127.
    const exponent = i32x4.sub(t, v128.load32_splat(k, 52));
    return f32x4.mul(y, i32x4.shl(exponent, 23));
  }
}
