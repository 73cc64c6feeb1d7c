// edt_rows: pass 1 of the exact squared Euclidean distance transform (ts/backends/reference/
// edt.ts), one W row per invocation: a forward and a backward scan find the nearest feature
// (non-zero label) along the row, and the row is written as squared distances in mm^2.
// mask: (rows, W) labels packed as lib/labels.wgsl describes; out: (rows, W) float32 held as
// u32 bits, so that "no feature in the row" is written as the bits of +Infinity without any
// infinite value in the arithmetic (WGSL lets implementations assume there is none).
// Both are bound as windows whose first element is global element mask_base / out_base.

//#include "lib/labels.wgsl"

override WORKGROUP_SIZE: u32 = 256u;

// Bits of float32 +Infinity: the distance of a voxel without any feature.
const INFINITY_BITS: u32 = 0x7f800000u;
// Steps value of "no feature seen yet" during the forward scan.
const NO_STEPS: u32 = 0xffffffffu;

struct Params {
  // Workgroups that carry work in this dispatch.
  tile_count: u32,
  // Rows this dispatch covers.
  rows: u32,
  // Global index of the first row of this dispatch.
  first_row: u32,
  // Row length W.
  w: u32,
  // Global element index of the first label of the bound mask window (on a word boundary).
  mask_base: u32,
  // Packing code of the mask: 0 int32, 1 uint16, 2 uint8.
  mask_code: u32,
  // Global element index of the first element of the bound out window.
  out_base: u32,
  // Voxel size along W, mm.
  step: f32,
}

@group(0) @binding(0) var<storage, read> mask: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn is_feature(index: u32) -> bool {
  let code = params.mask_code;
  return label_in_word(mask[(index - params.mask_base) >> code], index, code) != 0;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn edt_rows(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wid.x + wid.y * grid.x;
  if (tile >= params.tile_count) {
    return;
  }

  let local_row = tile * WORKGROUP_SIZE + lid;
  if (local_row >= params.rows) {
    return;
  }
  let start = (params.first_row + local_row) * params.w;

  // Forward: steps back to the last feature at or before x, kept in out for now.
  var last = NO_STEPS;
  for (var x = 0u; x < params.w; x++) {
    if (is_feature(start + x)) {
      last = x;
    }
    out[start + x - params.out_base] = select(x - last, NO_STEPS, last == NO_STEPS);
  }

  // Backward: the nearer of that and the next feature at or after x, squared in mm.
  var next = NO_STEPS;
  for (var x = params.w; x > 0u; x--) {
    let at = start + x - 1u - params.out_base;
    if (is_feature(start + x - 1u)) {
      next = x - 1u;
    }
    var steps = out[at];
    if (next != NO_STEPS) {
      steps = min(steps, next - (x - 1u));
    }
    let mm = f32(steps) * params.step;
    out[at] = select(bitcast<u32>(mm * mm), INFINITY_BITS, steps == NO_STEPS);
  }
}
