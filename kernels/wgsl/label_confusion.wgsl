// label_confusion: per-label voxel counts of a prediction and a reference label map, in one
// pass. Each workgroup counts a block of voxels into a histogram in workgroup memory, then adds
// its non-zero bins to the global counts with one atomic add each.
// pred, reference: (N, D, H, W) label maps, packed as lib/labels.wgsl describes.
// counts: u32 [tp (L) | pred (L) | reference (L) | invalid | first_invalid] with L = num_labels.
// A dispatch counts labels [label_begin, label_begin + label_count), which must fit the
// histogram (3 * label_count <= HIST_CAPACITY); more labels take more dispatches over the
// same voxels. Voxels whose reference label equals ignore_label are skipped; a voxel with a
// label outside [0, L) is counted in `invalid` and the lowest such index kept.

//#include "lib/labels.wgsl"

override WORKGROUP_SIZE: u32 = 256u;
override HIST_CAPACITY: u32 = 3072u;

struct Params {
  // Workgroups that carry work in this dispatch.
  tile_count: u32,
  // Voxels this dispatch covers.
  count: u32,
  // Global index of the first voxel of this dispatch.
  first: u32,
  // Voxels each workgroup counts.
  block_len: u32,
  // Global element index of the first label of the bound pred window (on a word boundary).
  pred_base: u32,
  // Global element index of the first label of the bound reference window (on a word boundary).
  ref_base: u32,
  // Packing code of pred: 0 int32, 1 uint16, 2 uint8.
  pred_code: u32,
  // Packing code of reference.
  ref_code: u32,
  // Labels L; valid labels are [0, L).
  num_labels: u32,
  // First label this dispatch counts.
  label_begin: u32,
  // Labels this dispatch counts.
  label_count: u32,
  // 1 when ignore_label applies.
  has_ignore: u32,
  // Reference label whose voxels are skipped.
  ignore_label: i32,
}

@group(0) @binding(0) var<storage, read> pred: array<u32>;
@group(0) @binding(1) var<storage, read> reference: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> hist: array<atomic<u32>, HIST_CAPACITY>;

fn pred_label(index: u32) -> i32 {
  let code = params.pred_code;
  return label_in_word(pred[(index - params.pred_base) >> code], index, code);
}

fn ref_label(index: u32) -> i32 {
  let code = params.ref_code;
  return label_in_word(reference[(index - params.ref_base) >> code], index, code);
}

// Count one voxel's labels into the histogram bins of this dispatch's label range.
fn count_voxel(p: i32, r: i32) {
  let begin = i32(params.label_begin);
  let span = i32(params.label_count);
  let pl = p - begin;
  let rl = r - begin;
  if (pl >= 0 && pl < span) {
    atomicAdd(&hist[params.label_count + u32(pl)], 1u);
    if (p == r) {
      atomicAdd(&hist[u32(pl)], 1u);
    }
  }
  if (rl >= 0 && rl < span) {
    atomicAdd(&hist[2u * params.label_count + u32(rl)], 1u);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn label_confusion(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) grid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let tile = wid.x + wid.y * grid.x;
  if (tile >= params.tile_count) {
    return;
  }

  let bins = 3u * params.label_count;
  for (var i = lid; i < bins; i += WORKGROUP_SIZE) {
    atomicStore(&hist[i], 0u);
  }
  workgroupBarrier();

  let labels = i32(params.num_labels);
  let start = params.first + tile * params.block_len;
  let end = min(start + params.block_len, params.first + params.count);
  for (var v = start + lid; v < end; v += WORKGROUP_SIZE) {
    let r = ref_label(v);
    if (params.has_ignore == 1u && r == params.ignore_label) {
      continue;
    }
    let p = pred_label(v);
    if (p < 0 || p >= labels || r < 0 || r >= labels) {
      atomicAdd(&counts[3u * params.num_labels], 1u);
      atomicMin(&counts[3u * params.num_labels + 1u], v);
      continue;
    }
    count_voxel(p, r);
  }
  workgroupBarrier();

  for (var i = lid; i < bins; i += WORKGROUP_SIZE) {
    let n = atomicLoad(&hist[i]);
    if (n != 0u) {
      let part = i / params.label_count;
      let label = params.label_begin + i % params.label_count;
      atomicAdd(&counts[part * params.num_labels + label], n);
    }
  }
}
