/**
 * instance_norm_stats / instance_norm_apply: instance normalisation over the spatial axes of
 * each (n, c) plane. Statistics are two passes in float64 (mean, then the biased variance of
 * the deviations), so a large mean does not cost precision; the apply pass is float64 too,
 * then the fused activation runs in float32.
 */
import { activateRow } from './activation';

/** Sum of `count` floats at `ptr` in float64, two lanes at a time. */
function sumPlane(ptr: usize, count: i32): f64 {
  let acc = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const v = v128.load(ptr + ((<usize>i) << 2));
    acc = f64x2.add(acc, f64x2.promote_low_f32x4(v));
    acc = f64x2.add(acc, f64x2.promote_low_f32x4(v128.shuffle<i64>(v, v, 1, 1)));
  }
  let total = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < count; i++) total += <f64>load<f32>(ptr + ((<usize>i) << 2));
  return total;
}

/** Sum of squared deviations from `mean` of `count` floats at `ptr`, in float64. */
function sumSquares(ptr: usize, count: i32, mean: f64): f64 {
  const m = f64x2.splat(mean);
  let acc = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const v = v128.load(ptr + ((<usize>i) << 2));
    const lo = f64x2.sub(f64x2.promote_low_f32x4(v), m);
    const hi = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<i64>(v, v, 1, 1)), m);
    acc = f64x2.add(acc, f64x2.add(f64x2.mul(lo, lo), f64x2.mul(hi, hi)));
  }
  let total = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < count; i++) {
    const d = <f64>load<f32>(ptr + ((<usize>i) << 2)) - mean;
    total += d * d;
  }
  return total;
}

/**
 * Mean and biased variance of planes [planeStart, planeEnd). x: (N * C, S) float32;
 * stats: (N * C, 2) float64 as (mean, variance).
 */
export function instance_norm_stats(
  x: usize,
  stats: usize,
  spatial: i32,
  planeStart: i32,
  planeEnd: i32,
): void {
  for (let plane = planeStart; plane < planeEnd; plane++) {
    const ptr = x + ((<usize>plane * <usize>spatial) << 2);
    const mean = sumPlane(ptr, spatial) / <f64>spatial;
    const variance = sumSquares(ptr, spatial, mean) / <f64>spatial;
    store<f64>(stats + ((<usize>plane) << 4), mean);
    store<f64>(stats + ((<usize>plane) << 4), variance, 8);
  }
}

/**
 * out = act((x - mean) / sqrt(var + eps) * scale[c] + shift[c]) for planes
 * [planeStart, planeEnd). x, out: (N * C, S) float32; stats: (N * C, 2) float64;
 * scale, shift: (C) float32 or 0 for none; code, alpha: the activation.
 */
export function instance_norm_apply(
  x: usize,
  out: usize,
  stats: usize,
  scale: usize,
  shift: usize,
  channels: i32,
  spatial: i32,
  eps: f64,
  code: i32,
  alpha: f32,
  planeStart: i32,
  planeEnd: i32,
): void {
  for (let plane = planeStart; plane < planeEnd; plane++) {
    const c = plane % channels;
    const mean = load<f64>(stats + ((<usize>plane) << 4));
    const variance = load<f64>(stats + ((<usize>plane) << 4), 8);
    const gain = scale ? <f64>load<f32>(scale + ((<usize>c) << 2)) : 1.0;
    const offset = shift ? <f64>load<f32>(shift + ((<usize>c) << 2)) : 0.0;
    const factor = gain / Math.sqrt(variance + eps);

    const base = (<usize>plane * <usize>spatial) << 2;
    normalisePlane(x + base, out + base, spatial, mean, factor, offset);
    activateRow(out + base, out + base, spatial, code, alpha);
  }
}

/** out = (x - mean) * factor + offset in float64, rounded to float32. */
function normalisePlane(
  x: usize,
  out: usize,
  count: i32,
  mean: f64,
  factor: f64,
  offset: f64,
): void {
  const m = f64x2.splat(mean);
  const f = f64x2.splat(factor);
  const b = f64x2.splat(offset);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const at = (<usize>i) << 2;
    const v = v128.load(x + at);
    const lo = f64x2.add(f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v), m), f), b);
    const hi = f64x2.add(
      f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<i64>(v, v, 1, 1)), m), f),
      b,
    );
    const packed = v128.shuffle<i64>(
      f32x4.demote_f64x2_zero(lo),
      f32x4.demote_f64x2_zero(hi),
      0,
      2,
    );
    v128.store(out + at, packed);
  }
  for (; i < count; i++) {
    const at = (<usize>i) << 2;
    store<f32>(out + at, <f32>((<f64>load<f32>(x + at) - mean) * factor + offset));
  }
}
