/**
 * voxseg's WebAssembly kernels. Tensors live in this module's linear memory; the host
 * allocates with `alloc`/`free` (16-byte aligned blocks) and passes byte addresses and sizes.
 * Every kernel takes pointers and scalar sizes only, and states its layout.
 */

/** Allocate `bytes` bytes, 16-byte aligned; aborts when memory cannot grow. */
export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}

/** Give a block from `alloc` back. */
export function free(ptr: usize): void {
  heap.free(ptr);
}

export { activation_apply } from './activation';
export {
  OC_BLOCK,
  conv3d_direct,
  conv3d_job_bytes,
  conv3d_pack_weights,
  conv3d_pad_input,
  conv3d_pointwise,
} from './conv3d';
export { conv3d_winograd, conv3d_winograd_job_bytes } from './conv3d_winograd';
export { instance_norm_apply, instance_norm_stats } from './norm';
export { argmax_channels, softmax_channels } from './channels';
export {
  label_confusion_i32,
  label_confusion_u16,
  label_confusion_u8,
  labels_widen_u16,
  labels_widen_u8,
  soft_dice_i32,
  soft_dice_u16,
  soft_dice_u8,
} from './metrics';
export { copy_rows } from './copy';
export { edt_envelope, edt_rows_i32, edt_rows_u16, edt_rows_u8, edt_scratch_bytes } from './edt';
