/*
 * The CPU stand-in's runtime: memory, streams, devices and the fiber scheduler that runs a
 * block's threads. See cuda_emulation.h for what is and is not emulated.
 */
#include "cuda_emulation.h"

#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include <chrono>
#include <map>
#include <memory>
#include <vector>

dim3 threadIdx;
dim3 blockIdx;
dim3 blockDim;
dim3 gridDim;

namespace {

constexpr size_t STACK_BYTES = 256 * 1024;
constexpr size_t DEFAULT_SHARED = 48 * 1024;
constexpr size_t OPTIN_SHARED = 227 * 1024;

enum class FiberState { Ready, AtBarrier, Done };

struct Scheduler {
  ucontext_t main;
  std::vector<ucontext_t> contexts;
  std::vector<FiberState> states;
  std::vector<std::unique_ptr<char[]>> stacks;
  std::vector<unsigned char> shared;
  const std::function<void()>* body = nullptr;
  unsigned current = 0;
};

Scheduler scheduler;
cudaError_t last_error = cudaSuccess;
std::map<const void*, int> max_dynamic_shared;

void fiber_entry() {
  (*scheduler.body)();
  scheduler.states[scheduler.current] = FiberState::Done;
}

void prepare_fibers(unsigned threads) {
  while (scheduler.stacks.size() < threads) {
    scheduler.stacks.emplace_back(new char[STACK_BYTES]);
  }
  scheduler.contexts.resize(threads);
  scheduler.states.assign(threads, FiberState::Ready);
  for (unsigned t = 0; t < threads; ++t) {
    ucontext_t& context = scheduler.contexts[t];
    getcontext(&context);
    context.uc_stack.ss_sp = scheduler.stacks[t].get();
    context.uc_stack.ss_size = STACK_BYTES;
    context.uc_link = &scheduler.main;
    makecontext(&context, fiber_entry, 0);
  }
}

/** Run every live fiber up to its next barrier or its end; false when they disagree. */
bool run_round(unsigned threads, bool* finished) {
  unsigned waiting = 0, done = 0;
  for (unsigned t = 0; t < threads; ++t) {
    if (scheduler.states[t] == FiberState::Done) {
      ++done;
      continue;
    }
    scheduler.current = t;
    threadIdx = dim3(t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y));
    scheduler.states[t] = FiberState::Ready;
    swapcontext(&scheduler.main, &scheduler.contexts[t]);
    if (scheduler.states[t] == FiberState::Done)
      ++done;
    else
      ++waiting;
  }
  *finished = done == threads;
  return waiting == 0 || done == 0;
}

bool run_block(unsigned threads) {
  memset(scheduler.shared.data(), 0xFF, scheduler.shared.size());  // NaN for floats
  prepare_fibers(threads);
  bool finished = false;
  while (!finished) {
    if (!run_round(threads, &finished)) {
      fprintf(stderr, "emulator: block (%u, %u, %u): threads disagree on __syncthreads()\n",
              blockIdx.x, blockIdx.y, blockIdx.z);
      return false;
    }
  }
  return true;
}

bool valid_launch(const void* kernel, dim3 grid, dim3 block, size_t shared_bytes) {
  unsigned threads = block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535) {
    return false;
  }
  auto raised = max_dynamic_shared.find(kernel);
  size_t limit = raised == max_dynamic_shared.end() ? DEFAULT_SHARED : raised->second;
  return shared_bytes <= limit && shared_bytes <= OPTIN_SHARED;
}

}  // namespace

namespace vx_emu {

void sync_threads() {
  scheduler.states[scheduler.current] = FiberState::AtBarrier;
  swapcontext(&scheduler.contexts[scheduler.current], &scheduler.main);
}

void* dynamic_shared() {
  return scheduler.shared.data();
}

void set_max_dynamic_shared(const void* kernel, int bytes) {
  max_dynamic_shared[kernel] = bytes;
}

void run_grid(const void* kernel, dim3 grid, dim3 block, size_t shared_bytes,
              const std::function<void()>& body) {
  if (!valid_launch(kernel, grid, block, shared_bytes)) {
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  gridDim = grid;
  blockDim = block;
  scheduler.body = &body;
  scheduler.shared.assign(shared_bytes > 0 ? shared_bytes : 1, 0);
  unsigned threads = block.x * block.y * block.z;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = dim3(x, y, z);
        if (!run_block(threads)) {
          last_error = cudaErrorLaunchFailure;
          return;
        }
      }
}

}  // namespace vx_emu

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInsufficientDriver:
      return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
  }
  return "unknown error";
}

cudaError_t cudaGetLastError() {
  cudaError_t error = last_error;
  last_error = cudaSuccess;
  return error;
}
cudaError_t cudaPeekAtLastError() {
  return last_error;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : cudaErrorInvalidValue;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* props, int device) {
  if (device != 0) return cudaErrorInvalidValue;
  memset(props, 0, sizeof *props);
  snprintf(props->name, sizeof props->name, "CPU emulator (fibers; no timing)");
  props->totalGlobalMem = size_t{8} << 30;
  props->sharedMemPerBlockOptin = OPTIN_SHARED;
  props->major = 9;
  props->minor = 0;
  props->multiProcessorCount = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
  *value = attr == cudaDevAttrMaxSharedMemoryPerBlockOptin ? static_cast<int>(OPTIN_SHARED) : 1;
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = *total_bytes = size_t{8} << 30;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = reinterpret_cast<cudaStream_t>(new char[1]);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete[] reinterpret_cast<char*>(stream);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = malloc(bytes);
  if (!*ptr) return cudaErrorMemoryAllocation;
  memset(*ptr, 0xFF, bytes);  // device memory starts as garbage: NaN for floats
  return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t) {
  return cudaMalloc(ptr, bytes);
}
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) {
  return cudaFree(ptr);
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  memset(dst, value, bytes);
  return cudaSuccess;
}

struct vx_emulated_event {
  std::chrono::steady_clock::time_point at;
};
cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new vx_emulated_event();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  event->at = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) {
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
  return cudaSuccess;
}
