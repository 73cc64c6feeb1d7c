// argmax: index of the largest channel per voxel, ties to the lower index, one voxel per
// invocation. Channels may arrive in several dispatches, in increasing order: the running best
// value is kept in `best` and the running index in `out` between them.
// x: (N, C, S) flat with S = D * H * W; out: (N, S) int32; best: (N, S) float32.
// x, out and best are bound as windows starting at global element x_base, out_base, best_base.

override WORKGROUP_SIZE: u32 = 256u;

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
  // First channel of this dispatch; 0 starts afresh.
  c_begin: u32,
  // Channels this dispatch covers.
  c_count: u32,
  // Global element index of the first element of the bound x window.
  x_base: u32,
  // Global element index of the first element of the bound out window.
  out_base: u32,
  // Global element index of the first element of the bound best window.
  best_base: u32,
  // 1 when a later dispatch continues from this one, so `best` must be written.
  keep_best: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
@group(0) @binding(2) var<storage, read_write> best: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP_SIZE)
fn argmax(
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
  let voxel = params.batch * params.spatial + s;
  let plane0 = params.batch * params.channels * params.spatial + s;
  var c = params.c_begin;
  var best_index = 0;
  var best_value = 0.0;
  if (c == 0u) {
    best_value = x[plane0 - params.x_base];
    c = 1u;
  } else {
    best_index = out[voxel - params.out_base];
    best_value = best[voxel - params.best_base];
  }

  for (; c < params.c_begin + params.c_count; c++) {
    let v = x[plane0 + c * params.spatial - params.x_base];
    if (v > best_value) {
      best_value = v;
      best_index = i32(c);
    }
  }
  out[voxel - params.out_base] = best_index;
  if (params.keep_best == 1u) {
    best[voxel - params.best_base] = best_value;
  }
}
