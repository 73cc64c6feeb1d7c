// edt_envelope: passes 2 and 3 of the exact squared Euclidean distance transform, one line per
// invocation: the line's values f (mm^2) are replaced by their lower envelope of parabolas,
// min_p (q - p)^2 step^2 + f(p), along H (pass 2) or D (pass 3) of (N, D, H, W).
// One kernel serves both passes because they differ only in the line geometry: line l runs
// along an axis of extent n whose elements lie `inner` apart and starts at global element
// (l / inner) * inner * n + l % inner (along H: n = H, inner = W; along D: n = D,
// inner = H * W). Adjacent invocations take adjacent lines, so their reads are contiguous.
// src (read) and dst (written) are float32 held as u32 bits: +Infinity bits mark "no
// feature" and never enter the arithmetic. sites: (same layout as dst) u32 scratch holding
// the envelope's parabola indices of each line at the line's own positions; the boundaries
// between parabolas are recomputed from the sites when needed rather than stored.
// The three are bound as windows whose first element is global src_base, dst_base and
// sites_base.

override WORKGROUP_SIZE: u32 = 256u;

// Bits of float32 +Infinity: the distance of a voxel without any feature.
const INFINITY_BITS: u32 = 0x7f800000u;

struct Params {
  // Workgroups that carry work in this dispatch.
  tile_count: u32,
  // Lines this dispatch covers.
  lines: u32,
  // Global index of the first line of this dispatch.
  first_line: u32,
  // Extent of the line's axis.
  n: u32,
  // Elements between consecutive elements of a line.
  inner: u32,
  // Global element index of the first element of the bound src window.
  src_base: u32,
  // Global element index of the first element of the bound dst window.
  dst_base: u32,
  // Global element index of the first element of the bound sites window.
  sites_base: u32,
  // Voxel size along the line's axis, mm.
  step: f32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<storage, read_write> sites: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

// f at position q of the line starting at `start` (finite: callers pass envelope sites only).
fn value_at(start: u32, q: u32) -> f32 {
  return bitcast<f32>(src[start + q * params.inner - params.src_base]);
}

// The parabola index at envelope slot k of the line starting at `start`.
fn site(start: u32, k: u32) -> u32 {
  return sites[start + k * params.inner - params.sites_base];
}

// Where the parabolas of sites p < q (values fp, fq) meet, in voxel units along the line.
fn meet(p: u32, fp: f32, q: u32, fq: f32) -> f32 {
  let gap = f32(q - p);
  return 0.5 * (f32(p + q) + (fq - fp) / (params.step * params.step * gap));
}

// Boundary between envelope slots k - 1 and k (k >= 1).
fn boundary(start: u32, k: u32) -> f32 {
  let p = site(start, k - 1u);
  let q = site(start, k);
  return meet(p, value_at(start, p), q, value_at(start, q));
}

// Build the envelope of the line's finite values into sites; returns the slot count.
fn build_envelope(start: u32) -> u32 {
  var count = 0u;
  for (var q = 0u; q < params.n; q++) {
    let bits = src[start + q * params.inner - params.src_base];
    if (bits == INFINITY_BITS) {
      continue;
    }
    let fq = bitcast<f32>(bits);
    // Drop the parabolas the new one hides from the boundary of the last one on.
    while (count > 1u) {
      let top = site(start, count - 1u);
      if (meet(top, value_at(start, top), q, fq) > boundary(start, count - 1u)) {
        break;
      }
      count--;
    }
    sites[start + count * params.inner - params.sites_base] = q;
    count++;
  }
  return count;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn edt_envelope(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wid.x + wid.y * grid.x;
  if (tile >= params.tile_count) {
    return;
  }

  let local_line = tile * WORKGROUP_SIZE + lid;
  if (local_line >= params.lines) {
    return;
  }
  let line = params.first_line + local_line;
  let start = (line / params.inner) * params.inner * params.n + line % params.inner;
  let count = build_envelope(start);

  // Each position takes the lowest parabola; slots advance monotonically along the line.
  var j = 0u;
  for (var q = 0u; q < params.n; q++) {
    let at = start + q * params.inner - params.dst_base;
    if (count == 0u) {
      dst[at] = INFINITY_BITS;
      continue;
    }
    while (j + 1u < count && boundary(start, j + 1u) < f32(q)) {
      j++;
    }
    let p = site(start, j);
    let dx = (f32(q) - f32(p)) * params.step;
    dst[at] = bitcast<u32>(dx * dx + value_at(start, p));
  }
}
