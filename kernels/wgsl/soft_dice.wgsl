// soft_dice: per-block sums for a soft Dice, sum(p * t), sum(p), sum(t) with t = [label == c].
// probs: (N, C, S) float32 flat with S = D * H * W; target: (N, S) labels packed as
// lib/labels.wgsl describes; partials: one vec4 (intersection, pred, target, 0) per workgroup.
// A dispatch covers planes (n, c) [plane_begin, plane_begin + plane_count) and voxels
// [s_begin, s_begin + s_count) of each, cut into blocks of block_len voxels; workgroup `tile`
// writes partials[partial_begin + tile]. The host adds the partials in float64.

//#include "lib/labels.wgsl"

override WORKGROUP_SIZE: u32 = 256u; // a power of two

struct Params {
  // Workgroups that carry work in this dispatch.
  tile_count: u32,
  // First (n, c) plane, as n * C + c.
  plane_begin: u32,
  // First voxel of each plane covered.
  s_begin: u32,
  // Voxels of each plane covered.
  s_count: u32,
  // Voxels per block (one workgroup each).
  block_len: u32,
  // Blocks per plane in this dispatch: ceil(s_count / block_len).
  blocks: u32,
  // Voxels per channel: S.
  spatial: u32,
  // Channels C.
  channels: u32,
  // Global element index of the first element of the bound probs window.
  probs_base: u32,
  // Global element index of the first label of the bound target window (on a word boundary).
  target_base: u32,
  // Packing code of target: 0 int32, 1 uint16, 2 uint8.
  target_code: u32,
  // Index in partials of workgroup 0's result.
  partial_begin: u32,
}

@group(0) @binding(0) var<storage, read> probs: array<f32>;
@group(0) @binding(1) var<storage, read> target_labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> partials: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> sums: array<vec4<f32>, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn soft_dice(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wid.x + wid.y * grid.x;
  if (tile >= params.tile_count) {
    return;
  }

  let plane = params.plane_begin + tile / params.blocks;
  let n = plane / params.channels;
  let c = i32(plane % params.channels);
  let start = params.s_begin + (tile % params.blocks) * params.block_len;
  let end = min(start + params.block_len, params.s_begin + params.s_count);
  var sum = vec4<f32>(0.0);
  for (var s = start + lid; s < end; s += WORKGROUP_SIZE) {
    let p = probs[plane * params.spatial + s - params.probs_base];
    let voxel = n * params.spatial + s;
    let word = target_labels[(voxel - params.target_base) >> params.target_code];
    let t = select(0.0, 1.0, label_in_word(word, voxel, params.target_code) == c);
    sum += vec4<f32>(p * t, p, t, 0.0);
  }
  sums[lid] = sum;

  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lid < stride) {
      sums[lid] += sums[lid + stride];
    }
  }
  if (lid == 0u) {
    partials[params.partial_begin + tile] = sums[0];
  }
}
