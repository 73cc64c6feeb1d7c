/**
 * label_confusion and soft_dice: per-label counts and soft Dice sums over label maps stored
 * as uint8, uint16 or int32 (one export per dtype; both maps of a call share the dtype).
 *
 * label_confusion counts in one of two ways, both exactly equal to counting voxel by voxel:
 * - byte lanes (uint8 and uint16 maps, up to VECTOR_LABELS labels): chunks of up to 255 blocks
 *   of 16 voxels. A first pass streams the chunk from memory as bytes (uint16 clamped to 255),
 *   turns voxels whose ref is the ignore label into label 0 in both maps, checks the labels'
 *   range and counts agreeing voxels. Then, from L1, each pair of labels 1.. keeps per-label
 *   i8x16.eq counters in registers (a true lane is -1, subtracted), widened once per chunk.
 *   Label 0 is what the other labels leave of the chunk's totals. The cost grows with the
 *   labels and not with the data.
 * - blocks of 16 bytes (more labels, int32 maps, tails): a block that holds one label in each
 *   map (most of a segmentation: background and the inside of structures) adds at once; a
 *   block on a border (a few labels) adds the lanes of each distinct label at once; a noisy
 *   block goes voxel by voxel. The cost grows with the borders and not with the labels.
 */

/**
 * Labels up to which uint8 and uint16 maps are counted in byte lanes. Past about 8 labels, a
 * segmentation (large uniform regions) counts faster by blocks; a map of noise would not.
 */
const VECTOR_LABELS: i32 = 8;
/** Voxels of a chunk: 255 blocks of 16, as many as a byte lane can count. */
const CHUNK_VOXELS: i32 = 255 * 16;
/** Distinct labels of a map in a border block counted at once; its other lanes one by one. */
const MIXED_LABELS: i32 = 4;

/** Helpers of label_confusion (static methods, so that `@inline` stays valid TypeScript). */
class Tally {
  /** counts[row][label] += n, wrapping. counts: (3, numLabels) uint32 rows tp, pred, ref. */
  @inline
  static add(counts: usize, row: i32, numLabels: i32, label: i32, n: u32): void {
    const at = counts + ((<usize>row * <usize>numLabels + <usize>label) << 2);
    store<u32>(at, load<u32>(at) + n);
  }

  /** Move n counts of `row` from label 0 to `label`. */
  @inline
  static move(counts: usize, row: i32, numLabels: i32, label: i32, n: u32): void {
    Tally.add(counts, row, numLabels, label, n);
    Tally.add(counts, row, numLabels, 0, 0 - n);
  }

  /** The sum of 16 byte lanes. */
  @inline
  static sum(v: v128): u32 {
    const wide = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(v));
    const pair = i32x4.add(wide, i32x4.shuffle(wide, wide, 2, 3, 0, 1));
    return i32x4.extract_lane(pair, 0) + i32x4.extract_lane(pair, 1);
  }

  /** One label's byte-lane counters (tp, pred, ref), moved from label 0 to `label`. */
  @inline
  static flush(counts: usize, numLabels: i32, label: i32, t: v128, p: v128, r: v128): void {
    Tally.move(counts, 0, numLabels, label, Tally.sum(t));
    Tally.move(counts, 1, numLabels, label, Tally.sum(p));
    Tally.move(counts, 2, numLabels, label, Tally.sum(r));
  }

  /** 16 labels at `ptr` as bytes: uint8 as stored, uint16 clamped to 255. */
  @inline
  static bytes<T>(ptr: usize): v128 {
    if (sizeof<T>() == 1) return v128.load(ptr);
    const cap = i16x8.splat(255);
    const low = i16x8.min_u(v128.load(ptr), cap);
    return i8x16.narrow_i16x8_u(low, i16x8.min_u(v128.load(ptr, 16), cap));
  }

  /** Byte masks of the 16 labels at `ptr` equal to `label` (a splat of T's lane width). */
  @inline
  static equal<T>(ptr: usize, label: v128): v128 {
    if (sizeof<T>() == 1) return i8x16.eq(v128.load(ptr), label);
    const low = i16x8.eq(v128.load(ptr), label);
    return i8x16.narrow_i16x8_s(low, i16x8.eq(v128.load(ptr, 16), label));
  }

  /** `label` in every lane of T's width. */
  @inline
  static splat<T>(label: i32): v128 {
    if (sizeof<T>() == 1) return i8x16.splat(<i8>label);
    if (sizeof<T>() == 2) return i16x8.splat(<i16>label);
    return i32x4.splat(label);
  }

  /** One bit per lane of T's width: the lanes where a and b are equal. */
  @inline
  static equalBits<T>(a: v128, b: v128): i32 {
    if (sizeof<T>() == 1) return i8x16.bitmask(i8x16.eq(a, b));
    if (sizeof<T>() == 2) return i16x8.bitmask(i16x8.eq(a, b));
    return i32x4.bitmask(i32x4.eq(a, b));
  }

  /** One bit per lane of T's width: the lanes where p or r is outside [0, numLabels). */
  @inline
  static outsideBits<T>(p: v128, r: v128, numLabels: i32): i32 {
    if (sizeof<T>() < 4 && numLabels >>> (sizeof<T>() << 3) != 0) return 0; // T holds no such label
    const limit = Tally.splat<T>(numLabels);
    if (sizeof<T>() == 1) return i8x16.bitmask(v128.or(i8x16.ge_u(p, limit), i8x16.ge_u(r, limit)));
    if (sizeof<T>() == 2) return i16x8.bitmask(v128.or(i16x8.ge_u(p, limit), i16x8.ge_u(r, limit)));
    return i32x4.bitmask(v128.or(i32x4.ge_u(p, limit), i32x4.ge_u(r, limit)));
  }

  /**
   * Add the `lanes` (bits) of one block of a map to the counts of `row`: up to MIXED_LABELS
   * distinct labels with all their lanes at once, then lane by lane; lanes also in `same` are
   * added to their label's tp when row is 1 (pred). The block's labels: at `ptr`, and in `v`.
   */
  @inline
  static distinct<T>(
    ptr: usize,
    v: v128,
    lanes: i32,
    same: i32,
    row: i32,
    numLabels: i32,
    counts: usize,
  ): void {
    for (let k = 0; lanes != 0 && k < MIXED_LABELS; k++) {
      const label = <i32>load<T>(ptr + <usize>ctz(lanes) * sizeof<T>());
      const hits = Tally.equalBits<T>(v, Tally.splat<T>(label)) & lanes;
      Tally.add(counts, row, numLabels, label, popcnt(hits));
      if (row == 1) Tally.add(counts, 0, numLabels, label, popcnt(hits & same));
      lanes &= ~hits;
    }
    for (; lanes != 0; lanes &= lanes - 1) {
      const lane = ctz(lanes);
      const label = <i32>load<T>(ptr + <usize>lane * sizeof<T>());
      Tally.add(counts, row, numLabels, label, 1);
      if (row == 1) Tally.add(counts, 0, numLabels, label, (same >>> lane) & 1);
    }
  }

  /** One bit per lane of T's width: the lanes of `v` that equal its first lane. */
  @inline
  static firstBits<T>(v: v128): i32 {
    if (sizeof<T>() == 1) return i8x16.bitmask(i8x16.eq(v, i8x16.swizzle(v, i8x16.splat(0))));
    if (sizeof<T>() == 2) return Tally.equalBits<T>(v, i16x8.shuffle(v, v, 0, 0, 0, 0, 0, 0, 0, 0));
    return Tally.equalBits<T>(v, i32x4.shuffle(v, v, 0, 0, 0, 0));
  }

  /**
   * The pass that streams one chunk of `n` voxels (a multiple of 16) from memory: both maps
   * as bytes, voxels whose ref is `ignore` turned into label 0 (when `ignoring`), written to
   * p8 and r8 when they differ from the maps (uint16, or ignoring); the chunk's kept and
   * agreeing voxels added to label 0's counts.
   * @returns false when a kept voxel has a label outside [0, numLabels).
   */
  @inline
  static stage<T>(
    pred: usize,
    ref: usize,
    n: i32,
    numLabels: i32,
    ignore: i32,
    ignoring: bool,
    p8: usize,
    r8: usize,
    counts: usize,
  ): bool {
    const skip = Tally.splat<T>(ignore);
    let high = i8x16.splat(0);
    let agree = high;
    let skipped = high;
    for (let i = 0; i < n; i += 16) {
      const at = <usize>i * sizeof<T>();
      let p = Tally.bytes<T>(pred + at);
      let r = Tally.bytes<T>(ref + at);
      if (ignoring) {
        const gone = Tally.equal<T>(ref + at, skip);
        p = v128.andnot(p, gone);
        r = v128.andnot(r, gone);
        skipped = i8x16.sub(skipped, gone);
      }
      if (sizeof<T>() == 2 || ignoring) {
        v128.store(p8 + <usize>i, p);
        v128.store(r8 + <usize>i, r);
      }
      high = i8x16.max_u(high, i8x16.max_u(p, r));
      agree = i8x16.sub(agree, i8x16.eq(p, r));
    }

    const kept = <u32>n - Tally.sum(skipped);
    Tally.add(counts, 0, numLabels, 0, Tally.sum(agree) - Tally.sum(skipped));
    Tally.add(counts, 1, numLabels, 0, kept);
    Tally.add(counts, 2, numLabels, 0, kept);
    return !v128.any_true(i8x16.gt_u(high, i8x16.splat(<i8>(numLabels - 1))));
  }
}

/**
 * Count voxels [start, end) one by one, skipping those whose ref is `ignore` when hasIgnore.
 * @returns the first voxel with a label outside [0, numLabels), or -1.
 */
function countVoxels<T>(
  pred: usize,
  ref: usize,
  start: i32,
  end: i32,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
): i32 {
  for (let i = start; i < end; i++) {
    const p = <i32>load<T>(pred + <usize>i * sizeof<T>());
    const r = <i32>load<T>(ref + <usize>i * sizeof<T>());
    if (hasIgnore && r == ignore) continue;
    if (<u32>p >= <u32>numLabels || <u32>r >= <u32>numLabels) return i;
    Tally.add(counts, 1, numLabels, p, 1);
    Tally.add(counts, 2, numLabels, r, 1);
    Tally.add(counts, 0, numLabels, p, <u32>(p == r)); // no branch: p == r is data, not a rule
  }
  return -1;
}

/**
 * Count one block of 16 bytes whose maps hold more than one label: the lanes of each distinct
 * label at once (a block on a border holds two to four per map).
 * @returns the first lane with a label outside [0, numLabels), or -1.
 */
function countMixed<T>(
  pred: usize,
  ref: usize,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
): i32 {
  const p = v128.load(pred);
  const r = v128.load(ref);
  let kept = (1 << (16 / <i32>sizeof<T>())) - 1;
  if (hasIgnore) kept &= ~Tally.equalBits<T>(r, Tally.splat<T>(ignore));
  const outside = Tally.outsideBits<T>(p, r, numLabels) & kept;
  if (outside != 0) return ctz(outside);

  const same = Tally.equalBits<T>(p, r) & kept;
  Tally.distinct<T>(pred, p, kept, same, 1, numLabels, counts);
  Tally.distinct<T>(ref, r, kept, 0, 2, numLabels, counts);
  return -1;
}

/**
 * Count voxels [start, end) by blocks of 16 bytes: a block with one label in each map at once,
 * a block with a few labels by countMixed, a noisy one (the first lanes' label covers less
 * than half the lanes of both maps) voxel by voxel; the tail voxel by voxel.
 * @returns the first voxel with a label outside [0, numLabels), or -1.
 */
function countBlocks<T>(
  pred: usize,
  ref: usize,
  start: i32,
  end: i32,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
): i32 {
  const lanes = 16 / <i32>sizeof<T>();
  const all = (1 << lanes) - 1;
  let i = start;
  for (; i <= end - lanes; i += lanes) {
    const at = <usize>i * sizeof<T>();
    const first = Tally.firstBits<T>(v128.load(pred + at));
    const firstRef = Tally.firstBits<T>(v128.load(ref + at));
    if ((first & firstRef) != all) {
      const bad =
        popcnt(first) + popcnt(firstRef) >= lanes
          ? countMixed<T>(pred + at, ref + at, numLabels, ignore, hasIgnore, counts)
          : countVoxels<T>(pred + at, ref + at, 0, lanes, numLabels, ignore, hasIgnore, counts);
      if (bad >= 0) return i + bad;
      continue;
    }

    const p0 = <i32>load<T>(pred + at);
    const r0 = <i32>load<T>(ref + at);
    if (hasIgnore && r0 == ignore) continue;
    if (<u32>p0 >= <u32>numLabels || <u32>r0 >= <u32>numLabels) return i;
    Tally.add(counts, 1, numLabels, p0, lanes);
    Tally.add(counts, 2, numLabels, r0, lanes);
    Tally.add(counts, 0, numLabels, p0, p0 == r0 ? lanes : 0);
  }
  return countVoxels<T>(pred, ref, i, end, numLabels, ignore, hasIgnore, counts);
}

/** Labels first and first + 1 over n bytes per map (every label < numLabels), from label 0. */
function countTwoLabels(
  p8: usize,
  r8: usize,
  n: i32,
  first: i32,
  numLabels: i32,
  counts: usize,
): void {
  const a = i8x16.splat(<i8>first);
  const b = i8x16.splat(<i8>(first + 1));
  let ta = i8x16.splat(0);
  let pa = ta;
  let ra = ta;
  let tb = ta;
  let pb = ta;
  let rb = ta;
  for (let i: usize = 0; i < <usize>n; i += 16) {
    const p = v128.load(p8 + i);
    const r = v128.load(r8 + i);
    let mp = i8x16.eq(p, a);
    let mr = i8x16.eq(r, a);
    pa = i8x16.sub(pa, mp);
    ra = i8x16.sub(ra, mr);
    ta = i8x16.sub(ta, v128.and(mp, mr));
    mp = i8x16.eq(p, b);
    mr = i8x16.eq(r, b);
    pb = i8x16.sub(pb, mp);
    rb = i8x16.sub(rb, mr);
    tb = i8x16.sub(tb, v128.and(mp, mr));
  }
  Tally.flush(counts, numLabels, first, ta, pa, ra);
  Tally.flush(counts, numLabels, first + 1, tb, pb, rb);
}

/** Label `label` over n bytes per map (every label < numLabels), moved from label 0. */
function countOneLabel(
  p8: usize,
  r8: usize,
  n: i32,
  label: i32,
  numLabels: i32,
  counts: usize,
): void {
  const a = i8x16.splat(<i8>label);
  let t = i8x16.splat(0);
  let pc = t;
  let rc = t;
  for (let i: usize = 0; i < <usize>n; i += 16) {
    const mp = i8x16.eq(v128.load(p8 + i), a);
    const mr = i8x16.eq(v128.load(r8 + i), a);
    pc = i8x16.sub(pc, mp);
    rc = i8x16.sub(rc, mr);
    t = i8x16.sub(t, v128.and(mp, mr));
  }
  Tally.flush(counts, numLabels, label, t, pc, rc);
}

/**
 * Count uint8 or uint16 maps in byte lanes (numLabels <= VECTOR_LABELS): whole chunks of
 * `chunk` voxels, then the tail by blocks. scratch holds a chunk's maps as bytes, (2, chunk),
 * when they are rewritten (uint16 maps, or ignoring).
 * @returns the first voxel with a label outside [0, numLabels), or -1.
 */
function countLanes<T>(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  ignore: i32,
  ignoring: bool,
  counts: usize,
  scratch: usize,
  chunk: i32,
): i32 {
  const rewrite = sizeof<T>() == 2 || ignoring;
  const whole = count & ~15;
  for (let start = 0; start < whole; start += chunk) {
    const n = min(chunk, whole - start);
    const p = pred + <usize>start * sizeof<T>();
    const r = ref + <usize>start * sizeof<T>();
    const p8 = rewrite ? scratch : p;
    const r8 = rewrite ? scratch + <usize>chunk : r;
    const fits = ignoring
      ? Tally.stage<T>(p, r, n, numLabels, ignore, true, p8, r8, counts)
      : Tally.stage<T>(p, r, n, numLabels, ignore, false, p8, r8, counts);
    if (!fits) return start + countVoxels<T>(p, r, 0, n, numLabels, ignore, ignoring, counts);

    let first = 1;
    for (; first + 1 < numLabels; first += 2) countTwoLabels(p8, r8, n, first, numLabels, counts);
    if (first < numLabels) countOneLabel(p8, r8, n, first, numLabels, counts);
  }
  return countBlocks<T>(pred, ref, whole, count, numLabels, ignore, ignoring, counts);
}

/**
 * Count labels of `count` voxels: tp[l] (pred = ref = l), predCount[l], refCount[l] added to
 * counts, skipping voxels whose ref equals `ignore` when hasIgnore. scratch: scratchBytes per
 * thread for uint8 and uint16 maps (2 * CHUNK_VOXELS is enough; less gives smaller chunks).
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
  scratch: usize,
  scratchBytes: usize,
): i32 {
  // An ignore label that T cannot hold matches no voxel.
  const ignoring = hasIgnore && (sizeof<T>() == 4 || ignore >>> (sizeof<T>() << 3) == 0);
  const rewrite = sizeof<T>() == 2 || ignoring;
  const chunk = rewrite ? (<i32>min<usize>(CHUNK_VOXELS, scratchBytes >> 1)) & ~15 : CHUNK_VOXELS;
  if (sizeof<T>() == 4 || numLabels > VECTOR_LABELS || chunk == 0) {
    return countBlocks<T>(pred, ref, 0, count, numLabels, ignore, ignoring, counts);
  }
  return countLanes<T>(pred, ref, count, numLabels, ignore, ignoring, counts, scratch, chunk);
}

/**
 * Label counts of uint8 maps. pred, ref: (count) uint8; counts: (3, numLabels) uint32 rows
 * tp, pred, ref, added to; scratch: scratchBytes of this thread's own.
 */
export function label_confusion_u8(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
  scratch: usize,
  scratchBytes: usize,
): i32 {
  return labelConfusion<u8>(
    pred,
    ref,
    count,
    numLabels,
    ignore,
    hasIgnore,
    counts,
    scratch,
    scratchBytes,
  );
}

/**
 * Label counts of uint16 maps. pred, ref: (count) uint16; counts: (3, numLabels) uint32 rows
 * tp, pred, ref, added to; scratch: scratchBytes of this thread's own.
 */
export function label_confusion_u16(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
  scratch: usize,
  scratchBytes: usize,
): i32 {
  return labelConfusion<u16>(
    pred,
    ref,
    count,
    numLabels,
    ignore,
    hasIgnore,
    counts,
    scratch,
    scratchBytes,
  );
}

/**
 * Label counts of int32 maps. pred, ref: (count) int32; counts: (3, numLabels) uint32 rows
 * tp, pred, ref, added to; scratch: scratchBytes of this thread's own (unused: int32 maps are counted by blocks).
 */
export function label_confusion_i32(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  ignore: i32,
  hasIgnore: bool,
  counts: usize,
  scratch: usize,
  scratchBytes: usize,
): i32 {
  return labelConfusion<i32>(
    pred,
    ref,
    count,
    numLabels,
    ignore,
    hasIgnore,
    counts,
    scratch,
    scratchBytes,
  );
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
