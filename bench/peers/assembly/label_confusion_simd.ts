/**
 * A proposed SIMD label_confusion for voxseg's wasm backend, compiled by
 * bench/peers/label-confusion-simd.ts (asc, SIMD, no threads) and measured in the Dice suite.
 * Counts are (3, numLabels) uint32 rows (tp, pred, ref), added to; labels are checked.
 */
const CHUNK: i32 = 255 * 16;

/** Small helpers (static methods, so that `@inline` stays valid TypeScript). */
class Count {
  /** The sum of 16 byte lanes. */
  @inline
  static lanesSum(v: v128): u32 {
    const wide = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(v));
    const pair = i32x4.add(wide, i32x4.shuffle(wide, wide, 2, 3, 0, 1));
    return i32x4.extract_lane(pair, 0) + i32x4.extract_lane(pair, 1);
  }

  /** counts[row][label] += n. */
  @inline
  static bump(counts: usize, row: i32, numLabels: i32, label: i32, n: u32): void {
    const at = counts + ((<usize>(row * numLabels + label)) << 2);
    store<u32>(at, load<u32>(at) + n);
  }

  /** The largest of 16 byte lanes. */
  @inline
  static highest(v: v128): i32 {
    let m = i8x16.max_u(
      v,
      i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7),
    );
    m = i8x16.max_u(m, i8x16.shuffle(m, m, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
    m = i8x16.max_u(m, i8x16.shuffle(m, m, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
    m = i8x16.max_u(m, i8x16.shuffle(m, m, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));
    return <i32>i8x16.extract_lane_u(m, 0);
  }

  /** One voxel into the counts; false for a label outside [0, numLabels). */
  @inline
  static one(p: i32, r: i32, numLabels: i32, counts: usize): bool {
    if (<u32>p >= <u32>numLabels || <u32>r >= <u32>numLabels) return false;
    Count.bump(counts, 1, numLabels, p, 1);
    Count.bump(counts, 2, numLabels, r, 1);
    if (p == r) Count.bump(counts, 0, numLabels, p, 1);
    return true;
  }
}

/** Labels [first, first + 4) over [start, start + n) (n a multiple of 16, at most CHUNK). */
function countFour(
  pred: usize,
  ref: usize,
  start: i32,
  n: i32,
  first: i32,
  numLabels: i32,
  counts: usize,
): void {
  const s0 = i8x16.splat(<i8>first),
    s1 = i8x16.splat(<i8>(first + 1));
  const s2 = i8x16.splat(<i8>(first + 2)),
    s3 = i8x16.splat(<i8>(first + 3));
  let t0 = i8x16.splat(0),
    t1 = t0,
    t2 = t0,
    t3 = t0;
  let p0 = t0,
    p1 = t0,
    p2 = t0,
    p3 = t0,
    r0 = t0,
    r1 = t0,
    r2 = t0,
    r3 = t0;
  for (let i = start; i < start + n; i += 16) {
    const p = v128.load(pred + <usize>i);
    const r = v128.load(ref + <usize>i);
    const same = i8x16.eq(p, r);
    let mp = i8x16.eq(p, s0),
      mr = i8x16.eq(r, s0);
    p0 = i8x16.sub(p0, mp);
    r0 = i8x16.sub(r0, mr);
    t0 = i8x16.sub(t0, v128.and(mp, same));
    mp = i8x16.eq(p, s1);
    mr = i8x16.eq(r, s1);
    p1 = i8x16.sub(p1, mp);
    r1 = i8x16.sub(r1, mr);
    t1 = i8x16.sub(t1, v128.and(mp, same));
    mp = i8x16.eq(p, s2);
    mr = i8x16.eq(r, s2);
    p2 = i8x16.sub(p2, mp);
    r2 = i8x16.sub(r2, mr);
    t2 = i8x16.sub(t2, v128.and(mp, same));
    mp = i8x16.eq(p, s3);
    mr = i8x16.eq(r, s3);
    p3 = i8x16.sub(p3, mp);
    r3 = i8x16.sub(r3, mr);
    t3 = i8x16.sub(t3, v128.and(mp, same));
  }
  flush(counts, numLabels, first, t0, p0, r0);
  flush(counts, numLabels, first + 1, t1, p1, r1);
  flush(counts, numLabels, first + 2, t2, p2, r2);
  flush(counts, numLabels, first + 3, t3, p3, r3);
}

/** Labels first and first + 1 over [start, start + n). */
function countTwo(
  pred: usize,
  ref: usize,
  start: i32,
  n: i32,
  first: i32,
  numLabels: i32,
  counts: usize,
): void {
  const s0 = i8x16.splat(<i8>first),
    s1 = i8x16.splat(<i8>(first + 1));
  let t0 = i8x16.splat(0),
    t1 = t0,
    p0 = t0,
    p1 = t0,
    r0 = t0,
    r1 = t0;
  for (let i = start; i < start + n; i += 16) {
    const p = v128.load(pred + <usize>i);
    const r = v128.load(ref + <usize>i);
    const same = i8x16.eq(p, r);
    let mp = i8x16.eq(p, s0),
      mr = i8x16.eq(r, s0);
    p0 = i8x16.sub(p0, mp);
    r0 = i8x16.sub(r0, mr);
    t0 = i8x16.sub(t0, v128.and(mp, same));
    mp = i8x16.eq(p, s1);
    mr = i8x16.eq(r, s1);
    p1 = i8x16.sub(p1, mp);
    r1 = i8x16.sub(r1, mr);
    t1 = i8x16.sub(t1, v128.and(mp, same));
  }
  flush(counts, numLabels, first, t0, p0, r0);
  flush(counts, numLabels, first + 1, t1, p1, r1);
}

/**
 * The pass that streams a chunk in from memory: its largest label (returned, to find bad
 * labels) and its agreeing voxels, added to the total after the counts.
 */
function scanChunk(
  pred: usize,
  ref: usize,
  start: i32,
  n: i32,
  numLabels: i32,
  counts: usize,
): i32 {
  let high = i8x16.splat(0);
  let agree = high;
  for (let i = start; i < start + n; i += 16) {
    const p = v128.load(pred + <usize>i);
    const r = v128.load(ref + <usize>i);
    high = i8x16.max_u(high, i8x16.max_u(p, r));
    agree = i8x16.sub(agree, i8x16.eq(p, r));
  }
  const total = counts + ((<usize>(3 * numLabels)) << 2);
  store<u64>(total, load<u64>(total) + <u64>Count.lanesSum(agree));
  return Count.highest(high);
}

/** Add one label's byte-lane counters (tp, pred, ref) to the counts. */
function flush(counts: usize, numLabels: i32, label: i32, t: v128, p: v128, r: v128): void {
  if (label >= numLabels) return;
  Count.bump(counts, 0, numLabels, label, Count.lanesSum(t));
  Count.bump(counts, 1, numLabels, label, Count.lanesSum(p));
  Count.bump(counts, 2, numLabels, label, Count.lanesSum(r));
}

/** First voxel in [start, end) with a label outside [0, numLabels), or -1. */
function firstBad8(pred: usize, ref: usize, start: i32, end: i32, numLabels: i32): i32 {
  for (let i = start; i < end; i++) {
    if (<i32>load<u8>(pred + <usize>i) >= numLabels || <i32>load<u8>(ref + <usize>i) >= numLabels)
      return i;
  }
  return -1;
}

/**
 * uint8 maps: counts (3, numLabels) uint32 added to (tp, pred, ref); first bad voxel or -1.
 * Labels 1.. are counted in groups; label 0 is what the other labels leave of the totals.
 */
export function label_confusion_simd_u8(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  counts: usize,
): i32 {
  const whole = numLabels <= 16 ? count & ~15 : 0;
  const same = counts + ((<usize>(3 * numLabels)) << 2);
  store<u64>(same, 0);
  for (let start = 0; start < whole; start += CHUNK) {
    const n = min(CHUNK, whole - start);
    // One pass from memory (largest label, agreeing voxels), then labels 1.. from L1.
    if (scanChunk(pred, ref, start, n, numLabels, counts) >= numLabels)
      return firstBad8(pred, ref, start, start + n, numLabels);
    let first = 1;
    for (; first + 2 < numLabels; first += 4)
      countFour(pred, ref, start, n, first, numLabels, counts);
    if (first < numLabels) countTwo(pred, ref, start, n, first, numLabels, counts);
  }
  labelZero(counts, numLabels, whole, load<u64>(same));
  return scalar8(pred, ref, whole, count, numLabels, counts);
}

/** Label 0's counts over `voxels` voxels: the totals less every other label's. */
function labelZero(counts: usize, numLabels: i32, voxels: i32, same: u64): void {
  let tp = same,
    pred = <u64>voxels,
    ref = <u64>voxels;
  for (let l = 1; l < numLabels; l++) {
    tp -= load<u32>(counts + ((<usize>l) << 2));
    pred -= load<u32>(counts + ((<usize>(numLabels + l)) << 2));
    ref -= load<u32>(counts + ((<usize>(2 * numLabels + l)) << 2));
  }
  Count.bump(counts, 0, numLabels, 0, <u32>tp);
  Count.bump(counts, 1, numLabels, 0, <u32>pred);
  Count.bump(counts, 2, numLabels, 0, <u32>ref);
}

/** The scalar path (tails, many labels), with whole uniform blocks of 16 counted at once. */
function scalar8(
  pred: usize,
  ref: usize,
  start: i32,
  count: i32,
  numLabels: i32,
  counts: usize,
): i32 {
  let i = start;
  for (; i + 16 <= count; i += 16) {
    const p = v128.load(pred + <usize>i);
    const r = v128.load(ref + <usize>i);
    const p0 = <i32>i8x16.extract_lane_u(p, 0);
    const r0 = <i32>i8x16.extract_lane_u(r, 0);
    if (
      i8x16.all_true(i8x16.eq(p, i8x16.splat(<i8>p0))) &&
      i8x16.all_true(i8x16.eq(r, i8x16.splat(<i8>r0)))
    ) {
      if (p0 >= numLabels || r0 >= numLabels) return i;
      Count.bump(counts, 1, numLabels, p0, 16);
      Count.bump(counts, 2, numLabels, r0, 16);
      if (p0 == r0) Count.bump(counts, 0, numLabels, p0, 16);
      continue;
    }
    for (let k = i; k < i + 16; k++) {
      if (
        !Count.one(<i32>load<u8>(pred + <usize>k), <i32>load<u8>(ref + <usize>k), numLabels, counts)
      )
        return k;
    }
  }
  for (; i < count; i++) {
    if (
      !Count.one(<i32>load<u8>(pred + <usize>i), <i32>load<u8>(ref + <usize>i), numLabels, counts)
    )
      return i;
  }
  return -1;
}

/** uint16 maps: 8-voxel blocks with one label in each map counted at once, others one by one. */
export function label_confusion_simd_u16(
  pred: usize,
  ref: usize,
  count: i32,
  numLabels: i32,
  counts: usize,
): i32 {
  let i = 0;
  for (; i + 8 <= count; i += 8) {
    const p = v128.load(pred + ((<usize>i) << 1));
    const r = v128.load(ref + ((<usize>i) << 1));
    const p0 = <i32>i16x8.extract_lane_u(p, 0);
    const r0 = <i32>i16x8.extract_lane_u(r, 0);
    if (
      i16x8.all_true(i16x8.eq(p, i16x8.splat(<i16>p0))) &&
      i16x8.all_true(i16x8.eq(r, i16x8.splat(<i16>r0)))
    ) {
      if (p0 >= numLabels || r0 >= numLabels) return i;
      Count.bump(counts, 1, numLabels, p0, 8);
      Count.bump(counts, 2, numLabels, r0, 8);
      if (p0 == r0) Count.bump(counts, 0, numLabels, p0, 8);
      continue;
    }
    for (let k = i; k < i + 8; k++) {
      const a = <i32>load<u16>(pred + ((<usize>k) << 1));
      if (!Count.one(a, <i32>load<u16>(ref + ((<usize>k) << 1)), numLabels, counts)) return k;
    }
  }
  for (; i < count; i++) {
    if (
      !Count.one(
        <i32>load<u16>(pred + ((<usize>i) << 1)),
        <i32>load<u16>(ref + ((<usize>i) << 1)),
        numLabels,
        counts,
      )
    )
      return i;
  }
  return -1;
}

export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}
