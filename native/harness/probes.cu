/*
 * Peak probes for the harness's timing: what this device can do at best, measured.
 *
 * Kernels:
 * - copy_probe_kernel: float4 grid-stride copy of 512 MiB (bytes read + written per second).
 * - fma_probe_kernel: 8 independent FMA chains per thread, enough blocks to fill every SM.
 * - tf32_probe_kernel: 4 independent wmma m16n16k8 TF32 accumulators per warp.
 */
#include "common.cuh"
#include "timing.h"

namespace {

namespace wmma = nvcuda::wmma;

__global__ void copy_probe_kernel(float4* __restrict__ dst,        // (count)
                                  const float4* __restrict__ src,  // (count)
                                  int64_t count) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += step) {
    dst[i] = src[i];
  }
}

__global__ void fma_probe_kernel(float* __restrict__ out,  // (threads)
                                 float seed, int iterations) {
  float a[8];
  for (int j = 0; j < 8; ++j) a[j] = seed + j;
  for (int i = 0; i < iterations; ++i) {
#pragma unroll
    for (int j = 0; j < 8; ++j) a[j] = fmaf(a[j], 0.999999f, 1e-7f);
  }
  float sum = 0;
  for (int j = 0; j < 8; ++j) sum += a[j];
  out[blockIdx.x * blockDim.x + threadIdx.x] = sum;
}

__global__ void tf32_probe_kernel(float* __restrict__ out,       // (warps, 16, 16)
                                  const float* __restrict__ in,  // (16, 16)
                                  int iterations) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[4];
  wmma::load_matrix_sync(a, in, 8);
  wmma::load_matrix_sync(b, in, 16);
  for (int j = 0; j < 4; ++j) wmma::fill_fragment(acc[j], 0.0f);
  for (int i = 0; i < iterations; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) wmma::mma_sync(acc[j], a, b, acc[j]);
  }
  for (int j = 1; j < 4; ++j)
    for (int t = 0; t < acc[0].num_elements; ++t) acc[0].x[t] += acc[j].x[t];
  int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
  wmma::store_matrix_sync(out + warp * 256, acc[0], 16, wmma::mem_row_major);
}

}  // namespace

namespace harness {

int time_ms(void* stream, int reps, float* ms, const std::function<int()>& launch) {
  cudaStream_t s = vx::as_stream(stream);
  cudaEvent_t start, stop;
  VX_CHECK(cudaEventCreate(&start));
  VX_CHECK(cudaEventCreate(&stop));
  int status = launch();  // warm-up
  VX_CHECK(cudaEventRecord(start, s));
  for (int r = 0; r < reps && status == 0; ++r) status = launch();
  VX_CHECK(cudaEventRecord(stop, s));
  VX_CHECK(cudaEventSynchronize(stop));
  if (status != 0) return status;
  VX_CHECK(cudaGetLastError());
  VX_CHECK(cudaEventElapsedTime(ms, start, stop));
  *ms /= reps;
  VX_CHECK(cudaEventDestroy(start));
  VX_CHECK(cudaEventDestroy(stop));
  return 0;
}

int probe_copy(void* stream, double* gbs) {
  cudaStream_t s = vx::as_stream(stream);
  const int64_t bytes = int64_t{512} << 20;
  void *src = nullptr, *dst = nullptr;
  VX_CHECK(cudaMallocAsync(&src, bytes, s));
  VX_CHECK(cudaMallocAsync(&dst, bytes, s));
  VX_CHECK(cudaMemsetAsync(src, 0, bytes, s));
  int64_t count = bytes / 16;
  float ms = 0;
  int status = time_ms(stream, 10, &ms, [&] {
    copy_probe_kernel<<<vx::grid_blocks(count, 256), 256, 0, s>>>(
        static_cast<float4*>(dst), static_cast<const float4*>(src), count);
    return 0;
  });
  VX_CHECK(cudaFreeAsync(src, s));
  VX_CHECK(cudaFreeAsync(dst, s));
  *gbs = 2.0 * bytes / (ms * 1e6);
  return status;
}

int probe_fma(void* stream, int multiprocessors, double* gflops) {
  cudaStream_t s = vx::as_stream(stream);
  const int blocks = multiprocessors * 8, threads = 256, iterations = 1 << 16;
  float* out = nullptr;
  VX_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&out), sizeof(float) * blocks * threads, s));
  float ms = 0;
  int status = time_ms(stream, 5, &ms, [&] {
    fma_probe_kernel<<<blocks, threads, 0, s>>>(out, 1.0f, iterations);
    return 0;
  });
  VX_CHECK(cudaFreeAsync(out, s));
  *gflops = 2.0 * 8 * iterations * blocks * threads / (ms * 1e6);
  return status;
}

int probe_tf32(void* stream, int multiprocessors, double* gflops) {
  cudaStream_t s = vx::as_stream(stream);
  const int blocks = multiprocessors * 8, threads = 256, iterations = 1 << 14;
  const int warps = blocks * threads / 32;
  float *out = nullptr, *in = nullptr;
  VX_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&out), sizeof(float) * warps * 256, s));
  VX_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&in), sizeof(float) * 256, s));
  VX_CHECK(cudaMemsetAsync(in, 0, sizeof(float) * 256, s));
  float ms = 0;
  int status = time_ms(stream, 5, &ms, [&] {
    tf32_probe_kernel<<<blocks, threads, 0, s>>>(out, in, iterations);
    return 0;
  });
  VX_CHECK(cudaFreeAsync(out, s));
  VX_CHECK(cudaFreeAsync(in, s));
  *gflops = 2.0 * 16 * 16 * 8 * 4 * double(iterations) * warps / (ms * 1e6);
  return status;
}

}  // namespace harness
