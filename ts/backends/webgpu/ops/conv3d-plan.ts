/**
 * Planning for conv3d_direct: the workgroup tile and slab layout that fit workgroup memory, and
 * the passes that keep every bound window under the binding limit.
 *
 * Passes: when x and out both fit one binding, one dispatch does everything. Otherwise each
 * (batch, group) is cut into passes over output depth ranges, output channel ranges and input
 * channel ranges such that each pass binds one contiguous window of x and of out:
 * - out: all of the group's channels, else whole channel planes, else depth rows of one channel;
 * - x: all of the group's channels, else whole channel planes, else the depth rows of one
 *   channel that the output rows read, halo included.
 * Passes over input channels add into out; only the last applies the activation.
 */
import type { Conv3dParams } from '../../../engine/backend.js';
import { VoxsegError } from '../../../engine/errors.js';
import { convOutputExtent } from '../../../engine/shapes.js';

/** Sizes of one conv3d call, every triple ordered (D, H, W). */
export interface ConvGeometry {
  n: number;
  cin: number;
  cout: number;
  groups: number;
  /** Input extent (D, H, W). */
  input: [number, number, number];
  /** Output extent (D', H', W'). */
  output: [number, number, number];
  /** Kernel extent (KD, KH, KW). */
  kernel: [number, number, number];
  stride: [number, number, number];
  padding: [number, number, number];
  dilation: [number, number, number];
}

/** Workgroup tile, channel block and slab layout of a conv3d pipeline. */
export interface ConvTile {
  /** Invocations per workgroup along (D, H, W). */
  tile: [number, number, number];
  /** Output voxels per invocation along W. */
  voxelsW: number;
  ocBlock: number;
  /** Slab extent along (D, H, W). */
  ext: [number, number, number];
  /** Slab layout along (D, H, W): dense span, else K runs of T. */
  dense: [boolean, boolean, boolean];
}

/** One dispatch's share of the work. */
export interface ConvPass {
  nBegin: number;
  nCount: number;
  gBegin: number;
  gCount: number;
  ocgBegin: number;
  ocgCount: number;
  icgBegin: number;
  icgCount: number;
  ozBegin: number;
  ozCount: number;
  firstPass: boolean;
  lastPass: boolean;
  /** Element ranges [first, end) of x and out this pass reads and writes. */
  x: [number, number];
  out: [number, number];
}

/** Workgroup memory (in floats) set aside for one input channel's slab and its weights. */
export const SLAB_CAPACITY = 3584;
export const TAP_CAPACITY = 512;
const MAX_OC_BLOCK = 8;
const MAX_VOXELS_W = 4;
/** Workgroup shapes (D, H, W) to try, largest first; each with 4, 2, then 1 voxels along W. */
const TILES: ReadonlyArray<[number, number, number]> = [
  [4, 8, 8],
  [2, 8, 8],
  [2, 4, 8],
  [2, 4, 4],
  [1, 4, 4],
  [1, 2, 2],
  [1, 1, 1],
];

/** Geometry of a conv3d call from its shapes. */
export function convGeometry(
  x: readonly number[],
  weight: readonly number[],
  params: Conv3dParams,
): ConvGeometry {
  const [n, cin, d, h, w] = x;
  const [cout, , kd, kh, kw] = weight;
  const kernel: [number, number, number] = [kd, kh, kw];
  const input: [number, number, number] = [d, h, w];
  const output = input.map((size, a) =>
    convOutputExtent(size, kernel[a], params.stride[a], params.padding[a], params.dilation[a]),
  ) as [number, number, number];
  const { groups, stride, padding, dilation } = params;
  return { n, cin, cout, groups, input, output, kernel, stride, padding, dilation };
}

/** Slab extent along one axis: the dense span, or K runs of T when that is smaller. */
export function axisSlab(tile: number, k: number, stride: number, dilation: number) {
  const dense = (tile - 1) * stride + (k - 1) * dilation + 1;
  const runs = k * tile;
  return runs < dense ? { ext: runs, dense: false } : { ext: dense, dense: true };
}

/**
 * The largest output tile whose slab fits SLAB_CAPACITY and whose invocations fit
 * `invocations`; several voxels per invocation along W only when the output is that wide.
 *
 * @throws VoxsegError when even a one-voxel tile does not fit (kernels of more than 512 taps).
 */
export function chooseTile(geometry: ConvGeometry, invocations: number): ConvTile {
  const { kernel, stride, dilation } = geometry;
  const taps = kernel[0] * kernel[1] * kernel[2];
  const coutPG = geometry.cout / geometry.groups;
  const ocBlock = Math.min(MAX_OC_BLOCK, coutPG, Math.floor(TAP_CAPACITY / taps));
  for (const tile of TILES) {
    for (let voxelsW = MAX_VOXELS_W; voxelsW >= 1; voxelsW /= 2) {
      const width = tile[2] * voxelsW;
      if (ocBlock < 1 || tile[0] * tile[1] * tile[2] > invocations) continue;
      if (voxelsW > 1 && width > geometry.output[2] + tile[2] - 1) continue;
      const extents = [tile[0], tile[1], width];
      const slabs = extents.map((t, a) => axisSlab(t, kernel[a], stride[a], dilation[a]));
      const ext = slabs.map((s) => s.ext) as [number, number, number];
      const dense = slabs.map((s) => s.dense) as [boolean, boolean, boolean];
      if (ext[0] * ext[1] * ext[2] <= SLAB_CAPACITY) return { tile, voxelsW, ocBlock, ext, dense };
    }
  }
  throw new VoxsegError(
    `conv3d kernel (${kernel.join(', ')}) is too large for the webgpu backend's workgroup memory`,
    { hint: 'run this convolution on the wasm backend' },
  );
}

/**
 * Passes that keep every x and out window within `limit` elements.
 *
 * @throws VoxsegError when one kernel's depth of input rows does not fit a binding.
 */
export function planConvPasses(g: ConvGeometry, limit: number): ConvPass[] {
  const [d, h, w] = g.input;
  const [od, oh, ow] = g.output;
  const cinPG = g.cin / g.groups;
  const coutPG = g.cout / g.groups;
  if (g.n * g.cin * d * h * w <= limit && g.n * g.cout * od * oh * ow <= limit) {
    return [wholePass(g, cinPG, coutPG)];
  }

  const passes: ConvPass[] = [];
  const split = splitSizes(g, limit);
  for (let n = 0; n < g.n; n++) {
    for (let group = 0; group < g.groups; group++) {
      for (let oz = 0; oz < od; oz += split.oz) {
        for (let oc = 0; oc < coutPG; oc += split.oc) {
          const region = { n, group, oz, ozCount: Math.min(split.oz, od - oz), oc };
          const ocCount = Math.min(split.oc, coutPG - oc);
          for (let ic = 0; ic < cinPG; ic += split.ic) {
            const icCount = Math.min(split.ic, cinPG - ic);
            passes.push(groupPass(g, { ...region, ocCount, ic, icCount }, split.rowsOnly));
          }
        }
      }
    }
  }
  return passes;
}

function wholePass(g: ConvGeometry, cinPG: number, coutPG: number): ConvPass {
  const [d, h, w] = g.input;
  const [od, oh, ow] = g.output;
  return {
    ...{ nBegin: 0, nCount: g.n, gBegin: 0, gCount: g.groups, ocgBegin: 0, ocgCount: coutPG },
    ...{ icgBegin: 0, icgCount: cinPG, ozBegin: 0, ozCount: od, firstPass: true, lastPass: true },
    x: [0, g.n * g.cin * d * h * w],
    out: [0, g.n * g.cout * od * oh * ow],
  };
}

/** Chunk sizes per (batch, group): output depths, output channels, input channels. */
function splitSizes(g: ConvGeometry, limit: number) {
  const [d, h, w] = g.input;
  const [od, oh, ow] = g.output;
  const cinPG = g.cin / g.groups;
  const coutPG = g.cout / g.groups;
  const outPlane = od * oh * ow;
  const inPlane = d * h * w;

  let oc = coutPG;
  let oz = od;
  if (coutPG * outPlane > limit) oc = Math.max(1, Math.floor(limit / outPlane));
  if (outPlane > limit) oz = Math.floor(limit / (oh * ow));

  const ic = Math.max(1, Math.min(cinPG, Math.floor(limit / inPlane)));
  const rowsOnly = inPlane > limit;
  if (rowsOnly) {
    const halo = (g.kernel[0] - 1) * g.dilation[0] + 1;
    oz = Math.min(oz, Math.floor((Math.floor(limit / (h * w)) - halo) / g.stride[0]) + 1);
  }
  if (oz < od) oc = 1;
  if (oz < 1) {
    throw new VoxsegError(
      `conv3d input rows of (${h}, ${w}) do not fit the webgpu binding limit with kernel depth ` +
        `${g.kernel[0]} and dilation ${g.dilation[0]}`,
      { hint: 'run this convolution on the wasm backend' },
    );
  }
  return { oc, oz, ic, rowsOnly };
}

interface PassRegion {
  n: number;
  group: number;
  oz: number;
  ozCount: number;
  oc: number;
  ocCount: number;
  ic: number;
  icCount: number;
}

function groupPass(g: ConvGeometry, r: PassRegion, rowsOnly: boolean): ConvPass {
  const [d, h, w] = g.input;
  const [od, oh, ow] = g.output;
  const cinPG = g.cin / g.groups;
  const coutPG = g.cout / g.groups;

  let [iz0, iz1] = [0, d];
  if (rowsOnly) {
    const reach = (g.kernel[0] - 1) * g.dilation[0];
    iz0 = clamp(r.oz * g.stride[0] - g.padding[0], 0, d - 1);
    iz1 = clamp((r.oz + r.ozCount - 1) * g.stride[0] - g.padding[0] + reach + 1, iz0 + 1, d);
  }
  const c0 = r.n * g.cin + r.group * cinPG + r.ic;
  const o0 = r.n * g.cout + r.group * coutPG + r.oc;
  return {
    ...{ nBegin: r.n, nCount: 1, gBegin: r.group, gCount: 1, ocgBegin: r.oc, ocgCount: r.ocCount },
    ...{ icgBegin: r.ic, icgCount: r.icCount, ozBegin: r.oz, ozCount: r.ozCount },
    firstPass: r.ic === 0,
    lastPass: r.ic + r.icCount === cinPG,
    x: [(c0 * d + iz0) * h * w, ((c0 + r.icCount - 1) * d + iz1) * h * w],
    out: [(o0 * od + r.oz) * oh * ow, ((o0 + r.ocCount - 1) * od + r.oz + r.ozCount) * oh * ow],
  };
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}
