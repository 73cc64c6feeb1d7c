/*
 * Element-wise and per-voxel channel ops over (N, C, S) tensors, S = D * H * W.
 *
 * Kernels:
 * - activation_kernel: out = act(x) over a flat range, grid-stride.
 * - softmax_kernel: one thread per voxel; an online pass keeps the running max and the sum of
 *   exponentials, a second pass writes exp(x - max) / sum. Reads along S are coalesced.
 * - argmax_kernel: one thread per voxel, strict > so ties go to the lower channel.
 */
#include "common.cuh"

namespace {

constexpr int THREADS = 256;

__global__ void activation_kernel(float* __restrict__ out,      // (count)
                                  const float* __restrict__ x,  // (count)
                                  int64_t count, int code, float alpha) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += step) {
    out[i] = vx::activate(x[i], code, alpha);
  }
}

__global__ void softmax_kernel(float* __restrict__ out,      // (N, C, S)
                               const float* __restrict__ x,  // (N, C, S)
                               int n, int channels, int64_t spatial) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < n * spatial;
       v += step) {
    int64_t base = v / spatial * channels * spatial + v % spatial;
    float max = -INFINITY;
    float sum = 0.0f;
    for (int c = 0; c < channels; ++c) {
      float value = x[base + c * spatial];
      float next = fmaxf(max, value);
      sum = sum * expf(max - next) + expf(value - next);
      max = next;
    }
    for (int c = 0; c < channels; ++c)
      out[base + c * spatial] = expf(x[base + c * spatial] - max) / sum;
  }
}

__global__ void argmax_kernel(int32_t* __restrict__ out,    // (N, S)
                              const float* __restrict__ x,  // (N, C, S)
                              int n, int channels, int64_t spatial) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < n * spatial;
       v += step) {
    int64_t base = v / spatial * channels * spatial + v % spatial;
    int best = 0;
    float best_value = x[base];
    for (int c = 1; c < channels; ++c) {
      float value = x[base + c * spatial];
      if (value > best_value) {
        best = c;
        best_value = value;
      }
    }
    out[v] = best;
  }
}

}  // namespace

extern "C" int vx_activation(float* out, const float* x, int64_t count, int activation, float alpha,
                             void* stream) {
  VX_REQUIRE(activation >= 0 && activation <= 5, "activation: expected code 0..5");
  if (count <= 0) return 0;
  VX_LAUNCH(activation_kernel, vx::grid_blocks(count, THREADS), THREADS, 0, vx::as_stream(stream),
            out, x, count, activation, alpha);
  VX_CHECK_LAUNCH("activation_kernel");
  return 0;
}

extern "C" int vx_softmax(float* out, const float* x, int n, int channels, int64_t spatial,
                          void* stream) {
  VX_REQUIRE(n > 0 && channels > 0 && spatial > 0, "softmax: expected positive sizes");
  VX_LAUNCH(softmax_kernel, vx::grid_blocks(n * spatial, THREADS), THREADS, 0,
            vx::as_stream(stream), out, x, n, channels, spatial);
  VX_CHECK_LAUNCH("softmax_kernel");
  return 0;
}

extern "C" int vx_argmax(int32_t* out, const float* x, int n, int channels, int64_t spatial,
                         void* stream) {
  VX_REQUIRE(n > 0 && channels > 0 && spatial > 0, "argmax: expected positive sizes");
  VX_LAUNCH(argmax_kernel, vx::grid_blocks(n * spatial, THREADS), THREADS, 0, vx::as_stream(stream),
            out, x, n, channels, spatial);
  VX_CHECK_LAUNCH("argmax_kernel");
  return 0;
}
