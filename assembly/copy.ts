/** copy_rows: strided block copies, the kernel behind slice and concat. */

/**
 * Copy `rows` blocks of `rowBytes` bytes: block i goes from src + i * srcStride to
 * dst + i * dstStride (strides in bytes; blocks do not overlap).
 */
export function copy_rows(
  dst: usize,
  src: usize,
  rowBytes: usize,
  rows: i32,
  dstStride: usize,
  srcStride: usize,
): void {
  for (let i = 0; i < rows; i++) {
    memory.copy(dst + <usize>i * dstStride, src + <usize>i * srcStride, rowBytes);
  }
}
