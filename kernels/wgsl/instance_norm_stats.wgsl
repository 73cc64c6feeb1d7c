// instance_norm_stats: mean and biased variance of each (n, c) plane, as Welford moments
// (count, mean, m2) merged pairwise (Chan et al.), which keeps float32 accurate on long planes.
//
// Pass 1 reads values: x is (N, C, S) flat with S = D * H * W, cut into blocks of `block_len`
// values; each workgroup reduces one block to a partial (count, mean, m2, 0). Later passes
// read those partials (from_partials = 1) and reduce them again, until each plane has one.
// partials: (planes, blocks_per_plane) of vec4 (count, mean, m2, 0).

override WORKGROUP_SIZE: u32 = 256u; // a power of two

struct Params {
  // Workgroups that carry work in this dispatch (blocks reduced).
  tile_count: u32,
  // Global block index (plane * blocks_per_plane + block) of workgroup 0.
  first_block: u32,
  // Blocks each plane is cut into in this pass.
  blocks_per_plane: u32,
  // Values (or partials) each block covers.
  block_len: u32,
  // Values (or partials) per plane in this pass's input.
  plane_len: u32,
  // Global float index of the first float of the bound x window.
  x_base: u32,
  // Global block index of the first partial of the bound partials window.
  partials_base: u32,
  // 0: x holds values; 1: x holds vec4 partials of the previous pass.
  from_partials: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> counts: array<f32, WORKGROUP_SIZE>;
var<workgroup> means: array<f32, WORKGROUP_SIZE>;
var<workgroup> m2s: array<f32, WORKGROUP_SIZE>;

struct Moments {
  count: f32,
  mean: f32,
  m2: f32,
}

fn merge(a: Moments, b: Moments) -> Moments {
  let count = a.count + b.count;
  if (b.count == 0.0) {
    return a;
  }
  let delta = b.mean - a.mean;
  let share = b.count / count;
  return Moments(count, a.mean + delta * share, a.m2 + b.m2 + delta * delta * a.count * share);
}

// The moments of input item `item` (global index in values or in partials).
fn load(item: u32) -> Moments {
  if (params.from_partials == 0u) {
    return Moments(1.0, x[item - params.x_base], 0.0);
  }
  let at = item * 4u - params.x_base;
  return Moments(x[at], x[at + 1u], x[at + 2u]);
}

fn shared_moments(i: u32) -> Moments {
  return Moments(counts[i], means[i], m2s[i]);
}

fn store_shared(i: u32, m: Moments) {
  counts[i] = m.count;
  means[i] = m.mean;
  m2s[i] = m.m2;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn instance_norm_stats(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wid.x + wid.y * grid.x;
  if (tile >= params.tile_count) {
    return;
  }

  let block = params.first_block + tile;
  let plane = block / params.blocks_per_plane;
  let start = plane * params.plane_len + (block % params.blocks_per_plane) * params.block_len;
  let end = min(start + params.block_len, (plane + 1u) * params.plane_len);
  var m = Moments(0.0, 0.0, 0.0);
  for (var item = start + lid; item < end; item += WORKGROUP_SIZE) {
    m = merge(m, load(item));
  }
  store_shared(lid, m);

  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lid < stride) {
      store_shared(lid, merge(shared_moments(lid), shared_moments(lid + stride)));
    }
  }
  if (lid == 0u) {
    partials[block - params.partials_base] = vec4<f32>(counts[0], means[0], m2s[0], 0.0);
  }
}
