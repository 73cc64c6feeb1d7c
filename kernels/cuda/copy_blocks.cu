/*
 * copy_blocks: strided copies of equal runs of bytes, the one kernel behind slice and concat
 * along any axis (outer runs of `inner * size` elements).
 *
 * Kernels:
 * - copy_blocks_kernel<Word>: grid-stride over (run, word); Word is the widest of 16, 8, 4, 2
 *   or 1 bytes that divides both pointers, both strides and the run length, so typical float
 *   slices move 16 bytes per thread.
 */
#include "common.cuh"

namespace {

struct alignas(16) Word16 {
  uint32_t v[4];
};

template <typename Word>
__global__ void copy_blocks_kernel(Word* __restrict__ dst,        // (blocks, dst_stride) words
                                   const Word* __restrict__ src,  // (blocks, src_stride) words
                                   int64_t blocks, int64_t words, int64_t dst_stride,
                                   int64_t src_stride) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < blocks * words;
       i += step) {
    int64_t block = i / words;
    int64_t w = i % words;
    dst[block * dst_stride + w] = src[block * src_stride + w];
  }
}

template <typename Word>
int launch(void* dst, const void* src, int64_t blocks, int64_t block_bytes, int64_t dst_stride,
           int64_t src_stride, cudaStream_t stream) {
  const int64_t size = sizeof(Word);
  int64_t words = block_bytes / size;
  VX_LAUNCH(copy_blocks_kernel<Word>, vx::grid_blocks(blocks * words, 256), 256, 0, stream,
            static_cast<Word*>(dst), static_cast<const Word*>(src), blocks, words,
            dst_stride / size, src_stride / size);
  VX_CHECK_LAUNCH("copy_blocks_kernel");
  return 0;
}

}  // namespace

extern "C" int vx_copy_blocks(void* dst, const void* src, int64_t blocks, int64_t block_bytes,
                              int64_t dst_stride, int64_t src_stride, void* stream) {
  VX_REQUIRE(
      blocks >= 0 && block_bytes >= 0 && dst_stride >= block_bytes && src_stride >= block_bytes,
      "copy_blocks: expected strides at least as long as the run");
  if (blocks == 0 || block_bytes == 0) return 0;
  uint64_t bits = reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src) |
                  static_cast<uint64_t>(block_bytes) | static_cast<uint64_t>(dst_stride) |
                  static_cast<uint64_t>(src_stride);
  cudaStream_t s = vx::as_stream(stream);
  if (bits % 16 == 0)
    return launch<Word16>(dst, src, blocks, block_bytes, dst_stride, src_stride, s);
  if (bits % 8 == 0)
    return launch<uint64_t>(dst, src, blocks, block_bytes, dst_stride, src_stride, s);
  if (bits % 4 == 0)
    return launch<uint32_t>(dst, src, blocks, block_bytes, dst_stride, src_stride, s);
  if (bits % 2 == 0)
    return launch<uint16_t>(dst, src, blocks, block_bytes, dst_stride, src_stride, s);
  return launch<uint8_t>(dst, src, blocks, block_bytes, dst_stride, src_stride, s);
}
