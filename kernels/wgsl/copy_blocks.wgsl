// copy_blocks: a strided block copy, the kernel behind slice and concat:
// dst[dst_start + r * dst_stride + j] = src[src_start + r * src_stride + j]
// for r < rows, j < row_len, in elements. Tensors of any dtype are bound as u32 words holding
// 1 (code 0: float32, int32), 2 (code 1: uint16) or 4 (code 2: uint8) elements. Each invocation
// owns one destination word, so words shared by neighbouring rows or by another copy's region
// are merged element by element without races: elements outside this copy's region keep their
// value. src and dst are bound as windows starting at global element src_base and dst_base,
// both on word boundaries.

override WORKGROUP_SIZE: u32 = 256u;

struct Params {
  // Workgroups that carry work in this dispatch.
  tile_count: u32,
  // Destination words this dispatch writes.
  word_count: u32,
  // Global index of the first destination word of this dispatch.
  first_word: u32,
  // Element packing code: elements per word = 1 << code.
  code: u32,
  // Rows in the copy.
  rows: u32,
  // Elements per row.
  row_len: u32,
  // Global element index of row 0 in src.
  src_start: u32,
  // Elements between rows in src.
  src_stride: u32,
  // Global element index of row 0 in dst.
  dst_start: u32,
  // Elements between rows in dst.
  dst_stride: u32,
  // Global element index of the first element of the bound src window.
  src_base: u32,
  // Global element index of the first element of the bound dst window.
  dst_base: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

// (1, source element) for destination element `e` inside this copy's region, else (0, 0).
fn source_of(e: u32) -> vec2<u32> {
  if (e < params.dst_start) {
    return vec2<u32>(0u, 0u);
  }
  let r = (e - params.dst_start) / params.dst_stride;
  let j = (e - params.dst_start) % params.dst_stride;
  if (r >= params.rows || j >= params.row_len) {
    return vec2<u32>(0u, 0u);
  }
  let s = params.src_start + r * params.src_stride + j;
  let word = src[(s - params.src_base) >> params.code];
  let bits = 32u >> params.code;
  let slot = s & ((1u << params.code) - 1u);
  return vec2<u32>(1u, (word >> (slot * bits)) & (0xffffffffu >> (32u - bits)));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy_blocks(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wid.x + wid.y * grid.x;
  if (tile >= params.tile_count) {
    return;
  }

  let local_index = tile * WORKGROUP_SIZE + lid;
  if (local_index >= params.word_count) {
    return;
  }
  let w = params.first_word + local_index;
  let at = w - (params.dst_base >> params.code);
  let per_word = 1u << params.code;
  let bits = 32u >> params.code;
  var word = dst[at];
  for (var k = 0u; k < per_word; k++) {
    let source = source_of(w * per_word + k);
    if (source.x == 1u) {
      let mask = (0xffffffffu >> (32u - bits)) << (k * bits);
      word = (word & ~mask) | (source.y << (k * bits));
    }
  }
  dst[at] = word;
}
