/*
 * Instance norm over (N, C, S), S = D * H * W: per (n, c) plane, (x - mean) / sqrt(var + eps)
 * with the biased variance, then per-channel scale and shift, then the activation.
 *
 * Kernels:
 * - instance_norm_stats_kernel: a (chunks, planes) grid; each block sums x and x^2 of one chunk
 *   of one plane in double (so E[x^2] - mean^2 does not cancel badly) and writes one partial.
 *   Splitting planes into chunks keeps every SM busy when there are few planes (mindgrab has
 *   15 channels over a whole volume).
 * - instance_norm_finalize_kernel: one thread per plane adds its partials into mean, 1 / std.
 * - instance_norm_apply_kernel: element-wise normalise, scale, shift and activate.
 */
#include "common.cuh"

namespace {

constexpr int THREADS = 256;

struct Moments {
  double sum;
  double squares;
};

__global__ void instance_norm_stats_kernel(Moments* __restrict__ partials,  // (planes, chunks)
                                           const float* __restrict__ x,     // (planes, S)
                                           int64_t spatial) {
  __shared__ double sums[THREADS];
  __shared__ double squares[THREADS];
  const int chunks = gridDim.x;
  const int64_t chunk = (spatial + chunks - 1) / chunks;
  const int64_t begin = blockIdx.x * chunk;
  const int64_t end = begin + chunk < spatial ? begin + chunk : spatial;
  const float* plane = x + blockIdx.y * spatial;

  double sum = 0.0, square = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += THREADS) {
    double v = plane[i];
    sum += v;
    square += v * v;
  }
  sums[threadIdx.x] = sum;
  squares[threadIdx.x] = square;
  __syncthreads();

  for (unsigned half = THREADS / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      sums[threadIdx.x] += sums[threadIdx.x + half];
      squares[threadIdx.x] += squares[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.y * chunks + blockIdx.x] = {sums[0], squares[0]};
}

__global__ void instance_norm_finalize_kernel(
    float* __restrict__ stats,             // (planes, 2)
    const Moments* __restrict__ partials,  // (planes, chunks)
    int planes, int chunks, int64_t spatial, float eps) {
  int plane = blockIdx.x * blockDim.x + threadIdx.x;
  if (plane >= planes) return;
  double sum = 0.0, squares = 0.0;
  for (int c = 0; c < chunks; ++c) {
    sum += partials[plane * chunks + c].sum;
    squares += partials[plane * chunks + c].squares;
  }
  double mean = sum / spatial;
  double variance = squares / spatial - mean * mean;
  stats[2 * plane] = static_cast<float>(mean);
  stats[2 * plane + 1] = static_cast<float>(1.0 / sqrt((variance > 0.0 ? variance : 0.0) + eps));
}

__global__ void instance_norm_apply_kernel(float* __restrict__ out,          // (N, C, S)
                                           const float* __restrict__ x,      // (N, C, S)
                                           const float* __restrict__ stats,  // (N * C, 2)
                                           const float* __restrict__ scale,  // (C) or null
                                           const float* __restrict__ shift,  // (C) or null
                                           int64_t count, int channels, int64_t spatial, int code,
                                           float alpha) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += step) {
    int64_t plane = i / spatial;
    int c = static_cast<int>(plane % channels);
    float normed = (x[i] - stats[2 * plane]) * stats[2 * plane + 1];
    normed = normed * (scale ? scale[c] : 1.0f) + (shift ? shift[c] : 0.0f);
    out[i] = vx::activate(normed, code, alpha);
  }
}

/** Chunks per plane: about 1024 blocks in all, each with at least 1024 voxels. */
int chunks_per_plane(int planes, int64_t spatial) {
  int64_t by_size = (spatial + 1023) / 1024;
  int64_t by_grid = 1024 / planes > 1 ? 1024 / planes : 1;
  int64_t chunks = by_size < by_grid ? by_size : by_grid;
  return static_cast<int>(chunks < 1 ? 1 : chunks);
}

}  // namespace

extern "C" int vx_instance_norm(float* out, const float* x, const float* scale, const float* shift,
                                int n, int channels, int64_t spatial, float eps, int activation,
                                float alpha, void* stream) {
  VX_REQUIRE(n > 0 && channels > 0 && spatial > 0, "instance_norm: expected positive sizes");
  VX_REQUIRE(n * channels <= 65535, "instance_norm: expected at most 65535 planes");
  VX_REQUIRE(activation >= 0 && activation <= 5, "instance_norm: expected activation code 0..5");
  cudaStream_t s = vx::as_stream(stream);
  const int planes = n * channels;
  const int chunks = chunks_per_plane(planes, spatial);

  // Scratch for the partial moments and the per-plane (mean, 1 / std), stream-ordered.
  void* scratch = nullptr;
  size_t partial_bytes = sizeof(Moments) * planes * chunks;
  VX_CHECK(cudaMallocAsync(&scratch, partial_bytes + sizeof(float) * 2 * planes, s));
  Moments* partials = static_cast<Moments*>(scratch);
  float* stats = reinterpret_cast<float*>(static_cast<char*>(scratch) + partial_bytes);

  VX_LAUNCH(instance_norm_stats_kernel, dim3(chunks, planes), THREADS, 0, s, partials, x, spatial);
  int status = 0;
  if (cudaPeekAtLastError() == cudaSuccess) {
    VX_LAUNCH(instance_norm_finalize_kernel, (planes + 127) / 128, 128, 0, s, stats, partials,
              planes, chunks, spatial, eps);
  }
  if (cudaPeekAtLastError() == cudaSuccess) {
    VX_LAUNCH(instance_norm_apply_kernel, vx::grid_blocks(planes * spatial, THREADS), THREADS, 0, s,
              out, x, stats, scale, shift, planes * spatial, channels, spatial, activation, alpha);
  }
  cudaError_t launched = cudaGetLastError();
  if (launched != cudaSuccess) {
    status = vx::fail("instance_norm kernels", static_cast<int>(launched), __FILE__, __LINE__);
  }
  VX_CHECK(cudaFreeAsync(scratch, s));
  return status;
}
