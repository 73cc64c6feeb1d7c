/**
 * conv3d_direct: direct 3D convolution vectorised along x (W), register-blocked over
 * OC_BLOCK = 5 output channels x 2 vectors of 4 x-positions (10 independent accumulators).
 * Why 5: V8 gives wasm 15 vector registers on x64, and a block's loop holds its accumulators,
 * the two input vectors, a weight and a product. With 6 channels (12 accumulators) the
 * compiled loop spills accumulators to the stack on every tap; with 5 it spills less, and the
 * brainchop channel counts (5, 15, 20, 30) are multiples of 5 (1->20 at 64^3: 15 ms with 6,
 * 11 ms with 5). A last block of 1-4 channels runs a narrower block (block4x2, block2x2).
 *
 * Scheme, per batch item, output planes in order:
 * 1. conv3d_pad_input pads input planes (H and W) into a ring of `ringDepth` planes per
 *    channel, each plane once, as the output planes advance; rows are split into `strideW`
 *    phases (phase r holds padded x = r, r + sW, r + 2 sW, ...), so the inputs of 4
 *    consecutive outputs are 4 consecutive floats for every stride and dilation. Planes
 *    outside [0, D) are one shared zero plane. The inner loop needs no bounds tests.
 * 2. conv3d_pack_weights (once per weight tensor) interleaves OC_BLOCK output channels per
 *    tap, so each tap broadcasts its weights with v128.load32_splat from one cache line.
 * 3. conv3d_direct, per (output plane, group, channel block), writes the address of every
 *    tap's input plane row (input channel, kz, ky, kx) into a table, runs a flat loop over the
 *    taps per block of outputs, accumulating a row into a per-thread scratch, then applies
 *    bias (the accumulators start from it) and the fused activation while copying the valid
 *    outputs out.
 * Output channels beyond Cout / groups in the last block have zero weights and are not stored.
 *
 * The host sends 3x3x3 stride-1 convolutions with 3 or more input channels to conv3d_winograd
 * (assembly/conv3d_winograd.ts, same padded ring) and 1x1x1 unpadded ones to conv3d_pointwise
 * (below: no ring, straight from input to output); conv3d_direct does the rest.
 *
 * Where it is slower than it could be: depthwise convolutions fill one channel slot of five
 * (a kernel vectorised over channels would suit them), and each tap loads its address from
 * the table (a kernel unrolled for a fixed 3x3x3 would not).
 */
import { Activate, activateRow } from './activation';
import { Lanes } from './simd';

/** Output channels per register block; the packed weight layout depends on it. */
export const OC_BLOCK = 5;

/**
 * One conv3d call's geometry, written by the host as consecutive 32-bit fields in this order.
 * Sizes are in elements unless named otherwise; pointers are byte addresses.
 */
@unmanaged
export class Conv3dJob {
  /** Input of one batch item: (Cin, D, H, W). */
  x: usize;
  /** Padded planes: (Cin, ringDepth, Hp, strideW * phaseLen); input plane z at z % ringDepth. */
  ring: usize;
  /** One padded plane of zeros: (Hp, strideW * phaseLen), for planes outside [0, D). */
  zero: usize;
  cin: i32;
  d: i32;
  h: i32;
  w: i32;
  padD: i32;
  padH: i32;
  padW: i32;
  ringDepth: i32;
  /** conv3d_pad_input pads input planes [padFrom, padFrom + padCount). */
  padFrom: i32;
  padCount: i32;
  /** Padded height H + 2 padH. */
  hp: i32;
  strideW: i32;
  /** Floats per phase of a padded row; a padded row holds strideW * phaseLen floats. */
  phaseLen: i32;
  /** Packed weights: (groups, ocBlocks, taps, OC_BLOCK). */
  weights: usize;
  /** Byte offset of each (ky, kx) tap within a padded plane: (KH * KW) int32. */
  planeTaps: usize;
  /** KH * KW. */
  tapsPerPlane: i32;
  kd: i32;
  dilationD: i32;
  /** Rows are visited in dilationH interleaved passes, so consecutive rows share inputs. */
  dilationH: i32;
  /** Taps per output: Cin / groups * KD * KH * KW. */
  taps: i32;
  /** Packed bias: (groups, ocBlocks, OC_BLOCK). */
  bias: usize;
  /** Output of one batch item: (Cout, OD, OH, OW). */
  out: usize;
  groups: i32;
  ocBlocks: i32;
  coutPerGroup: i32;
  /** Output plane of item 0 of this run. */
  outZ: i32;
  oh: i32;
  ow: i32;
  /** OW rounded up to a multiple of 4: the scratch row length. */
  owPad: i32;
  strideD: i32;
  strideH: i32;
  /** Elements per output channel: OD * OH * OW. */
  outChannelStride: i32;
  activation: i32;
  alpha: f32;
}

/** Size in bytes of the Conv3dJob record, for the host's layout check. */
export function conv3d_job_bytes(): i32 {
  return <i32>offsetof<Conv3dJob>();
}

/**
 * Repack weights for conv3d_direct. w: (Cout, Cin / groups, KD, KH, KW) float32 ->
 * packed: (groups, ceil(Cout / groups / OC_BLOCK), Cin / groups * KD * KH * KW, OC_BLOCK),
 * missing output channels zero.
 */
export function conv3d_pack_weights(
  w: usize,
  packed: usize,
  coutPerGroup: i32,
  groups: i32,
  taps: i32,
): void {
  const ocBlocks = (coutPerGroup + OC_BLOCK - 1) / OC_BLOCK;
  let dst = packed;
  for (let g = 0; g < groups; g++) {
    for (let block = 0; block < ocBlocks; block++) {
      for (let t = 0; t < taps; t++) {
        for (let o = 0; o < OC_BLOCK; o++) {
          const oc = block * OC_BLOCK + o;
          const src = w + ((<usize>(g * coutPerGroup + oc) * taps + t) << 2);
          store<f32>(dst, oc < coutPerGroup ? load<f32>(src) : 0);
          dst += 4;
        }
      }
    }
  }
}

/** Bytes of one padded plane: Hp rows of strideW * phaseLen floats. */
function planeBytes(job: Conv3dJob): usize {
  return (<usize>(job.hp * job.strideW * job.phaseLen)) << 2;
}

/**
 * Pad input planes into the ring, items [itemStart, itemEnd) with item = c * padCount + k for
 * input plane z = padFrom + k (within [0, D)). Reads job.x (Cin, D, H, W); writes the ring
 * (Cin, ringDepth, Hp, strideW * phaseLen) at plane z % ringDepth, zeros around the input.
 */
export function conv3d_pad_input(job: Conv3dJob, itemStart: i32, itemEnd: i32): void {
  const bytes = planeBytes(job);
  for (let item = itemStart; item < itemEnd; item++) {
    const c = item / job.padCount;
    const z = job.padFrom + (item % job.padCount);
    const dst = job.ring + <usize>(c * job.ringDepth + (z % job.ringDepth)) * bytes;
    const src = job.x + ((<usize>((c * job.d + z) * job.h) * job.w) << 2);
    padPlane(job, src, dst, job.strideW * job.phaseLen);
  }
}

/** Pad one input plane (H, W) into Hp phase-split rows. */
function padPlane(job: Conv3dJob, src: usize, dst: usize, rowLen: i32): void {
  const rowBytes = (<usize>rowLen) << 2;
  for (let yp = 0; yp < job.hp; yp++) {
    const iy = yp - job.padH;
    const row = dst + <usize>yp * rowBytes;
    if (iy < 0 || iy >= job.h) {
      memory.fill(row, 0, rowBytes);
    } else if (job.strideW == 1) {
      padRowContiguous(src + ((<usize>(iy * job.w)) << 2), row, job.w, job.padW, rowLen);
    } else {
      padRowPhases(src + ((<usize>(iy * job.w)) << 2), row, job);
    }
  }
}

/** One padded row for stride 1: zeros, the W inputs, zeros up to rowLen. */
function padRowContiguous(src: usize, row: usize, w: i32, padW: i32, rowLen: i32): void {
  const lead = min(padW, rowLen);
  memory.fill(row, 0, (<usize>lead) << 2);
  const copied = max(0, min(w, rowLen - padW));
  memory.copy(row + ((<usize>lead) << 2), src, (<usize>copied) << 2);
  const tail = rowLen - lead - copied;
  if (tail > 0) memory.fill(row + ((<usize>(lead + copied)) << 2), 0, (<usize>tail) << 2);
}

/** One padded row split into strideW phases: phase r, index j holds padded x = j sW + r. */
function padRowPhases(src: usize, row: usize, job: Conv3dJob): void {
  const sw = job.strideW;
  for (let r = 0; r < sw; r++) {
    const phase = row + ((<usize>(r * job.phaseLen)) << 2);
    for (let j = 0; j < job.phaseLen; j++) {
      const ix = j * sw + r - job.padW;
      const value = ix >= 0 && ix < job.w ? load<f32>(src + ((<usize>ix) << 2)) : <f32>0;
      store<f32>(phase + ((<usize>j) << 2), value);
    }
  }
}

/**
 * The multiply-add of the inner loops: fused (relaxed SIMD's f32x4.relaxed_madd) in the
 * relaxed-simd builds, a separate mul and add (rounded twice) otherwise.
 */
class Fma {
  /** acc + s * x on four lanes. */
  @inline
  static madd(acc: v128, s: v128, x: v128): v128 {
    if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(s, x, acc);
    return f32x4.add(acc, f32x4.mul(s, x));
  }
}

/**
 * The register block of conv3d_direct: `channels` (2, 4 or 5, a constant at every call, so the
 * unused accumulators fold away) output channels x 8 x-positions over all taps. src: byte
 * offset of the outputs' row and x within a padded plane, added to each tap's address;
 * w: packed (taps, OC_BLOCK); bias: (OC_BLOCK); dst: (channels, rowStride bytes) scratch rows.
 */
class Rows {
  // prettier-ignore
  @inline
  static block(
    channels: i32, src: usize, w: usize, addresses: usize, taps: i32, bias: usize, dst: usize,
    rowStride: usize,
  ): void {
    let a00 = v128.load32_splat(bias), a01 = a00;
    let a10 = v128.load32_splat(bias, 4), a11 = a10;
    let a20 = v128.load32_splat(bias, 8), a21 = a20;
    let a30 = v128.load32_splat(bias, 12), a31 = a30;
    let a40 = v128.load32_splat(bias, 16), a41 = a40;
    let wp = w;
    const end = addresses + ((<usize>taps) << 2);
    for (let op = addresses; op < end; op += 4) {
      const p = src + <usize>load<i32>(op);
      const x0 = v128.load(p);
      const x1 = v128.load(p, 16);
      let s = v128.load32_splat(wp);
      a00 = Fma.madd(a00, s, x0); a01 = Fma.madd(a01, s, x1);
      s = v128.load32_splat(wp, 4);
      a10 = Fma.madd(a10, s, x0); a11 = Fma.madd(a11, s, x1);
      if (channels > 2) {
        s = v128.load32_splat(wp, 8);
        a20 = Fma.madd(a20, s, x0); a21 = Fma.madd(a21, s, x1);
        s = v128.load32_splat(wp, 12);
        a30 = Fma.madd(a30, s, x0); a31 = Fma.madd(a31, s, x1);
      }
      if (channels > 4) {
        s = v128.load32_splat(wp, 16);
        a40 = Fma.madd(a40, s, x0); a41 = Fma.madd(a41, s, x1);
      }
      wp += OC_BLOCK << 2;
    }
    v128.store(dst, a00); v128.store(dst, a01, 16);
    v128.store(dst + rowStride, a10); v128.store(dst + rowStride, a11, 16);
    if (channels > 2) {
      v128.store(dst + 2 * rowStride, a20); v128.store(dst + 2 * rowStride, a21, 16);
      v128.store(dst + 3 * rowStride, a30); v128.store(dst + 3 * rowStride, a31, 16);
    }
    if (channels > 4) {
      v128.store(dst + 4 * rowStride, a40); v128.store(dst + 4 * rowStride, a41, 16);
    }
  }
}

/** Rows.block over a full block of 5 channels. */
function block5x2(
  src: usize,
  w: usize,
  addr: usize,
  taps: i32,
  bias: usize,
  dst: usize,
  rs: usize,
): void {
  Rows.block(5, src, w, addr, taps, bias, dst, rs);
}

/** Rows.block over the first 4 channels: a last block of 3 or 4. */
function block4x2(
  src: usize,
  w: usize,
  addr: usize,
  taps: i32,
  bias: usize,
  dst: usize,
  rs: usize,
): void {
  Rows.block(4, src, w, addr, taps, bias, dst, rs);
}

/** Rows.block over the first 2 channels: a last block of 1 or 2. */
function block2x2(
  src: usize,
  w: usize,
  addr: usize,
  taps: i32,
  bias: usize,
  dst: usize,
  rs: usize,
): void {
  Rows.block(2, src, w, addr, taps, bias, dst, rs);
}

/** 5 output channels x 4 x-positions (the row remainder); layout as Rows.block. */
function block5x1(
  src: usize,
  w: usize,
  addresses: usize,
  taps: i32,
  bias: usize,
  dst: usize,
  rowStride: usize,
): void {
  let a0 = v128.load32_splat(bias);
  let a1 = v128.load32_splat(bias, 4);
  let a2 = v128.load32_splat(bias, 8);
  let a3 = v128.load32_splat(bias, 12);
  let a4 = v128.load32_splat(bias, 16);
  let wp = w;
  const end = addresses + ((<usize>taps) << 2);
  for (let op = addresses; op < end; op += 4) {
    const x0 = v128.load(src + <usize>load<i32>(op));
    a0 = Fma.madd(a0, v128.load32_splat(wp), x0);
    a1 = Fma.madd(a1, v128.load32_splat(wp, 4), x0);
    a2 = Fma.madd(a2, v128.load32_splat(wp, 8), x0);
    a3 = Fma.madd(a3, v128.load32_splat(wp, 12), x0);
    a4 = Fma.madd(a4, v128.load32_splat(wp, 16), x0);
    wp += OC_BLOCK << 2;
  }
  v128.store(dst, a0);
  v128.store(dst + rowStride, a1);
  v128.store(dst + 2 * rowStride, a2);
  v128.store(dst + 3 * rowStride, a3);
  v128.store(dst + 4 * rowStride, a4);
}

/**
 * Convolve work items [itemStart, itemEnd), item = (z * groups + g) * ocBlocks + b (output
 * plane job.outZ + z, group g, output-channel block b). Reads the padded ring; writes job.out
 * (Cout, OD, OH, OW). scratch, private to the caller: (OC_BLOCK, owPad) float32 rows, then
 * (taps) int32 tap addresses.
 */
export function conv3d_direct(job: Conv3dJob, scratch: usize, itemStart: i32, itemEnd: i32): void {
  const perPlane = job.groups * job.ocBlocks;
  const addresses = scratch + ((<usize>(OC_BLOCK * job.owPad)) << 2);
  for (let item = itemStart; item < itemEnd; item++) {
    const z = job.outZ + item / perPlane;
    const g = (item % perPlane) / job.ocBlocks;
    const block = item % job.ocBlocks;
    writeTapAddresses(job, addresses, z, g);
    convolvePlane(job, scratch, addresses, z, g, block);
  }
}

/**
 * The address of every tap (input channel, kz, ky, kx) of output plane z, group g: the padded
 * plane of that channel and depth (or the zero plane) plus the in-plane offset of (ky, kx).
 */
function writeTapAddresses(job: Conv3dJob, addresses: usize, z: i32, g: i32): void {
  const bytes = planeBytes(job);
  const cinPerGroup = job.cin / job.groups;
  let at = addresses;
  for (let i = 0; i < cinPerGroup; i++) {
    const c = g * cinPerGroup + i;
    for (let kz = 0; kz < job.kd; kz++) {
      const iz = z * job.strideD + kz * job.dilationD - job.padD;
      const inside = iz >= 0 && iz < job.d;
      const plane = inside
        ? job.ring + <usize>(c * job.ringDepth + (iz % job.ringDepth)) * bytes
        : job.zero;
      for (let t = 0; t < job.tapsPerPlane; t++) {
        store<i32>(at, <i32>plane + load<i32>(job.planeTaps + ((<usize>t) << 2)));
        at += 4;
      }
    }
  }
}

/** One output plane of one channel block: every row, then the epilogue per row. */
function convolvePlane(
  job: Conv3dJob,
  scratch: usize,
  addresses: usize,
  z: i32,
  g: i32,
  block: i32,
): void {
  const blockIndex = g * job.ocBlocks + block;
  const weights = job.weights + ((<usize>blockIndex * job.taps * OC_BLOCK) << 2);
  const bias = job.bias + ((<usize>blockIndex * OC_BLOCK) << 2);
  const owPad = job.owPad;
  const scratchStride = (<usize>owPad) << 2;
  const rowStride = (<usize>(job.strideH * job.strideW * job.phaseLen)) << 2;
  // The last block may hold fewer channels (21 = 4 x 5 + 1): a narrower block computes those.
  const valid = min(OC_BLOCK, job.coutPerGroup - block * OC_BLOCK);

  // Rows y, y + dH, y + 2 dH, ... read overlapping input rows: visit them one after another.
  const passes = min(job.dilationH, job.oh);
  for (let first = 0; first < passes; first++) {
    for (let y = first; y < job.oh; y += passes) {
      const src = <usize>y * rowStride;
      let x = 0;
      for (; x + 8 <= owPad; x += 8) {
        const at = (<usize>x) << 2;
        if (valid > 4) {
          block5x2(src + at, weights, addresses, job.taps, bias, scratch + at, scratchStride);
        } else if (valid > 2) {
          block4x2(src + at, weights, addresses, job.taps, bias, scratch + at, scratchStride);
        } else {
          block2x2(src + at, weights, addresses, job.taps, bias, scratch + at, scratchStride);
        }
      }
      if (x < owPad) {
        const at = (<usize>x) << 2;
        block5x1(src + at, weights, addresses, job.taps, bias, scratch + at, scratchStride);
      }
      storeRows(job, scratch, z, y, g * job.coutPerGroup + block * OC_BLOCK, valid);
    }
  }
}

/** Copy the `valid` channels of one scratch row block to the output, applying the activation. */
function storeRows(job: Conv3dJob, scratch: usize, z: i32, y: i32, oc0: i32, valid: i32): void {
  const rowOffset = (z * job.oh + y) * job.ow;
  for (let o = 0; o < valid; o++) {
    const src = scratch + ((<usize>(o * job.owPad)) << 2);
    const dst = job.out + ((<usize>((oc0 + o) * job.outChannelStride + rowOffset)) << 2);
    activateRow(src, dst, job.ow, job.activation, job.alpha);
  }
}

/**
 * conv3d_pointwise: a 1x1x1, stride-1, unpadded convolution (a network's classifier layer)
 * straight from the input to the output, with no padded copy: per block of OC_BLOCK output
 * channels and 8 positions, the products over the input channels, then bias and activation.
 * Work items are runs of POINTWISE_RUN positions: item i covers [i * run, (i + 1) * run).
 * Reads job.x (Cin, S); weights packed (ocBlocks, Cin, OC_BLOCK) and bias (ocBlocks,
 * OC_BLOCK) as for conv3d_direct; writes job.out (Cout, S); S = job.outChannelStride.
 */
export function conv3d_pointwise(job: Conv3dJob, itemStart: i32, itemEnd: i32): void {
  const spatial = job.outChannelStride;
  for (let item = itemStart; item < itemEnd; item++) {
    const start = item * POINTWISE_RUN;
    const end = min(spatial, start + POINTWISE_RUN);
    if (job.coutPerGroup <= 3) {
      for (let s = start; s < end; s += 16) pointwiseNarrow(job, s, min(16, end - s));
      continue;
    }
    for (let block = 0; block < job.ocBlocks; block++) {
      let s = start;
      for (; s + 8 <= end; s += 8) pointwiseBlock8(job, block, s);
      if (s < end) pointwiseBlock(job, block, s, end - s);
    }
  }
}

/** Positions per conv3d_pointwise work item. */
export const POINTWISE_RUN = 1024;

/**
 * OC_BLOCK channels of `count` (1..8) positions from s: the products over Cin, bias, the
 * activation, and the stores of the block's valid channels. Inlined into pointwiseBlock8 with
 * count 8, where the lane counts fold into whole-vector loads and stores.
 */
class Pointwise {
  // prettier-ignore
  @inline
  static block(job: Conv3dJob, block: i32, s: i32, count: i32): void {
    const spatial = <usize>job.outChannelStride;
    const bias = job.bias + ((<usize>(block * OC_BLOCK)) << 2);
    let a00 = v128.load32_splat(bias), a01 = a00;
    let a10 = v128.load32_splat(bias, 4), a11 = a10;
    let a20 = v128.load32_splat(bias, 8), a21 = a20;
    let a30 = v128.load32_splat(bias, 12), a31 = a30;
    let a40 = v128.load32_splat(bias, 16), a41 = a40;
    let wp = job.weights + ((<usize>(block * job.taps * OC_BLOCK)) << 2);
    let xp = job.x + ((<usize>s) << 2);
    const low = min(count, 4);
    const high = count - low;
    for (let c = 0; c < job.taps; c++) {
      const x0 = Lanes.load(xp, low);
      const x1 = Lanes.load(xp + 16, high);
      let w = v128.load32_splat(wp);
      a00 = Fma.madd(a00, w, x0); a01 = Fma.madd(a01, w, x1);
      w = v128.load32_splat(wp, 4);
      a10 = Fma.madd(a10, w, x0); a11 = Fma.madd(a11, w, x1);
      w = v128.load32_splat(wp, 8);
      a20 = Fma.madd(a20, w, x0); a21 = Fma.madd(a21, w, x1);
      w = v128.load32_splat(wp, 12);
      a30 = Fma.madd(a30, w, x0); a31 = Fma.madd(a31, w, x1);
      w = v128.load32_splat(wp, 16);
      a40 = Fma.madd(a40, w, x0); a41 = Fma.madd(a41, w, x1);
      wp += OC_BLOCK << 2;
      xp += spatial << 2;
    }
    const valid = min(OC_BLOCK, job.coutPerGroup - block * OC_BLOCK);
    const out = job.out + ((<usize>(block * OC_BLOCK) * spatial + <usize>s) << 2);
    const step = spatial << 2;
    pointwiseStore(job, out, a00, a01, low, high);
    if (valid > 1) pointwiseStore(job, out + step, a10, a11, low, high);
    if (valid > 2) pointwiseStore(job, out + 2 * step, a20, a21, low, high);
    if (valid > 3) pointwiseStore(job, out + 3 * step, a30, a31, low, high);
    if (valid > 4) pointwiseStore(job, out + 4 * step, a40, a41, low, high);
  }
}

/** Pointwise.block for a row tail of 1..7 positions. */
function pointwiseBlock(job: Conv3dJob, block: i32, s: i32, count: i32): void {
  Pointwise.block(job, block, s, count);
}

/** Pointwise.block with all 8 positions valid. */
function pointwiseBlock8(job: Conv3dJob, block: i32, s: i32): void {
  Pointwise.block(job, block, s, 8);
}

/**
 * Up to 3 output channels (the first 3 of block 0) of `count` (1..16) positions from s, as 3
 * channels x 4 vectors: a classifier with 2 or 3 classes keeps every lane busy.
 */
// prettier-ignore
function pointwiseNarrow(job: Conv3dJob, s: i32, count: i32): void {
  const spatial = <usize>job.outChannelStride;
  const n0 = min(count, 4), n1 = max(0, min(count - 4, 4));
  const n2 = max(0, min(count - 8, 4)), n3 = max(0, count - 12);
  let a0 = v128.load32_splat(job.bias), a1 = a0, a2 = a0, a3 = a0;
  let b0 = v128.load32_splat(job.bias, 4), b1 = b0, b2 = b0, b3 = b0;
  let c0 = v128.load32_splat(job.bias, 8), c1 = c0, c2 = c0, c3 = c0;
  let wp = job.weights;
  let xp = job.x + ((<usize>s) << 2);
  for (let c = 0; c < job.taps; c++) {
    const x0 = Lanes.load(xp, n0), x1 = Lanes.load(xp + 16, n1);
    const x2 = Lanes.load(xp + 32, n2), x3 = Lanes.load(xp + 48, n3);
    let w = v128.load32_splat(wp);
    a0 = Fma.madd(a0, w, x0); a1 = Fma.madd(a1, w, x1);
    a2 = Fma.madd(a2, w, x2); a3 = Fma.madd(a3, w, x3);
    w = v128.load32_splat(wp, 4);
    b0 = Fma.madd(b0, w, x0); b1 = Fma.madd(b1, w, x1);
    b2 = Fma.madd(b2, w, x2); b3 = Fma.madd(b3, w, x3);
    w = v128.load32_splat(wp, 8);
    c0 = Fma.madd(c0, w, x0); c1 = Fma.madd(c1, w, x1);
    c2 = Fma.madd(c2, w, x2); c3 = Fma.madd(c3, w, x3);
    wp += OC_BLOCK << 2;
    xp += spatial << 2;
  }
  const out = job.out + ((<usize>s) << 2);
  pointwiseStore(job, out, a0, a1, n0, n1);
  pointwiseStore(job, out + 32, a2, a3, n2, n3);
  if (job.coutPerGroup < 2) return;
  pointwiseStore(job, out + (spatial << 2), b0, b1, n0, n1);
  pointwiseStore(job, out + (spatial << 2) + 32, b2, b3, n2, n3);
  if (job.coutPerGroup < 3) return;
  pointwiseStore(job, out + (spatial << 3), c0, c1, n0, n1);
  pointwiseStore(job, out + (spatial << 3) + 32, c2, c3, n2, n3);
}

/** Activate and store two vectors of one channel: `low` lanes of a, then `high` lanes of b. */
function pointwiseStore(job: Conv3dJob, out: usize, a: v128, b: v128, low: i32, high: i32): void {
  if (low <= 0) return;
  Lanes.store(out, Activate.lanes(job.activation, job.alpha, a), low);
  if (high > 0) Lanes.store(out + 16, Activate.lanes(job.activation, job.alpha, b), high);
}
