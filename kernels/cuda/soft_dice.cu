/*
 * soft_dice: per channel c, sum(p * [t == c]), sum(p) and sum([t == c]) over batch and voxels,
 * for a soft Dice = 2 * intersection / (pred_sum + target_sum).
 *
 * Kernels:
 * - soft_dice_kernel<Label>: a (chunks, N * C) grid; each block reduces one chunk of one
 *   (n, c) plane in double through shared memory and adds its three sums with double atomics.
 *   Labels are uint8, uint16 or int32; the target is re-read for every channel.
 */
#include "common.cuh"

namespace {

constexpr int THREADS = 256;

template <typename Label>
__global__ void __launch_bounds__(THREADS)
    soft_dice_kernel(double* __restrict__ sums,         // (3, C): intersection, pred, target
                     const float* __restrict__ probs,   // (N, C, S)
                     const Label* __restrict__ target,  // (N, S)
                     int channels, int64_t spatial) {
  __shared__ double shared[3][THREADS];
  const int chunks = gridDim.x;
  const int64_t chunk = (spatial + chunks - 1) / chunks;
  const int64_t begin = blockIdx.x * chunk;
  const int64_t end = begin + chunk < spatial ? begin + chunk : spatial;
  const int batch = blockIdx.y / channels;
  const int c = blockIdx.y % channels;
  const float* p = probs + static_cast<int64_t>(blockIdx.y) * spatial;
  const Label* t = target + batch * spatial;

  double intersection = 0.0, pred = 0.0, truth = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += THREADS) {
    double value = p[i];
    bool hit = static_cast<int64_t>(t[i]) == c;
    intersection += hit ? value : 0.0;
    pred += value;
    truth += hit ? 1.0 : 0.0;
  }
  shared[0][threadIdx.x] = intersection;
  shared[1][threadIdx.x] = pred;
  shared[2][threadIdx.x] = truth;
  __syncthreads();

  for (unsigned half = THREADS / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      for (int q = 0; q < 3; ++q) shared[q][threadIdx.x] += shared[q][threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x < 3) atomicAdd(&sums[threadIdx.x * channels + c], shared[threadIdx.x][0]);
}

template <typename Label>
void launch(double* sums, const float* probs, const void* target, int n, int channels,
            int64_t spatial, cudaStream_t stream) {
  int64_t by_size = (spatial + 4095) / 4096;
  int64_t by_grid = 1024 / (n * channels) > 1 ? 1024 / (n * channels) : 1;
  int chunks = static_cast<int>(by_size < by_grid ? by_size : by_grid);
  dim3 grid(chunks, n * channels);
  VX_LAUNCH(soft_dice_kernel<Label>, grid, THREADS, 0, stream, sums, probs,
            static_cast<const Label*>(target), channels, spatial);
}

int run(double* host_sums, double* sums, const float* probs, const void* target, int label_type,
        int n, int channels, int64_t spatial, cudaStream_t s) {
  VX_CHECK(cudaMemsetAsync(sums, 0, 3 * sizeof(double) * channels, s));
  if (label_type == VX_LABEL_U8) {
    launch<uint8_t>(sums, probs, target, n, channels, spatial, s);
  } else if (label_type == VX_LABEL_U16) {
    launch<uint16_t>(sums, probs, target, n, channels, spatial, s);
  } else {
    launch<int32_t>(sums, probs, target, n, channels, spatial, s);
  }
  VX_CHECK_LAUNCH("soft_dice_kernel");
  VX_CHECK(
      cudaMemcpyAsync(host_sums, sums, 3 * sizeof(double) * channels, cudaMemcpyDeviceToHost, s));
  VX_CHECK(cudaStreamSynchronize(s));
  return 0;
}

}  // namespace

extern "C" int vx_soft_dice(double* intersection, double* pred_sum, double* target_sum,
                            const float* probs, const void* target, int label_type, int n,
                            int channels, int64_t spatial, void* stream) {
  VX_REQUIRE(vx::label_bytes(label_type) > 0, "soft_dice: expected label type 1, 2 or 4");
  VX_REQUIRE(n > 0 && channels > 0 && spatial > 0, "soft_dice: expected positive sizes");
  VX_REQUIRE(n * channels <= 65535, "soft_dice: expected at most 65535 planes");
  cudaStream_t s = vx::as_stream(stream);

  double* sums = nullptr;
  double* host = new double[3 * channels];
  VX_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&sums), 3 * sizeof(double) * channels, s));
  int status = run(host, sums, probs, target, label_type, n, channels, spatial, s);
  cudaError_t freed = cudaFreeAsync(sums, s);
  for (int c = 0; c < channels && status == 0; ++c) {
    intersection[c] = host[c];
    pred_sum[c] = host[channels + c];
    target_sum[c] = host[2 * channels + c];
  }
  delete[] host;
  if (status == 0 && freed != cudaSuccess) {
    return vx::fail("cudaFreeAsync", static_cast<int>(freed), __FILE__, __LINE__);
  }
  return status;
}
