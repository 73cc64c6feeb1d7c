// instance_norm_apply: y = act((x - mean) / sqrt(var + eps) * scale[c] + shift[c]), one element
// per invocation. x, y: (N, C, S) flat with S = D * H * W; stats: (N * C) vec4 moments
// (count, mean, m2, 0) from instance_norm_stats; scale, shift: (C), or unused when absent.
// x and y are bound as windows whose first element is global element `base`.

//#include "lib/activate.wgsl"

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  // Workgroups that carry work in this dispatch.
  tile_count: u32,
  // Elements this dispatch processes.
  count: u32,
  // Global index of the first element this dispatch processes.
  first: u32,
  // Global index of the first element of the bound x and y windows.
  base: u32,
  // Elements per (n, c) plane: D * H * W.
  plane_len: u32,
  // Channels C.
  channels: u32,
  // 1 when scale is bound.
  has_scale: u32,
  // 1 when shift is bound.
  has_shift: u32,
  // ACTIVATION_CODES value.
  act_code: u32,
  // leakyRelu slope or elu scale.
  act_alpha: f32,
  // Added to the variance before the square root.
  eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> shift: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn instance_norm_apply(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wid.x + wid.y * grid.x;
  if (tile >= params.tile_count) {
    return;
  }

  let local_index = tile * WORKGROUP_SIZE + lid;
  if (local_index >= params.count) {
    return;
  }
  let index = params.first + local_index;
  let plane = index / params.plane_len;
  let c = plane % params.channels;
  let moments = stats[plane];
  let inv_std = inverseSqrt(moments.z / moments.x + params.eps);

  var gain = inv_std;
  if (params.has_scale == 1u) {
    gain *= scale[c];
  }
  var offset = 0.0;
  if (params.has_shift == 1u) {
    offset = shift[c];
  }
  let at = index - params.base;
  y[at] = activate(params.act_code, params.act_alpha, (x[at] - moments.y) * gain + offset);
}
