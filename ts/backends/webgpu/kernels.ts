/**
 * One descriptor per WGSL kernel (kernels/wgsl/<name>.wgsl): its storage bindings in binding
 * order (inputs, then outputs; the Params uniform comes last), its Params members in
 * declaration order, and its override constants with the values the backend uses by default.
 * test/webgpu-kernels.test.ts checks every descriptor against the .wgsl text.
 */
import { type ParamField, type ParamsLayout, paramsLayout, type WgslType } from './params.js';

/** Entry-point (and file) names of the kernels. */
export type KernelName =
  | 'activation'
  | 'argmax'
  | 'conv3d_direct'
  | 'copy_blocks'
  | 'edt_envelope'
  | 'edt_rows'
  | 'instance_norm_apply'
  | 'instance_norm_stats'
  | 'label_confusion'
  | 'soft_dice'
  | 'softmax';

/** One storage binding: `read` is `var<storage, read>`, `read_write` an output. */
export interface StorageBinding {
  name: string;
  access: 'read' | 'read_write';
}

/** Everything the backend needs to know about one kernel besides its source. */
export interface KernelDescriptor {
  name: KernelName;
  /** Storage bindings at @binding(0..k-1); Params is @binding(k). */
  bindings: readonly StorageBinding[];
  /** Params members in declaration order; the first is always `tile_count`. */
  params: readonly ParamField[];
  /** Override constants and their default values. */
  overrides: Readonly<Record<string, number>>;
  /** Params packing, derived from `params`. */
  layout: ParamsLayout;
}

/** Invocations per workgroup of the one-dimensional kernels (a power of two). */
export const WORKGROUP_SIZE = 256;

function kernel(
  name: KernelName,
  bindings: string,
  params: string,
  overrides: Record<string, number> = { WORKGROUP_SIZE },
): KernelDescriptor {
  const fields = params
    .trim()
    .split(/\s+/)
    .map((entry) => {
      const [field, type = 'u32'] = entry.split(':');
      return { name: field, type: type as WgslType };
    });
  const storage = bindings.split(/\s+/).map((entry) => {
    const [field, access] = entry.split(':');
    return { name: field, access: access === 'rw' ? 'read_write' : 'read' } as StorageBinding;
  });
  return { name, bindings: storage, params: fields, overrides, layout: paramsLayout(fields) };
}

// Params lists name every member with its WGSL type (u32 unless `:type` says otherwise).
export const KERNELS: Readonly<Record<KernelName, KernelDescriptor>> = {
  activation: kernel('activation', 'x y:rw', 'tile_count count first base act_code act_alpha:f32'),
  argmax: kernel(
    'argmax',
    'x out:rw best:rw',
    `tile_count count s_begin spatial channels batch c_begin c_count x_base out_base best_base
     keep_best`,
  ),
  conv3d_direct: kernel(
    'conv3d_direct',
    'x weight bias out:rw',
    `tile_count tiles_w tiles_h tiles_d oc_blocks g_count g_begin n_begin
     in_c in_d in_h in_w out_c out_d out_h out_w k_d k_h k_w
     stride_d stride_h stride_w pad_d pad_h pad_w dil_d dil_h dil_w
     cin_per_group cout_per_group ocg_begin ocg_count icg_begin icg_count oz_begin oz_count
     x_base out_base d_ext h_ext w_ext d_dense h_dense w_dense first_pass last_pass has_bias
     act_code act_alpha:f32`,
    {
      TILE_W: 8,
      TILE_H: 8,
      TILE_D: 4,
      VOXELS_W: 4,
      OC_BLOCK: 8,
      SLAB_CAPACITY: 3584,
      TAP_CAPACITY: 512,
    },
  ),
  copy_blocks: kernel(
    'copy_blocks',
    'src dst:rw',
    `tile_count word_count first_word code rows row_len src_start src_stride dst_start
     dst_stride src_base dst_base`,
  ),
  edt_envelope: kernel(
    'edt_envelope',
    'src dst:rw sites:rw',
    'tile_count lines first_line n inner src_base dst_base sites_base step:f32',
  ),
  edt_rows: kernel(
    'edt_rows',
    'mask out:rw',
    'tile_count rows first_row w mask_base mask_code out_base step:f32',
  ),
  instance_norm_apply: kernel(
    'instance_norm_apply',
    'x stats scale shift y:rw',
    `tile_count count first base plane_len channels has_scale has_shift act_code act_alpha:f32
     eps:f32`,
  ),
  instance_norm_stats: kernel(
    'instance_norm_stats',
    'x partials:rw',
    `tile_count first_block blocks_per_plane block_len plane_len x_base partials_base
     from_partials`,
  ),
  label_confusion: kernel(
    'label_confusion',
    'pred reference counts:rw',
    `tile_count count first block_len pred_base ref_base pred_code ref_code num_labels
     label_begin label_count has_ignore ignore_label:i32`,
    { WORKGROUP_SIZE, HIST_CAPACITY: 3072 },
  ),
  soft_dice: kernel(
    'soft_dice',
    'probs target_labels partials:rw',
    `tile_count plane_begin s_begin s_count block_len blocks spatial channels probs_base
     target_base target_code partial_begin`,
  ),
  softmax: kernel(
    'softmax',
    'x y:rw stats:rw',
    `tile_count count s_begin spatial channels batch c_begin c_count x_base y_base stats_base
     phase`,
  ),
};

/** The most storage buffers any kernel binds: the device must allow this many per stage. */
export const MAX_STORAGE_BINDINGS = Math.max(
  ...Object.values(KERNELS).map((descriptor) => descriptor.bindings.length),
);
