// conv3d_direct: direct 3D convolution with bias and fused activation.
// x: (N, Cin, D, H, W); weight: (Cout, Cin / groups, KD, KH, KW); bias: (Cout), unused when
// has_bias = 0; out: (N, Cout, D', H', W').
//
// A workgroup of TILE_D x TILE_H x TILE_W invocations computes a TILE_D x TILE_H x
// (TILE_W * VOXELS_W) block of output voxels for OC_BLOCK output channels of one group: each
// invocation owns VOXELS_W neighbouring voxels along W and OC_BLOCK sums for each, so one
// staged weight feeds VOXELS_W multiply-adds. For every input channel, the workgroup stages
// in workgroup memory the input slab its block reads (halo included) and the OC_BLOCK x KD x
// KH x KW weights, then each invocation adds its KD x KH x KW taps from there.
//
// Slab layout per axis, chosen by the host: "dense" holds the contiguous span of
// (T - 1) * stride + (K - 1) * dilation + 1 input positions; "runs" holds only the K runs of T
// positions that the taps touch (K * T), smaller when the dilation is larger than the tile.
//
// A dispatch covers batches from n_begin, groups [g_begin, g_begin + g_count), output channels
// [ocg_begin, ocg_begin + ocg_count) of each group, output depths [oz_begin, oz_begin +
// oz_count) and input channels [icg_begin, icg_begin + icg_count) of each group; x and out are
// bound as windows starting at global element x_base and out_base. When the input channels are
// split over several dispatches, the first pass adds the bias, later ones add to out, and the
// last one applies the activation.
//
// A faster version would treat the sums as a matrix product (implicit GEMM) with register
// tiles along channels as well as W, vectorise the channel loop, and use subgroup operations
// and f16 where the adapter has them.

//#include "lib/activate.wgsl"

override TILE_W: u32 = 8u;
override TILE_H: u32 = 8u;
override TILE_D: u32 = 4u;
// Output voxels per invocation along W, at most MAX_VOXELS_W.
override VOXELS_W: u32 = 4u;
// Output channels per invocation, at most MAX_OC_BLOCK.
override OC_BLOCK: u32 = 8u;
// Floats of workgroup memory for the input slab (d_ext * h_ext * w_ext at most).
override SLAB_CAPACITY: u32 = 3584u;
// Floats of workgroup memory for the staged weights (OC_BLOCK * KD * KH * KW at most).
override TAP_CAPACITY: u32 = 512u;

const MAX_OC_BLOCK: u32 = 8u;
const MAX_VOXELS_W: u32 = 4u;
const MAX_SUMS: u32 = MAX_OC_BLOCK * MAX_VOXELS_W;

struct Params {
  // Workgroups that carry work in this dispatch.
  tile_count: u32,
  // Output tiles along W.
  tiles_w: u32,
  // Output tiles along H.
  tiles_h: u32,
  // Output tiles along this dispatch's depth range.
  tiles_d: u32,
  // OC_BLOCK-wide output-channel blocks per group in this dispatch.
  oc_blocks: u32,
  // Groups in this dispatch.
  g_count: u32,
  // First group of this dispatch.
  g_begin: u32,
  // First batch index of this dispatch.
  n_begin: u32,
  // Input channels Cin.
  in_c: u32,
  // Input depth D.
  in_d: u32,
  // Input height H.
  in_h: u32,
  // Input width W.
  in_w: u32,
  // Output channels Cout.
  out_c: u32,
  // Output depth D'.
  out_d: u32,
  // Output height H'.
  out_h: u32,
  // Output width W'.
  out_w: u32,
  // Kernel depth KD.
  k_d: u32,
  // Kernel height KH.
  k_h: u32,
  // Kernel width KW.
  k_w: u32,
  // Stride along D.
  stride_d: u32,
  // Stride along H.
  stride_h: u32,
  // Stride along W.
  stride_w: u32,
  // Zero padding before D.
  pad_d: u32,
  // Zero padding before H.
  pad_h: u32,
  // Zero padding before W.
  pad_w: u32,
  // Dilation along D.
  dil_d: u32,
  // Dilation along H.
  dil_h: u32,
  // Dilation along W.
  dil_w: u32,
  // Input channels per group: Cin / groups.
  cin_per_group: u32,
  // Output channels per group: Cout / groups.
  cout_per_group: u32,
  // First output channel (within each group) of this dispatch.
  ocg_begin: u32,
  // Output channels (per group) of this dispatch.
  ocg_count: u32,
  // First input channel (within the group) summed by this dispatch.
  icg_begin: u32,
  // Input channels (per group) summed by this dispatch.
  icg_count: u32,
  // First output depth of this dispatch.
  oz_begin: u32,
  // Output depths of this dispatch.
  oz_count: u32,
  // Global element index of the first element of the bound x window.
  x_base: u32,
  // Global element index of the first element of the bound out window.
  out_base: u32,
  // Slab extent along D.
  d_ext: u32,
  // Slab extent along H.
  h_ext: u32,
  // Slab extent along W.
  w_ext: u32,
  // 1: dense slab layout along D; 0: runs.
  d_dense: u32,
  // 1: dense slab layout along H; 0: runs.
  h_dense: u32,
  // 1: dense slab layout along W; 0: runs.
  w_dense: u32,
  // 1: this dispatch starts the sums (adds the bias); 0: it adds to out.
  first_pass: u32,
  // 1: this dispatch finishes the sums (applies the activation).
  last_pass: u32,
  // 1 when bias is bound.
  has_bias: u32,
  // ACTIVATION_CODES value.
  act_code: u32,
  // leakyRelu slope or elu scale.
  act_alpha: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> slab: array<f32, SLAB_CAPACITY>;
var<workgroup> taps: array<f32, TAP_CAPACITY>;

// Where a workgroup's block lies: batch, group, first output channel, channels in the block
// and the first output voxel.
struct Block {
  n: u32,
  g: u32,
  oc0: u32,
  oc_valid: u32,
  origin: vec3<u32>,
}

fn locate_block(tile: u32) -> Block {
  var rest = tile;
  let tx = rest % params.tiles_w;
  rest /= params.tiles_w;
  let ty = rest % params.tiles_h;
  rest /= params.tiles_h;
  let tz = rest % params.tiles_d;
  rest /= params.tiles_d;
  let ob = rest % params.oc_blocks;
  rest /= params.oc_blocks;
  let g = params.g_begin + rest % params.g_count;
  let n = params.n_begin + rest / params.g_count;

  let ocg = params.ocg_begin + ob * OC_BLOCK;
  let valid = min(OC_BLOCK, params.ocg_begin + params.ocg_count - ocg);
  let origin = vec3<u32>(tx * TILE_W * VOXELS_W, ty * TILE_H, params.oz_begin + tz * TILE_D);
  return Block(n, g, g * params.cout_per_group + ocg, valid, origin);
}

// Input coordinate (before padding) of slab position `l` along an axis whose tile starts at
// output `o0`.
fn slab_coord(o0: u32, l: u32, dense: u32, tile: u32, stride: u32, dilation: u32) -> u32 {
  if (dense == 1u) {
    return o0 * stride + l;
  }
  return (o0 + l % tile) * stride + (l / tile) * dilation;
}

// Slab position read by tile offset `t` at kernel tap `k` along an axis.
fn slab_pos(t: u32, k: u32, dense: u32, tile: u32, stride: u32, dilation: u32) -> u32 {
  if (dense == 1u) {
    return t * stride + k * dilation;
  }
  return k * tile + t;
}

// One zero-padded input value; 0 outside the input and outside the rows that this dispatch's
// output depths read (they may lie outside the bound x window).
fn input_at(block: Block, ic: u32, iz: i32, iy: i32, ix: i32) -> f32 {
  let first_row = i32(params.oz_begin * params.stride_d) - i32(params.pad_d);
  let last_row = first_row + i32((params.oz_count - 1u) * params.stride_d +
    (params.k_d - 1u) * params.dil_d);
  let inside = iz >= max(first_row, 0) && iz <= last_row && iz < i32(params.in_d) &&
    iy >= 0 && iy < i32(params.in_h) && ix >= 0 && ix < i32(params.in_w);
  if (!inside) {
    return 0.0;
  }
  let row = ((block.n * params.in_c + ic) * params.in_d + u32(iz)) * params.in_h + u32(iy);
  return x[row * params.in_w + u32(ix) - params.x_base];
}

fn stage_slab(block: Block, ic: u32, lid: u32) {
  let plane = params.h_ext * params.w_ext;
  for (var i = lid; i < params.d_ext * plane; i += TILE_W * TILE_H * TILE_D) {
    let ld = i / plane;
    let lh = (i % plane) / params.w_ext;
    let lw = i % params.w_ext;
    let z0 = slab_coord(block.origin.z, ld, params.d_dense, TILE_D, params.stride_d, params.dil_d);
    let y0 = slab_coord(block.origin.y, lh, params.h_dense, TILE_H, params.stride_h, params.dil_h);
    let x0 = slab_coord(block.origin.x, lw, params.w_dense, TILE_W * VOXELS_W, params.stride_w,
      params.dil_w);
    let iz = i32(z0) - i32(params.pad_d);
    let iy = i32(y0) - i32(params.pad_h);
    let ix = i32(x0) - i32(params.pad_w);
    slab[i] = input_at(block, ic, iz, iy, ix);
  }
}

fn stage_taps(block: Block, icg: u32, lid: u32) {
  let per_channel = params.k_d * params.k_h * params.k_w;
  for (var i = lid; i < OC_BLOCK * per_channel; i += TILE_W * TILE_H * TILE_D) {
    let j = i / per_channel;
    var w = 0.0;
    if (j < block.oc_valid) {
      let oc = block.oc0 + j;
      w = weight[(oc * params.cin_per_group + icg) * per_channel + i % per_channel];
    }
    taps[i] = w;
  }
}

// Add one input channel's taps to the sums of this invocation's voxels; sum j * MAX_VOXELS_W + v
// belongs to output channel oc0 + j and voxel v.
fn accumulate(acc: ptr<function, array<f32, MAX_SUMS>>, local: vec3<u32>) {
  let per_channel = params.k_d * params.k_h * params.k_w;
  let width = TILE_W * VOXELS_W;
  var tap = 0u;
  for (var kz = 0u; kz < params.k_d; kz++) {
    let d = slab_pos(local.z, kz, params.d_dense, TILE_D, params.stride_d, params.dil_d);
    for (var ky = 0u; ky < params.k_h; ky++) {
      let h = slab_pos(local.y, ky, params.h_dense, TILE_H, params.stride_h, params.dil_h);
      let row = (d * params.h_ext + h) * params.w_ext;
      for (var kx = 0u; kx < params.k_w; kx++) {
        var values: array<f32, MAX_VOXELS_W>;
        for (var v = 0u; v < VOXELS_W; v++) {
          let t = local.x * VOXELS_W + v;
          values[v] = slab[row + slab_pos(t, kx, params.w_dense, width, params.stride_w,
            params.dil_w)];
        }
        for (var j = 0u; j < OC_BLOCK; j++) {
          let w = taps[j * per_channel + tap];
          for (var v = 0u; v < VOXELS_W; v++) {
            (*acc)[j * MAX_VOXELS_W + v] += values[v] * w;
          }
        }
        tap++;
      }
    }
  }
}

// Store the sums of one voxel (v of this invocation's VOXELS_W) for every valid channel.
fn store(block: Block, voxel: vec3<u32>, v: u32, acc: ptr<function, array<f32, MAX_SUMS>>) {
  let spatial = (voxel.z * params.out_h + voxel.y) * params.out_w + voxel.x;
  let channel_len = params.out_d * params.out_h * params.out_w;
  for (var j = 0u; j < block.oc_valid; j++) {
    let oc = block.oc0 + j;
    let at = (block.n * params.out_c + oc) * channel_len + spatial - params.out_base;
    var value = (*acc)[j * MAX_VOXELS_W + v];
    if (params.first_pass == 0u) {
      value += out[at];
    } else if (params.has_bias == 1u) {
      value += bias[oc];
    }
    if (params.last_pass == 1u) {
      value = activate(params.act_code, params.act_alpha, value);
    }
    out[at] = value;
  }
}

@compute @workgroup_size(TILE_W, TILE_H, TILE_D)
fn conv3d_direct(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_id) local: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wid.x + wid.y * grid.x;
  if (tile >= params.tile_count) {
    return;
  }

  let block = locate_block(tile);
  let first = block.origin + vec3<u32>(local.x * VOXELS_W, local.y, local.z);
  let inside = first.x < params.out_w && first.y < params.out_h &&
    first.z < params.oz_begin + params.oz_count;

  var acc: array<f32, MAX_SUMS>;
  for (var icg = params.icg_begin; icg < params.icg_begin + params.icg_count; icg++) {
    workgroupBarrier();
    stage_slab(block, block.g * params.cin_per_group + icg, lid);
    stage_taps(block, icg, lid);
    workgroupBarrier();
    if (inside) {
      accumulate(&acc, local);
    }
  }
  for (var v = 0u; v < VOXELS_W; v++) {
    if (inside && first.x + v < params.out_w) {
      store(block, first + vec3<u32>(v, 0u, 0u), v, &acc);
    }
  }
}
