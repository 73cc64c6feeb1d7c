// softmax: softmax over the channel axis, one voxel per invocation, with an online (running
// max, running sum) so that channels may arrive in several dispatches.
// x, y: (N, C, S) flat with S = D * H * W; stats: (N, S) pairs (max, sum) of float32.
//
// phase 0: every channel of the voxel range is bound; compute and write y in one go.
// phase 1: fold channels [c_begin, c_begin + c_count) into stats (c_begin = 0 starts afresh).
// phase 2: write y for channels [c_begin, c_begin + c_count) from the finished stats.
// x, y and stats are bound as windows starting at global element x_base, y_base, stats_base.

override WORKGROUP_SIZE: u32 = 256u;

const LOWEST: f32 = -0x1.fffffep+127f;

struct Params {
  // Workgroups that carry work in this dispatch.
  tile_count: u32,
  // Voxels this dispatch processes.
  count: u32,
  // First voxel (index into S) of this dispatch.
  s_begin: u32,
  // Voxels per channel: S = D * H * W.
  spatial: u32,
  // Channels C.
  channels: u32,
  // Batch index n.
  batch: u32,
  // First channel of this dispatch.
  c_begin: u32,
  // Channels this dispatch covers.
  c_count: u32,
  // Global element index of the first element of the bound x window.
  x_base: u32,
  // Global element index of the first element of the bound y window.
  y_base: u32,
  // Global pair index of the first pair of the bound stats window.
  stats_base: u32,
  // 0 fused, 1 fold into stats, 2 write from stats.
  phase: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<vec2<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

fn element(c: u32, s: u32) -> u32 {
  return (params.batch * params.channels + c) * params.spatial + s;
}

// Running (max, sum of exp(x - max)) over this dispatch's channels, starting from `start`.
fn fold(start: vec2<f32>, s: u32) -> vec2<f32> {
  var m = start.x;
  var l = start.y;
  for (var c = params.c_begin; c < params.c_begin + params.c_count; c++) {
    let v = x[element(c, s) - params.x_base];
    if (v > m) {
      l = l * exp(m - v) + 1.0;
      m = v;
    } else {
      l += exp(v - m);
    }
  }
  return vec2<f32>(m, l);
}

fn write(stat: vec2<f32>, s: u32) {
  for (var c = params.c_begin; c < params.c_begin + params.c_count; c++) {
    let at = element(c, s);
    y[at - params.y_base] = exp(x[at - params.x_base] - stat.x) / stat.y;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax(
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
  let s = params.s_begin + local_index;
  let pair = params.batch * params.spatial + s - params.stats_base;
  if (params.phase == 0u) {
    write(fold(vec2<f32>(LOWEST, 0.0), s), s);
  } else if (params.phase == 1u) {
    var start = vec2<f32>(LOWEST, 0.0);
    if (params.c_begin > 0u) {
      start = stats[pair];
    }
    stats[pair] = fold(start, s);
  } else {
    write(stats[pair], s);
  }
}
