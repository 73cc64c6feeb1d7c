/**
 * conv3d_winograd: 3x3x3, stride-1 convolution (any dilation and padding, one group) by
 * Winograd's minimal filtering F(2x2x2, 3x3x3): each 2x2x2 block of outputs (a tile) comes from
 * a 4x4x4 block of inputs with 64 multiplies per input-output channel pair instead of 216, a
 * 3.4-fold cut of the multiply-adds, paid for with transforms that cost about as much as
 * 2 output channels' products. With dilation d a tile holds the outputs o and o + d of each
 * axis and reads inputs o + i d (i = 0..3) of the padded input, so every dilation runs at
 * the same speed.
 *
 * Scheme, per work item (a pair of output planes z0, z0 + dz and a pair of rows y0, y0 + dy):
 * 1. Inputs come from the padded-plane ring that conv3d_pad_input fills (assembly/conv3d.ts),
 *    with each padded row split into `strideW` phases so that the inputs of four x-adjacent
 *    tiles are four consecutive floats: a "vector tile" is four tiles in the lanes of a v128.
 * 2. For each pair of vector tiles (8 tiles) the input transform V = B^T d B (along x, y, z)
 *    of every input channel goes to scratch as (64, Cin, 8).
 * 3. Per block of 4 or 5 output channels and per transform position p, a register-blocked
 *    product over the input channels (the inner loop of conv3d_direct) gives
 *    M[p] = U[p] V[p], with U = G g G^T packed once per weight tensor (the host does it).
 * 4. The output transform A^T M A, plus the bias, writes 8 outputs per tile into four output
 *    rows per channel, laid out in output phases like the inputs.
 * 5. Once every tile of the item is done, each row is put back in x order (when phased) and
 *    the activation is applied on the way to the output tensor.
 *
 * Where it is slower than it could be: with one input channel (a network's first layer) the
 * product is a single multiply per position and the transforms dominate (the host keeps
 * conv3d_direct there); F(4x4x4, 3x3x3) would cut the multiplies 2.4-fold more but loses
 * about 3 decimal digits in float32.
 */
import { activateRow } from './activation';
import { Conv3dJob } from './conv3d';

/** Tile geometry and packed operands of one conv3d_winograd call (32-bit fields in order). */
@unmanaged
export class WinogradJob {
  cin: i32;
  cout: i32;
  /** Transformed weights: per channel block (64, Cin, B) float32, blocks one after another. */
  weights: usize;
  /** Channel blocks: (blockCount, 4) int32: first channel, size B (4 or 5), valid, float offset. */
  blocks: usize;
  blockCount: i32;
  /** Bias (Cout) float32, or 0 for none. */
  bias: usize;
  /** Vector tiles of one row: (xTileCount, 2) int32: input float offset, output float offset. */
  xTiles: usize;
  /** Even: a junk tile pads an odd count. */
  xTileCount: i32;
  /** Float offsets of a tile's inputs 1, 2, 3 along x from its input 0. */
  inOff1: i32;
  inOff2: i32;
  inOff3: i32;
  /** Float offset of a tile's second output along x from its first. */
  outOff: i32;
  /** Floats per output row in scratch (phased, with a junk slot). */
  outRowLen: i32;
  /** Output phases along x (1: the row is in x order) and floats per phase. */
  outPhases: i32;
  outPhaseLen: i32;
  dilationY: i32;
  dilationZ: i32;
  padZ: i32;
  od: i32;
  /** Tiles along y (dilationY per pair of row blocks), and the first z-tile of this run. */
  yTiles: i32;
  zTile0: i32;
}

/** Size in bytes of the WinogradJob record, for the host's layout check. */
export function conv3d_winograd_job_bytes(): i32 {
  return <i32>offsetof<WinogradJob>();
}

/** Small helpers of the kernel (static methods, so that `@inline` stays valid TypeScript). */
class Wino {
  /** acc + s * x on four lanes (fused in the relaxed-SIMD builds). */
  @inline
  static madd(acc: v128, s: v128, x: v128): v128 {
    if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(s, x, acc);
    return f32x4.add(acc, f32x4.mul(s, x));
  }

  /** First output coordinate of tile `t` along an axis with dilation d: 2 d (t / d) + t % d. */
  @inline
  static tileOrigin(t: i32, d: i32): i32 {
    return 2 * d * (t / d) + (t % d);
  }

  /** Bytes of one padded row of the ring. */
  @inline
  static rowBytes(job: Conv3dJob): usize {
    return (<usize>(job.strideW * job.phaseLen)) << 2;
  }

  /** The ring plane holding input plane `iz` (unpadded) of channel c, or the zero plane. */
  @inline
  static planeOf(job: Conv3dJob, c: i32, iz: i32): usize {
    if (iz < 0 || iz >= job.d) return job.zero;
    const planeBytes = <usize>job.hp * Wino.rowBytes(job);
    return job.ring + <usize>(c * job.ringDepth + (iz % job.ringDepth)) * planeBytes;
  }

  /** 1D B^T of four vectors, (d0 - d2, d1 + d2, d2 - d1, d1 - d3), stored at p + k s. */
  @inline
  static inputLine(d0: v128, d1: v128, d2: v128, d3: v128, p: usize, s: usize): void {
    v128.store(p, f32x4.sub(d0, d2));
    v128.store(p + s, f32x4.add(d1, d2));
    v128.store(p + 2 * s, f32x4.sub(d2, d1));
    v128.store(p + 3 * s, f32x4.sub(d1, d3));
  }

  /** First output of 1D A^T: m0 + m1 + m2. */
  @inline
  static first(m0: v128, m1: v128, m2: v128): v128 {
    return f32x4.add(f32x4.add(m0, m1), m2);
  }

  /** Second output of 1D A^T: m1 - m2 - m3. */
  @inline
  static second(m1: v128, m2: v128, m3: v128): v128 {
    return f32x4.sub(f32x4.sub(m1, m2), m3);
  }
}

/**
 * Convolve work items [itemStart, itemEnd), item = z * yTiles + y for z-tile zTile0 + z and
 * y-tile y. Reads the ring (job) and the packed operands (wj); writes job.out (Cout, OD, OH,
 * OW). scratch, private to the caller: V (64, Cin, 8), T (64, 4), M (6, 64, 8) float32, then
 * the output rows (Cout, 4, outRowLen), then one row of OW (rounded up to 4) floats.
 */
export function conv3d_winograd(
  job: Conv3dJob,
  wj: WinogradJob,
  scratch: usize,
  itemStart: i32,
  itemEnd: i32,
): void {
  const v = scratch;
  const t = v + ((<usize>(64 * wj.cin * 8)) << 2);
  const m = t + 64 * 16;
  const rows = m + 6 * 64 * 32;
  const line = rows + ((<usize>(wj.cout * 4 * wj.outRowLen)) << 2);
  for (let item = itemStart; item < itemEnd; item++) {
    const z0 = Wino.tileOrigin(wj.zTile0 + item / wj.yTiles, wj.dilationZ);
    const y0 = Wino.tileOrigin(item % wj.yTiles, wj.dilationY);
    if (z0 >= wj.od || y0 >= job.oh) continue;
    for (let pair = 0; pair < wj.xTileCount; pair += 2) {
      transformInputs(job, wj, z0, y0, pair, v, t);
      for (let b = 0; b < wj.blockCount; b++) multiplyBlock(wj, b, pair, v, m, rows);
    }
    storeRows(job, wj, z0, y0, rows, line);
  }
}

/** V (64, Cin, 8) for the vector tiles `pair` and `pair + 1` of rows y0.. and planes z0... */
function transformInputs(
  job: Conv3dJob,
  wj: WinogradJob,
  z0: i32,
  y0: i32,
  pair: i32,
  v: usize,
  t: usize,
): void {
  const tile0 = load<i32>(wj.xTiles + ((<usize>pair) << 3));
  const tile1 = load<i32>(wj.xTiles + ((<usize>pair) << 3), 8);
  const row = Wino.rowBytes(job);
  const firstRow = <usize>y0 * row;
  const rowStep = <usize>wj.dilationY * row;
  for (let c = 0; c < wj.cin; c++) {
    const dst = v + ((<usize>(c * 8)) << 2);
    for (let lane = 0; lane < 2; lane++) {
      const x = (<usize>(lane == 0 ? tile0 : tile1)) << 2;
      for (let iz = 0; iz < 4; iz++) {
        const plane = Wino.planeOf(job, c, z0 + iz * wj.dilationZ - wj.padZ) + firstRow + x;
        transformPlaneXY(wj, plane, rowStep, t + ((<usize>iz) << 8));
      }
      transformZ(t, dst + ((<usize>lane) << 4), (<usize>(wj.cin * 8)) << 2);
    }
  }
}

/** One input plane's 4x4 taps of a vector tile, transformed along x then y, into t (16 v128). */
function transformPlaneXY(wj: WinogradJob, src: usize, rowStep: usize, t: usize): void {
  const o1 = (<usize>wj.inOff1) << 2;
  const o2 = (<usize>wj.inOff2) << 2;
  const o3 = (<usize>wj.inOff3) << 2;
  for (let iy = 0; iy < 4; iy++) {
    const p = src + <usize>iy * rowStep;
    const d0 = v128.load(p);
    const d1 = v128.load(p + o1);
    const d2 = v128.load(p + o2);
    const d3 = v128.load(p + o3);
    Wino.inputLine(d0, d1, d2, d3, t + ((<usize>iy) << 6), 16);
  }
  for (let ix = 0; ix < 4; ix++) {
    const p = t + ((<usize>ix) << 4);
    Wino.inputLine(v128.load(p), v128.load(p, 64), v128.load(p, 128), v128.load(p, 192), p, 64);
  }
}

/** Transform t (4 planes of 16 v128) along z into V: position (iz, iy, ix) at dst + p stride. */
function transformZ(t: usize, dst: usize, stride: usize): void {
  for (let i = 0; i < 16; i++) {
    const p = t + ((<usize>i) << 4);
    const d0 = v128.load(p);
    const d1 = v128.load(p, 256);
    const d2 = v128.load(p, 512);
    const d3 = v128.load(p, 768);
    Wino.inputLine(d0, d1, d2, d3, dst + <usize>i * stride, 16 * stride);
  }
}

/**
 * One channel block: M = U V for each of the 64 positions (B channels x 8 tiles), then the
 * output transform into the rows of those channels.
 */
function multiplyBlock(wj: WinogradJob, b: i32, pair: i32, v: usize, m: usize, rows: usize): void {
  const entry = wj.blocks + ((<usize>b) << 4);
  const size = load<i32>(entry, 4);
  const u = wj.weights + ((<usize>load<i32>(entry, 12)) << 2);
  const cin = wj.cin;
  const vStride = (<usize>(cin * 8)) << 2;
  const uStride = (<usize>(cin * size)) << 2;
  for (let p = 0; p < 64; p++) {
    const vp = v + <usize>p * vStride;
    const up = u + <usize>p * uStride;
    const mp = m + ((<usize>p) << 5);
    if (size == 5) product5(vp, up, cin, mp);
    else product4(vp, up, cin, mp);
  }
  transformOutputs(wj, entry, pair, m, rows);
}

/** 5 channels x 8 tiles over Cin: vp (Cin, 8), up (Cin, 5) -> mp, channel j at j * 2048 bytes. */
// prettier-ignore
function product5(vp: usize, up: usize, cin: i32, mp: usize): void {
  let a00 = f32x4.splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
  let a30 = a00, a31 = a00, a40 = a00, a41 = a00;
  for (let c = 0; c < cin; c++) {
    const x0 = v128.load(vp);
    const x1 = v128.load(vp, 16);
    let s = v128.load32_splat(up);
    a00 = Wino.madd(a00, s, x0); a01 = Wino.madd(a01, s, x1);
    s = v128.load32_splat(up, 4);
    a10 = Wino.madd(a10, s, x0); a11 = Wino.madd(a11, s, x1);
    s = v128.load32_splat(up, 8);
    a20 = Wino.madd(a20, s, x0); a21 = Wino.madd(a21, s, x1);
    s = v128.load32_splat(up, 12);
    a30 = Wino.madd(a30, s, x0); a31 = Wino.madd(a31, s, x1);
    s = v128.load32_splat(up, 16);
    a40 = Wino.madd(a40, s, x0); a41 = Wino.madd(a41, s, x1);
    vp += 32;
    up += 20;
  }
  v128.store(mp, a00); v128.store(mp, a01, 16);
  v128.store(mp, a10, 2048); v128.store(mp, a11, 2064);
  v128.store(mp, a20, 4096); v128.store(mp, a21, 4112);
  v128.store(mp, a30, 6144); v128.store(mp, a31, 6160);
  v128.store(mp, a40, 8192); v128.store(mp, a41, 8208);
}

/** 4 channels x 8 tiles; layout as product5 with (Cin, 4) weights. */
// prettier-ignore
function product4(vp: usize, up: usize, cin: i32, mp: usize): void {
  let a00 = f32x4.splat(0), a01 = a00, a10 = a00, a11 = a00;
  let a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (let c = 0; c < cin; c++) {
    const x0 = v128.load(vp);
    const x1 = v128.load(vp, 16);
    let s = v128.load32_splat(up);
    a00 = Wino.madd(a00, s, x0); a01 = Wino.madd(a01, s, x1);
    s = v128.load32_splat(up, 4);
    a10 = Wino.madd(a10, s, x0); a11 = Wino.madd(a11, s, x1);
    s = v128.load32_splat(up, 8);
    a20 = Wino.madd(a20, s, x0); a21 = Wino.madd(a21, s, x1);
    s = v128.load32_splat(up, 12);
    a30 = Wino.madd(a30, s, x0); a31 = Wino.madd(a31, s, x1);
    vp += 32;
    up += 16;
  }
  v128.store(mp, a00); v128.store(mp, a01, 16);
  v128.store(mp, a10, 2048); v128.store(mp, a11, 2064);
  v128.store(mp, a20, 4096); v128.store(mp, a21, 4112);
  v128.store(mp, a30, 6144); v128.store(mp, a31, 6160);
}

/**
 * A^T M A (+ bias) for each valid channel of a block and both vector tiles of the pair: 8
 * outputs per tile into rows (Cout, 4, outRowLen), row (ez, ey) = 2 ez + ey.
 */
function transformOutputs(wj: WinogradJob, entry: usize, pair: i32, m: usize, rows: usize): void {
  const first = load<i32>(entry);
  const valid = load<i32>(entry, 8);
  const rowLen = (<usize>wj.outRowLen) << 2;
  const outOff = (<usize>wj.outOff) << 2;
  for (let j = 0; j < valid; j++) {
    const co = first + j;
    const bias = wj.bias ? v128.load32_splat(wj.bias + ((<usize>co) << 2)) : f32x4.splat(0);
    const dst = rows + <usize>(co * 4) * rowLen;
    for (let lane = 0; lane < 2; lane++) {
      const tile = wj.xTiles + ((<usize>(pair + lane)) << 3);
      const at = dst + ((<usize>load<i32>(tile, 4)) << 2);
      outputTile(m + ((<usize>j) << 11) + ((<usize>lane) << 4), bias, at, rowLen, outOff);
    }
  }
}

/**
 * One vector tile's 64 products (m: position p at p * 32 bytes) -> 8 output vectors stored at
 * dst + (2 ez + ey) rowLen + ex outOff.
 */
// prettier-ignore
function outputTile(m: usize, bias: v128, dst: usize, rowLen: usize, outOff: usize): void {
  // Per plane iz: reduce x then y, keeping 4 vectors (ey, ex) per plane in s.
  let s00 = f32x4.splat(0), s01 = s00, s02 = s00, s03 = s00;
  let s10 = s00, s11 = s00, s12 = s00, s13 = s00;
  let s20 = s00, s21 = s00, s22 = s00, s23 = s00;
  let s30 = s00, s31 = s00, s32 = s00, s33 = s00;
  for (let iz = 0; iz < 4; iz++) {
    const p = m + (<usize>(iz * 16) << 5);
    // Rows iy = 0..3 reduced along x: r[iy][ex].
    const r00 = Wino.first(v128.load(p), v128.load(p, 32), v128.load(p, 64));
    const r01 = Wino.second(v128.load(p, 32), v128.load(p, 64), v128.load(p, 96));
    const r10 = Wino.first(v128.load(p, 128), v128.load(p, 160), v128.load(p, 192));
    const r11 = Wino.second(v128.load(p, 160), v128.load(p, 192), v128.load(p, 224));
    const r20 = Wino.first(v128.load(p, 256), v128.load(p, 288), v128.load(p, 320));
    const r21 = Wino.second(v128.load(p, 288), v128.load(p, 320), v128.load(p, 352));
    const r30 = Wino.first(v128.load(p, 384), v128.load(p, 416), v128.load(p, 448));
    const r31 = Wino.second(v128.load(p, 416), v128.load(p, 448), v128.load(p, 480));
    const q00 = Wino.first(r00, r10, r20);
    const q01 = Wino.first(r01, r11, r21);
    const q10 = Wino.second(r10, r20, r30);
    const q11 = Wino.second(r11, r21, r31);
    if (iz == 0) { s00 = q00; s01 = q01; s02 = q10; s03 = q11; }
    else if (iz == 1) { s10 = q00; s11 = q01; s12 = q10; s13 = q11; }
    else if (iz == 2) { s20 = q00; s21 = q01; s22 = q10; s23 = q11; }
    else { s30 = q00; s31 = q01; s32 = q10; s33 = q11; }
  }
  // Along z: plane ez = 0 from s0, s1, s2; ez = 1 from s1, s2, s3.
  v128.store(dst, f32x4.add(Wino.first(s00, s10, s20), bias));
  v128.store(dst + outOff, f32x4.add(Wino.first(s01, s11, s21), bias));
  v128.store(dst + rowLen, f32x4.add(Wino.first(s02, s12, s22), bias));
  v128.store(dst + rowLen + outOff, f32x4.add(Wino.first(s03, s13, s23), bias));
  v128.store(dst + 2 * rowLen, f32x4.add(Wino.second(s10, s20, s30), bias));
  v128.store(dst + 2 * rowLen + outOff, f32x4.add(Wino.second(s11, s21, s31), bias));
  v128.store(dst + 3 * rowLen, f32x4.add(Wino.second(s12, s22, s32), bias));
  v128.store(dst + 3 * rowLen + outOff, f32x4.add(Wino.second(s13, s23, s33), bias));
}

/**
 * Copy the item's finished rows to the output: rows (z0 + ez dz, y0 + ey dy) inside the
 * output, back in x order when phased, through the activation.
 */
function storeRows(
  job: Conv3dJob,
  wj: WinogradJob,
  z0: i32,
  y0: i32,
  rows: usize,
  line: usize,
): void {
  const rowLen = wj.outRowLen;
  for (let co = 0; co < wj.cout; co++) {
    for (let r = 0; r < 4; r++) {
      const z = z0 + (r >> 1) * wj.dilationZ;
      const y = y0 + (r & 1) * wj.dilationY;
      if (z >= wj.od || y >= job.oh) continue;
      let src = rows + ((<usize>((co * 4 + r) * rowLen)) << 2);
      if (wj.outPhases > 1) src = unphaseRow(src, line, job.ow, wj.outPhases, wj.outPhaseLen);
      const at = co * job.outChannelStride + (z * job.oh + y) * job.ow;
      activateRow(src, job.out + ((<usize>at) << 2), job.ow, job.activation, job.alpha);
    }
  }
}

/** Two phases (dilation 1): zip 4 even and 4 odd outputs into 8 at a time. */
function interleaveRow(src: usize, line: usize, count: i32, phaseLen: i32): usize {
  const odd = src + ((<usize>phaseLen) << 2);
  let q = 0;
  for (; 2 * q + 8 <= count; q += 4) {
    const even = v128.load(src + ((<usize>q) << 2));
    const next = v128.load(odd + ((<usize>q) << 2));
    const at = line + ((<usize>(2 * q)) << 2);
    v128.store(at, i32x4.shuffle(even, next, 0, 4, 1, 5));
    v128.store(at, i32x4.shuffle(even, next, 2, 6, 3, 7), 16);
  }
  for (let x = 2 * q; x < count; x++) {
    const from = (x & 1 ? odd : src) + ((<usize>(x >> 1)) << 2);
    store<f32>(line + ((<usize>x) << 2), load<f32>(from));
  }
  return line;
}

/** Gather a phased row (phase x % phases, index x / phases) into x order in `line`. */
function unphaseRow(src: usize, line: usize, count: i32, phases: i32, phaseLen: i32): usize {
  if (phases == 2) return interleaveRow(src, line, count, phaseLen);
  for (let phase = 0; phase < phases; phase++) {
    const from = src + ((<usize>(phase * phaseLen)) << 2);
    let i = 0;
    for (let x = phase; x < count; x += phases) {
      store<f32>(line + ((<usize>x) << 2), load<f32>(from + ((<usize>i) << 2)));
      i++;
    }
  }
  return line;
}
