/*
 * Device discovery, streams, memory and error messages for the C interface.
 *
 * Kernels:
 * - fill_f32_kernel: writes one float value over a buffer (NaN poisoning of outputs).
 */
#include <stdio.h>
#include <string.h>

#include "common.cuh"

namespace {

thread_local char last_error[512] = "";

/** The path from "kernels/" or "native/" on, else the file name, for short messages. */
const char* short_path(const char* file) {
  const char* anchors[] = {"kernels/", "native/"};
  for (const char* anchor : anchors) {
    const char* found = strstr(file, anchor);
    if (found) return found;
  }
  const char* slash = strrchr(file, '/');
  return slash ? slash + 1 : file;
}

__global__ void fill_f32_kernel(float* __restrict__ out,  // (count)
                                float value, int64_t count) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += step) {
    out[i] = value;
  }
}

}  // namespace

namespace vx {

int fail(const char* call, int code, const char* file, int line) {
  int name_length = static_cast<int>(strcspn(call, "("));
  snprintf(last_error, sizeof last_error, "%.*s failed: %s (code %d) at %s:%d", name_length, call,
           cudaGetErrorString(static_cast<cudaError_t>(code)), code, short_path(file), line);
  return code;
}

int fail_message(const char* message, const char* file, int line) {
  snprintf(last_error, sizeof last_error, "%s at %s:%d", message, short_path(file), line);
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace vx

extern "C" const char* vx_last_error(void) {
  return last_error;
}

extern "C" const char* vx_error_string(int code) {
  return cudaGetErrorString(static_cast<cudaError_t>(code));
}

extern "C" int vx_device_count(int* count) {
  *count = 0;
  VX_CHECK(cudaGetDeviceCount(count));
  return 0;
}

extern "C" int vx_driver_version(int* version) {
  *version = 0;
  VX_CHECK(cudaDriverGetVersion(version));
  return 0;
}

extern "C" int vx_runtime_version(int* version) {
  *version = 0;
  VX_CHECK(cudaRuntimeGetVersion(version));
  return 0;
}

extern "C" int vx_set_device(int device) {
  VX_CHECK(cudaSetDevice(device));
  return 0;
}

extern "C" int vx_device_info_get(int device, vx_device_info* info) {
  cudaDeviceProp props;
  VX_CHECK(cudaGetDeviceProperties(&props, device));
  VX_CHECK(cudaSetDevice(device));

  memset(info, 0, sizeof *info);
  snprintf(info->name, sizeof info->name, "%s", props.name);
  info->index = device;
  info->compute_major = props.major;
  info->compute_minor = props.minor;
  info->multiprocessors = props.multiProcessorCount;
  info->shared_per_block_optin = props.sharedMemPerBlockOptin;
  VX_CHECK(cudaMemGetInfo(&info->free_bytes, &info->total_bytes));
  return 0;
}

extern "C" int vx_stream_create(void** stream) {
  cudaStream_t created = nullptr;
  VX_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
  *stream = created;
  return 0;
}

extern "C" int vx_stream_destroy(void* stream) {
  VX_CHECK(cudaStreamDestroy(vx::as_stream(stream)));
  return 0;
}

extern "C" int vx_stream_synchronize(void* stream) {
  VX_CHECK(cudaStreamSynchronize(vx::as_stream(stream)));
  return 0;
}

extern "C" int vx_malloc(void** ptr, size_t bytes, void* stream) {
  *ptr = nullptr;
  VX_CHECK(cudaMallocAsync(ptr, bytes > 0 ? bytes : 1, vx::as_stream(stream)));
  return 0;
}

extern "C" int vx_free(void* ptr, void* stream) {
  if (ptr) VX_CHECK(cudaFreeAsync(ptr, vx::as_stream(stream)));
  return 0;
}

extern "C" int vx_upload(void* dst, const void* src, size_t bytes, void* stream) {
  VX_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, vx::as_stream(stream)));
  return 0;
}

extern "C" int vx_download(void* dst, const void* src, size_t bytes, void* stream) {
  VX_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, vx::as_stream(stream)));
  return 0;
}

extern "C" int vx_fill_bytes(void* dst, int value, size_t bytes, void* stream) {
  VX_CHECK(cudaMemsetAsync(dst, value, bytes, vx::as_stream(stream)));
  return 0;
}

extern "C" int vx_fill_f32(float* dst, float value, int64_t count, void* stream) {
  if (count <= 0) return 0;
  VX_LAUNCH(fill_f32_kernel, vx::grid_blocks(count, 256), 256, 0, vx::as_stream(stream), dst, value,
            count);
  VX_CHECK_LAUNCH("fill_f32_kernel");
  return 0;
}
