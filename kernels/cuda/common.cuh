/*
 * Shared by every kernel file: the CUDA (or emulator) headers, error reporting for the C entry
 * points, the launch macro, grid sizing and the activation formulas of
 * ts/engine/activations.ts.
 *
 * The same sources compile two ways: with nvcc for the GPU, and with a C++ compiler against
 * native/harness/emulator/cuda_emulation.h, which runs each block's threads as fibers on the
 * CPU so the harness can check the kernels' indexing on a machine without a GPU. Kernels
 * therefore use only __syncthreads() for coordination (no warp shuffles or __syncwarp).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "voxseg_cuda.h"

#ifdef __CUDACC__
#include <cuda_runtime.h>
#include <mma.h>
/** Launch `kernel` on `grid` x `block` threads with `smem` dynamic shared bytes. */
#define VX_LAUNCH(kernel, grid, block, smem, stream, ...) \
  kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
/** The block's dynamic shared memory as an array of `type`. */
#define VX_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#else
#include "cuda_emulation.h"
#endif

namespace vx {

/** Record a failed CUDA call for vx_last_error() and return its code. */
int fail(const char* call, int code, const char* file, int line);

/** Record a failed argument check (code cudaErrorInvalidValue) for vx_last_error(). */
int fail_message(const char* message, const char* file, int line);

/** Blocks for a grid-stride loop over `count` items, at most 65536. */
inline unsigned grid_blocks(int64_t count, int threads) {
  int64_t blocks = (count + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
}

inline cudaStream_t as_stream(void* stream) {
  return static_cast<cudaStream_t>(stream);
}

/** Size of a label of `label_type` in bytes, or 0 for an unknown type. */
inline int label_bytes(int label_type) {
  return label_type == VX_LABEL_U8 || label_type == VX_LABEL_U16 || label_type == VX_LABEL_I32
             ? label_type
             : 0;
}

/** erf by Abramowitz and Stegun 7.1.26, the formula every voxseg backend uses. */
__device__ __forceinline__ float erf_as(float x) {
  float a = fabsf(x);
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float poly =
      t * (0.254829592f +
           t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  float magnitude = 1.0f - poly * expf(-a * a);
  return x < 0.0f ? -magnitude : magnitude;
}

/** One activation by its ACTIVATION_CODES number; alpha is the leakyRelu slope or elu scale. */
__device__ __forceinline__ float activate(float x, int code, float alpha) {
  switch (code) {
    case 1:
      return x > 0.0f ? x : 0.0f;
    case 2:
      return x > 0.0f ? x : alpha * x;
    case 3:
      return x > 0.0f ? x : alpha * (expf(x) - 1.0f);
    case 4:
      return 0.5f * x * (1.0f + erf_as(x * 0.70710678118654752f));
    case 5:
      return 1.0f / (1.0f + expf(-x));
    default:
      return x;
  }
}

}  // namespace vx

/** Return the CUDA error of `call` from the enclosing entry point, recorded with file:line. */
#define VX_CHECK(call)                                                          \
  do {                                                                          \
    cudaError_t vx_status_ = (call);                                            \
    if (vx_status_ != cudaSuccess)                                              \
      return vx::fail(#call, static_cast<int>(vx_status_), __FILE__, __LINE__); \
  } while (0)

/** Return the launch error of the kernel launched just before, naming `kernel_name`. */
#define VX_CHECK_LAUNCH(kernel_name)                                                  \
  do {                                                                                \
    cudaError_t vx_status_ = cudaGetLastError();                                      \
    if (vx_status_ != cudaSuccess)                                                    \
      return vx::fail(kernel_name, static_cast<int>(vx_status_), __FILE__, __LINE__); \
  } while (0)

/** Return cudaErrorInvalidValue with `message` unless `condition` holds. */
#define VX_REQUIRE(condition, message)                                      \
  do {                                                                      \
    if (!(condition)) return vx::fail_message(message, __FILE__, __LINE__); \
  } while (0)
