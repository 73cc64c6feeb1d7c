/**
 * softmax_channels and argmax_channels: reductions over the channel axis of (C, S) blocks,
 * vectorised along S (four spatial positions per step, channels strided by S).
 */
import { Lanes } from './simd';

/**
 * Softmax over channels for positions [start, end) of one batch item.
 * x, out: (C, S) float32 (no aliasing).
 */
export function softmax_channels(
  x: usize,
  out: usize,
  channels: i32,
  spatial: i32,
  start: i32,
  end: i32,
): void {
  const stride = (<usize>spatial) << 2;
  for (let s = start; s < end; s += 4) {
    const lanes = min(4, end - s);
    const at = (<usize>s) << 2;
    softmaxLanes(x + at, out + at, channels, stride, lanes);
  }
}

/** Softmax over channels for up to four positions at x, out; channel c at c * stride bytes. */
function softmaxLanes(x: usize, out: usize, channels: i32, stride: usize, lanes: i32): void {
  let largest = Lanes.load(x, lanes);
  for (let c = 1; c < channels; c++) {
    largest = f32x4.max(largest, Lanes.load(x + <usize>c * stride, lanes));
  }
  let sum = f32x4.splat(0);
  for (let c = 0; c < channels; c++) {
    const e = Lanes.exp(f32x4.sub(Lanes.load(x + <usize>c * stride, lanes), largest));
    sum = f32x4.add(sum, e);
    Lanes.store(out + <usize>c * stride, e, lanes);
  }
  for (let c = 0; c < channels; c++) {
    const ptr = out + <usize>c * stride;
    Lanes.store(ptr, f32x4.div(Lanes.load(ptr, lanes), sum), lanes);
  }
}

/**
 * Index of the largest channel, ties to the lower index, for positions [start, end) of one
 * batch item. x: (C, S) float32; out: (S) int32.
 */
export function argmax_channels(
  x: usize,
  out: usize,
  channels: i32,
  spatial: i32,
  start: i32,
  end: i32,
): void {
  const stride = (<usize>spatial) << 2;
  for (let s = start; s < end; s += 4) {
    const lanes = min(4, end - s);
    const at = (<usize>s) << 2;
    let best = Lanes.load(x + at, lanes);
    let index = i32x4.splat(0);
    for (let c = 1; c < channels; c++) {
      const value = Lanes.load(x + at + <usize>c * stride, lanes);
      const greater = f32x4.gt(value, best);
      best = v128.bitselect(value, best, greater);
      index = v128.bitselect(i32x4.splat(c), index, greater);
    }
    Lanes.store(out + at, index, lanes);
  }
}
