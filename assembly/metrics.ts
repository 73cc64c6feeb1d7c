/**
 * label_confusion and soft_dice: per-label counts and soft Dice sums over label maps stored
 * as uint8, uint16 or int32 (one export per dtype; both maps of a call share the dtype).
 */

/**
 * Count labels of `count` voxels: tp[l] (pred = ref = l), predCount[l], refCount[l], skipping
 * voxels whose ref equals `ignore` when hasIgnore. Counts are uint32 and accumulate.
 * @returns the index of the first voxel with a label outside [0, numLabels), or -1.
 */
function labelConfusion<T>(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
): i32 {
  const tp = counts;
  const predCount = counts + ((<usize>numLabels) << 2);
  const refCount = counts + ((<usize>numLabels) << 3);
  for (let i = 0; i < count; i++) {
    const p = <i32>load<T>(pred + <usize>i * sizeof<T>());
    const r = <i32>load<T>(ref + <usize>i * sizeof<T>());
    if (hasIgnore && r == ignore) continue;
    if (<u32>p >= <u32>numLabels || <u32>r >= <u32>numLabels) return i;
    const pAt = (<usize>p) << 2;
    const rAt = (<usize>r) << 2;
    store<u32>(predCount + pAt, load<u32>(predCount + pAt) + 1);
    store<u32>(refCount + rAt, load<u32>(refCount + rAt) + 1);
    if (p == r) store<u32>(tp + pAt, load<u32>(tp + pAt) + 1);
  }
  return -1;
}

/** Label counts of uint8 maps. pred, ref: (count) uint8; counts: (3, numLabels) uint32. */
export function label_confusion_u8(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
): i32 {
  return labelConfusion<u8>(pred, ref, count, numLabels, ignore, hasIgnore, counts);
}

/** Label counts of uint16 maps. pred, ref: (count) uint16; counts: (3, numLabels) uint32. */
export function label_confusion_u16(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
): i32 {
  return labelConfusion<u16>(pred, ref, count, numLabels, ignore, hasIgnore, counts);
}

/** Label counts of int32 maps. pred, ref: (count) int32; counts: (3, numLabels) uint32. */
export function label_confusion_i32(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
): i32 {
  return labelConfusion<i32>(pred, ref, count, numLabels, ignore, hasIgnore, counts);
}

/**
 * Add soft Dice sums of positions [start, end) of one batch item: sum(p * [t = c]), sum(p),
 * sum([t = c]) per channel, in float64.
 */
function softDice<T>(
  probs: usize,
  target: usize,
  channels: i32,
  spatial: i32,
  start: i32,
  end: i32,
  sums: usize,
): void {
  for (let c = 0; c < channels; c++) {
    const plane = probs + ((<usize>c * <usize>spatial) << 2);
    let intersection: f64 = 0;
    let predSum: f64 = 0;
    let targetSum: f64 = 0;
    for (let s = start; s < end; s++) {
      const p = <f64>load<f32>(plane + ((<usize>s) << 2));
      const hit = <i32>load<T>(target + <usize>s * sizeof<T>()) == c;
      predSum += p;
      if (hit) {
        intersection += p;
        targetSum += 1;
      }
    }
    const at = (<usize>c) << 3;
    const row = (<usize>channels) << 3;
    store<f64>(sums + at, load<f64>(sums + at) + intersection);
    store<f64>(sums + row + at, load<f64>(sums + row + at) + predSum);
    store<f64>(sums + 2 * row + at, load<f64>(sums + 2 * row + at) + targetSum);
  }
}

/** Soft Dice sums. probs: (C, S) float32; target: (S) uint8; sums: (3, C) float64, added to. */
export function soft_dice_u8(
  probs: usize,
  target: usize,
  channels: i32,
  spatial: i32,
  start: i32,
  end: i32,
  sums: usize,
): void {
  softDice<u8>(probs, target, channels, spatial, start, end, sums);
}

/** Soft Dice sums. probs: (C, S) float32; target: (S) uint16; sums: (3, C) float64, added to. */
export function soft_dice_u16(
  probs: usize,
  target: usize,
  channels: i32,
  spatial: i32,
  start: i32,
  end: i32,
  sums: usize,
): void {
  softDice<u16>(probs, target, channels, spatial, start, end, sums);
}

/** Soft Dice sums. probs: (C, S) float32; target: (S) int32; sums: (3, C) float64, added to. */
export function soft_dice_i32(
  probs: usize,
  target: usize,
  channels: i32,
  spatial: i32,
  start: i32,
  end: i32,
  sums: usize,
): void {
  softDice<i32>(probs, target, channels, spatial, start, end, sums);
}

/** Widen labels to int32. src: (count) uint8; dst: (count) int32. */
export function labels_widen_u8(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i++)
    store<i32>(dst + ((<usize>i) << 2), <i32>load<u8>(src + <usize>i));
}

/** Widen labels to int32. src: (count) uint16; dst: (count) int32. */
export function labels_widen_u16(src: usize, dst: usize, count: i32): void {
  for (let i = 0; i < count; i++)
    store<i32>(dst + ((<usize>i) << 2), <i32>load<u16>(src + ((<usize>i) << 1)));
}
