/**
 * conv3d_winograd on the wasm backend (assembly/conv3d_winograd.ts explains the algorithm):
 * the host transforms the weights once per weight tensor (U = G g G^T, per block of output
 * channels), lays out the tiles of one output row, then walks the z-tiles in slabs: pad the
 * input planes a slab newly needs into the ring (conv3d_pad_input, shared with conv3d_direct),
 * and split the slab's (z-tile, y-tile) items over the threads.
 *
 * Rows are split into 2 dx phases when the x dilation is not a multiple of 4 (four x-adjacent
 * tiles then read consecutive floats), and kept in x order when it is (four tiles with
 * consecutive origins read consecutive floats).
 *
 * Setting: `VOXSEG_WASM_CONV=auto|direct|winograd` forces conv3d_direct, or conv3d_winograd
 * wherever it applies (any Cin), for comparisons; default auto (see {@link winogradApplies}).
 */
import { ACTIVATION_CODES, activationAlpha } from '../../engine/activations.js';
import type { Conv3dParams } from '../../engine/backend.js';
import { expected, VoxsegError } from '../../engine/errors.js';
import { readSetting } from '../../engine/log.js';
import type { Tensor } from '../../engine/tensor.js';
import { runItems, type WasmContext } from './context.js';
import { JOB_FIELDS, padPlanes, setJob } from './conv3d.js';

/** Field order of the WinogradJob record in assembly/conv3d_winograd.ts (32-bit fields). */
export const WINOGRAD_FIELDS = [
  'cin',
  'cout',
  'weights',
  'blocks',
  'blockCount',
  'bias',
  'xTiles',
  'xTileCount',
  'inOff1',
  'inOff2',
  'inOff3',
  'outOff',
  'outRowLen',
  'outPhases',
  'outPhaseLen',
  'dilationY',
  'dilationZ',
  'padZ',
  'od',
  'yTiles',
  'zTile0',
] as const;

type WinogradField = (typeof WINOGRAD_FIELDS)[number];

/**
 * Fewest input channels for which the transforms pay for themselves: measured on 64^3, one
 * input channel runs 1.3-1.6x faster on conv3d_direct, two break even, three gain 1.6x.
 */
export const WINOGRAD_MIN_CIN = 3;

/**
 * Least share of the computed outputs of a row that are real ones: rows of 4 outputs leave 3
 * lanes in 4 idle, and conv3d_direct is faster there.
 */
export const WINOGRAD_MIN_ROW_USE = 0.5;

/** A block of output channels of the packed weights. */
interface ChannelBlock {
  first: number;
  size: number;
  valid: number;
}

/** Vector tiles of one row and the offsets shared by all of them (floats). */
interface RowTiles {
  /** (input offset, output offset) per vector tile; an even count. */
  tiles: number[][];
  inOff: [number, number, number];
  outOff: number;
  /** The padded input row: phases and floats per phase. */
  phases: number;
  phaseLen: number;
  outPhases: number;
  outPhaseLen: number;
  outRowLen: number;
}

/** Sizes of one call. */
interface WinogradGeometry {
  cin: number;
  cout: number;
  d: number;
  h: number;
  w: number;
  out: [number, number, number];
  dilation: [number, number, number];
  padding: [number, number, number];
  row: RowTiles;
  hp: number;
  yTiles: number;
  zTiles: number;
  ringDepth: number;
}

const CONV_CHOICES = ['auto', 'direct', 'winograd'] as const;

/** The VOXSEG_WASM_CONV setting (read on every call, so a benchmark can switch it). */
export function wasmConvSetting(): (typeof CONV_CHOICES)[number] {
  const value = readSetting('VOXSEG_WASM_CONV') ?? 'auto';
  const known = CONV_CHOICES as readonly string[];
  if (!known.includes(value))
    throw expected(`one of ${CONV_CHOICES.join(', ')}`, 'VOXSEG_WASM_CONV', value);
  return value as (typeof CONV_CHOICES)[number];
}

/**
 * Whether conv3d_winograd runs this convolution: a 3x3x3 kernel, stride 1 and one group, and
 * (unless VOXSEG_WASM_CONV says otherwise) at least {@link WINOGRAD_MIN_CIN} input channels and
 * rows long enough to fill the lanes ({@link WINOGRAD_MIN_ROW_USE}).
 *
 * @param weightShape - (Cout, Cin / groups, KD, KH, KW).
 * @param outShape - (N, Cout, OD, OH, OW).
 * @throws InputError for an unknown VOXSEG_WASM_CONV value.
 */
export function winogradApplies(
  weightShape: readonly number[],
  params: Conv3dParams,
  outShape: readonly number[],
): boolean {
  const [, cin, kd, kh, kw] = weightShape;
  const setting = wasmConvSetting();
  const unitStride = params.stride.every((s) => s === 1);
  const fits = kd === 3 && kh === 3 && kw === 3 && unitStride && params.groups === 1;
  if (setting !== 'auto') return fits && setting === 'winograd';
  if (!fits || cin < WINOGRAD_MIN_CIN) return false;
  const ow = outShape[4];
  const row = rowTiles(ow, ow, params.padding[2], params.dilation[2]);
  return ow / (8 * row.tiles.length) >= WINOGRAD_MIN_ROW_USE;
}

/**
 * Split `cout` channels into register blocks of 5 or 4 (the kernel's product widths), with
 * the fewest padded channels and then the fewest blocks; padded channels are the last ones.
 * No block of 6: 6 channels x 2 vectors need 12 accumulators plus the two inputs, a weight and
 * a product, one more vector register than V8 gives wasm on x64 (15), and the spills cost more
 * (16->16 at 64^3: 79 ms with blocks 6, 5, 5; 64 ms with 4 x 4).
 */
export function channelBlocks(cout: number): ChannelBlock[] {
  let best = { waste: Infinity, sizes: [] as number[] };
  for (let fives = 0; fives <= Math.ceil(cout / 5); fives++) {
    const fours = Math.max(0, Math.ceil((cout - 5 * fives) / 4));
    const count = fives + fours;
    const waste = 5 * fives + 4 * fours - cout;
    if (count === 0) continue;
    if (waste < best.waste || (waste === best.waste && count < best.sizes.length)) {
      best = { waste, sizes: [...Array(fives).fill(5), ...Array(fours).fill(4)] };
    }
  }
  let first = 0;
  return best.sizes.map((size) => {
    const block = { first, size, valid: Math.max(0, Math.min(size, cout - first)) };
    first += size;
    return block;
  });
}

/** G of F(2, 3): the 4 x 3 weight transform. */
const G = [
  [1, 0, 0],
  [0.5, 0.5, 0.5],
  [0.5, -0.5, 0.5],
  [0, 0, 1],
];

/** U = G g G^T along z, y, x of one 3x3x3 kernel g (27, z slowest) -> (64, z slowest), float64. */
export function transformKernel(g: ArrayLike<number>, offset = 0): Float64Array {
  const alongX = new Float64Array(9 * 4); // (kz, ky, 4)
  for (let row = 0; row < 9; row++) {
    for (let a = 0; a < 4; a++) {
      alongX[row * 4 + a] = G[a].reduce((s, c, k) => s + c * g[offset + row * 3 + k], 0);
    }
  }
  const alongY = new Float64Array(3 * 16); // (kz, 4, 4)
  for (let kz = 0; kz < 3; kz++) {
    for (let b = 0; b < 4; b++) {
      for (let x = 0; x < 4; x++) {
        alongY[kz * 16 + b * 4 + x] = G[b].reduce(
          (s, c, k) => s + c * alongX[(kz * 3 + k) * 4 + x],
          0,
        );
      }
    }
  }
  const u = new Float64Array(64);
  for (let a = 0; a < 4; a++) {
    for (let i = 0; i < 16; i++)
      u[a * 16 + i] = G[a].reduce((s, c, k) => s + c * alongY[k * 16 + i], 0);
  }
  return u;
}

/**
 * Transformed weights of (Cout, Cin, 3, 3, 3): per block, (64, Cin, B) float32 (zeros for
 * padded channels), blocks one after another.
 */
export function packWinogradWeights(
  weight: Float32Array,
  cout: number,
  cin: number,
  blocks: ChannelBlock[],
): Float32Array {
  const packed = new Float32Array(64 * cin * blocks.reduce((s, b) => s + b.size, 0));
  let base = 0;
  for (const block of blocks) {
    for (let j = 0; j < block.valid; j++) {
      for (let c = 0; c < cin; c++) {
        const u = transformKernel(weight, ((block.first + j) * cin + c) * 27);
        for (let p = 0; p < 64; p++) packed[base + (p * cin + c) * block.size + j] = u[p];
      }
    }
    base += 64 * cin * block.size;
  }
  return packed;
}

/** Vector tiles of one output row of `ow` outputs, dilation dx, input padded by `padW`. */
export function rowTiles(ow: number, w: number, padW: number, dx: number): RowTiles {
  const q = Math.ceil(ow / (2 * dx));
  const row = dx % 4 === 0 ? inOrderRow(q, dx, w + 2 * padW) : phasedRow(q, dx);
  if (row.tiles.length % 2) row.tiles.push([0, row.outRowLen - row.outOff - 4]);
  return row;
}

/** dx a multiple of 4: lanes are 4 tiles with consecutive origins; rows in x order. */
function inOrderRow(q: number, dx: number, paddedWidth: number): RowTiles {
  const tiles: number[][] = [];
  for (let k = 0; k < q; k++) {
    for (let r = 0; r < dx; r += 4) tiles.push([2 * dx * k + r, 2 * dx * k + r]);
  }
  const last = tiles[tiles.length - 1][0];
  const phaseLen = Math.ceil(Math.max(paddedWidth, last + 3 * dx + 4) / 4) * 4;
  const outRowLen = last + dx + 4 + dx + 4;
  const inOff: [number, number, number] = [dx, 2 * dx, 3 * dx];
  return {
    tiles,
    inOff,
    outOff: dx,
    phases: 1,
    phaseLen,
    outPhases: 1,
    outPhaseLen: outRowLen,
    outRowLen,
  };
}

/** Other dilations: rows in 2 dx phases; lanes are 4 tiles with consecutive indices. */
function phasedRow(q: number, dx: number): RowTiles {
  const phases = 2 * dx;
  const qPad = Math.ceil(q / 4) * 4;
  const phaseLen = qPad + 1;
  const tiles: number[][] = [];
  for (let r = 0; r < dx; r++) {
    for (let k = 0; k < q; k += 4) tiles.push([r * phaseLen + k, r * qPad + k]);
  }
  const outOff = dx * qPad;
  const outRowLen = phases * qPad + outOff + 4;
  const inOff: [number, number, number] = [dx * phaseLen, 1, dx * phaseLen + 1];
  return {
    tiles,
    inOff,
    outOff,
    phases,
    phaseLen,
    outPhases: phases,
    outPhaseLen: qPad,
    outRowLen,
  };
}

function winogradGeometry(
  x: Tensor,
  params: Conv3dParams,
  outShape: readonly number[],
  ctx: WasmContext,
): WinogradGeometry {
  const [, cin, d, h, w] = x.shape;
  const [, cout, od, oh, ow] = outShape;
  const [dz, dy, dx] = params.dilation;
  const row = rowTiles(ow, w, params.padding[2], dx);
  const qy = Math.ceil(oh / (2 * dy));
  const hp = Math.max(h + 2 * params.padding[1], 2 * dy * qy + 2 * dy);
  const planeBytes = hp * row.phases * row.phaseLen * 4;
  const fit = Math.floor(ctx.padBudgetBytes / (cin * planeBytes));
  return {
    cin,
    cout,
    d,
    h,
    w,
    out: [od, oh, ow],
    dilation: [dz, dy, dx],
    padding: [...params.padding],
    row,
    hp,
    yTiles: dy * qy,
    zTiles: dz * Math.ceil(od / (2 * dz)),
    ringDepth: Math.min(d, Math.max(3 * dz + 1, fit)),
  };
}

/** Per thread: V (64, Cin, 8), T, M (6, 64, 8), the output rows, one x-ordered row. */
function scratchBytes(g: WinogradGeometry): number {
  const floats = 64 * g.cin * 8 + 256 + 6 * 64 * 8 + g.cout * 4 * g.row.outRowLen;
  return (floats + Math.ceil(g.out[2] / 4) * 4) * 4 + 64;
}

/** First output coordinate of tile t along an axis of dilation d. */
function tileOrigin(t: number, d: number): number {
  return 2 * d * Math.floor(t / d) + (t % d);
}

/**
 * out = act(conv3d(x, weight) + bias) by conv3d_winograd, written at `ptrs.out`.
 *
 * @param x - (N, Cin, D, H, W) at `ptrs.x`.
 * @param weight - (Cout, Cin, 3, 3, 3) at `ptrs.weight`; see {@link winogradApplies}.
 * @param outShape - (N, Cout, OD, OH, OW), already checked by conv3dOutputShape.
 */
export async function runConv3dWinograd(
  ctx: WasmContext,
  x: Tensor,
  weight: Tensor,
  ptrs: { x: number; weight: number; bias: number | null; out: number },
  params: Conv3dParams,
  outShape: readonly number[],
): Promise<void> {
  checkLayout(ctx);
  const g = winogradGeometry(x, params, outShape, ctx);
  const temps: number[] = [];
  const temp = (bytes: number, role: string) => {
    temps.push(ctx.heap.alloc(bytes, role));
    return temps[temps.length - 1];
  };
  try {
    const planeBytes = g.hp * g.row.phases * g.row.phaseLen * 4;
    const buffers = {
      job: temp(JOB_FIELDS.length * 4, 'conv3d job'),
      wjob: temp(WINOGRAD_FIELDS.length * 4, 'conv3d winograd job'),
      ring: temp(g.cin * g.ringDepth * planeBytes, 'conv3d padded planes'),
      zero: temp(planeBytes, 'conv3d zero plane'),
      tiles: temp(g.row.tiles.length * 8, 'conv3d winograd tiles'),
      scratch: temp(scratchBytes(g) * ctx.executor.threads, 'conv3d scratch'),
    };
    ctx.heap.bytes(buffers.zero, planeBytes).fill(0);
    ctx.heap.i32(buffers.tiles, g.row.tiles.length * 2).set(g.row.tiles.flat());
    const weights = ctx.weights.winograd(weight, ptrs.weight, g.cout, g.cin);
    writeJobs(ctx, g, params, buffers, weights, ptrs.bias);
    for (let batch = 0; batch < x.shape[0]; batch++) {
      setJob(ctx, buffers.job, {
        x: ptrs.x + batch * g.cin * g.d * g.h * g.w * 4,
        out: ptrs.out + batch * g.cout * g.out[0] * g.out[1] * g.out[2] * 4,
      });
      await convolveBatchItem(ctx, g, buffers);
    }
  } finally {
    for (const ptr of temps) ctx.heap.free(ptr);
  }
}

/** Fill both job records: the ring geometry (Conv3dJob) and the tiles (WinogradJob). */
function writeJobs(
  ctx: WasmContext,
  g: WinogradGeometry,
  params: Conv3dParams,
  b: { job: number; wjob: number; ring: number; zero: number; tiles: number },
  weights: { ptr: number; blocks: number; count: number },
  bias: number | null,
): void {
  const [od, oh, ow] = g.out;
  setJob(ctx, b.job, {
    ring: b.ring,
    zero: b.zero,
    cin: g.cin,
    d: g.d,
    h: g.h,
    w: g.w,
    padD: g.padding[0],
    padH: g.padding[1],
    padW: g.padding[2],
    ringDepth: g.ringDepth,
    hp: g.hp,
    strideW: g.row.phases,
    phaseLen: g.row.phaseLen,
    oh,
    ow,
    outChannelStride: od * oh * ow,
    activation: ACTIVATION_CODES[params.activation.kind],
  });
  ctx.heap.f32(b.job, JOB_FIELDS.length)[JOB_FIELDS.indexOf('alpha')] = activationAlpha(
    params.activation,
  );
  const { row } = g;
  setWinograd(ctx, b.wjob, {
    cin: g.cin,
    cout: g.cout,
    weights: weights.ptr,
    blocks: weights.blocks,
    blockCount: weights.count,
    bias: bias ?? 0,
    xTiles: b.tiles,
    xTileCount: row.tiles.length,
    inOff1: row.inOff[0],
    inOff2: row.inOff[1],
    inOff3: row.inOff[2],
    outOff: row.outOff,
    outRowLen: row.outRowLen,
    outPhases: row.outPhases,
    outPhaseLen: row.outPhaseLen,
    dilationY: g.dilation[1],
    dilationZ: g.dilation[0],
    padZ: g.padding[0],
    od,
    yTiles: g.yTiles,
    zTile0: 0,
  });
}

function setWinograd(
  ctx: WasmContext,
  job: number,
  values: Partial<Record<WinogradField, number>>,
) {
  const fields = ctx.heap.i32(job, WINOGRAD_FIELDS.length);
  for (const [name, value] of Object.entries(values)) {
    fields[WINOGRAD_FIELDS.indexOf(name as WinogradField)] = value;
  }
}

/**
 * Every slab of z-tiles of one batch item: as many consecutive z-tiles as the ring holds the
 * input planes of; pad the planes the slab newly needs, then run its items.
 */
async function convolveBatchItem(
  ctx: WasmContext,
  g: WinogradGeometry,
  b: { job: number; wjob: number; scratch: number },
): Promise<void> {
  const [dz] = g.dilation;
  const [pz] = g.padding;
  const extent = (t0: number, t1: number) =>
    tileOrigin(t1 - 1, dz) + 3 * dz - tileOrigin(t0, dz) + 1;
  let padded = 0;
  for (let t0 = 0; t0 < g.zTiles;) {
    let t1 = t0 + 1;
    while (t1 < g.zTiles && extent(t0, t1 + 1) <= g.ringDepth) t1++;
    const low = Math.max(padded, tileOrigin(t0, dz) - pz);
    const high = Math.min(g.d - 1, tileOrigin(t1 - 1, dz) + 3 * dz - pz);
    if (high >= low) {
      await padPlanes(ctx, g.cin, g.hp * g.row.phases * g.row.phaseLen, b.job, low, high - low + 1);
      padded = high + 1;
    }
    await convolveTiles(ctx, g, b, t0, t1 - t0);
    t0 = t1;
  }
}

/** conv3d_winograd over z-tiles [t0, t0 + count) x every y-tile. */
async function convolveTiles(
  ctx: WasmContext,
  g: WinogradGeometry,
  b: { job: number; wjob: number; scratch: number },
  t0: number,
  count: number,
): Promise<void> {
  setWinograd(ctx, b.wjob, { zTile0: t0 });
  const items = count * g.yTiles;
  const work = items * 2 * 64 * g.cin * g.cout * g.row.tiles.length * 4;
  const bytes = scratchBytes(g);
  await runItems(ctx, items, work, (r) => [
    {
      kernel: 'conv3d_winograd',
      args: [b.job, b.wjob, b.scratch + r.thread * bytes, r.start, r.end],
    },
  ]);
}

/** The module's WinogradJob must have the fields WINOGRAD_FIELDS names. */
function checkLayout(ctx: WasmContext): void {
  const bytes = (ctx.kernels.conv3d_winograd_job_bytes as () => number)();
  if (bytes !== WINOGRAD_FIELDS.length * 4) {
    throw new VoxsegError(
      `the wasm kernels' WinogradJob has ${bytes} bytes, expected ${WINOGRAD_FIELDS.length * 4}: ` +
        'rebuild with npm run build:wasm',
    );
  }
}
