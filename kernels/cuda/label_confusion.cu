/*
 * label_confusion: per-label true positives, prediction counts and reference counts of two
 * label maps in one pass (FP = pred - TP, FN = ref - TP), with an optional ignored reference
 * label. Labels are uint8, uint16 or int32; a label outside [0, L) is reported by the index of
 * the first voxel that has one.
 *
 * Kernel variants:
 * - label_confusion_kernel<Label, true>: block-local histograms in shared memory (3 x L 32-bit
 *   counters, L <= 4096), merged into the global 64-bit counters with one atomic per non-zero
 *   bin at the end of the block.
 * - label_confusion_kernel<Label, false>: atomics straight into global memory, for L > 4096
 *   (raw FreeSurfer label values, say), slower under contention.
 */
#include "common.cuh"

namespace {

constexpr int THREADS = 256;
constexpr int MAX_SHARED_LABELS = 4096;

template <typename Label, bool SHARED>
__global__ void __launch_bounds__(THREADS)
    label_confusion_kernel(unsigned long long* __restrict__ counts,         // (3, L): tp, pred, ref
                           unsigned long long* __restrict__ first_invalid,  // (1)
                           const Label* __restrict__ pred,                  // (count)
                           const Label* __restrict__ ref,                   // (count)
                           int64_t count, int num_labels, int has_ignore, int ignore_label) {
  VX_DYNAMIC_SHARED(unsigned int, histogram);  // (3, L) when SHARED
  if (SHARED) {
    for (int i = threadIdx.x; i < 3 * num_labels; i += THREADS) histogram[i] = 0;
    __syncthreads();
  }

  int64_t step = static_cast<int64_t>(gridDim.x) * THREADS;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(THREADS) + threadIdx.x; i < count; i += step) {
    int64_t p = pred[i];
    int64_t r = ref[i];
    if (has_ignore && r == ignore_label) continue;
    if (p < 0 || p >= num_labels || r < 0 || r >= num_labels) {
      atomicMin(first_invalid, static_cast<unsigned long long>(i));
      continue;
    }
    if (SHARED) {
      if (p == r) atomicAdd(&histogram[p], 1u);
      atomicAdd(&histogram[num_labels + p], 1u);
      atomicAdd(&histogram[2 * num_labels + r], 1u);
    } else {
      if (p == r) atomicAdd(&counts[p], 1ull);
      atomicAdd(&counts[num_labels + p], 1ull);
      atomicAdd(&counts[2 * num_labels + r], 1ull);
    }
  }

  if (SHARED) {
    __syncthreads();
    for (int i = threadIdx.x; i < 3 * num_labels; i += THREADS) {
      if (histogram[i]) atomicAdd(&counts[i], static_cast<unsigned long long>(histogram[i]));
    }
  }
}

template <typename Label>
void launch(unsigned long long* counts, unsigned long long* first_invalid, const void* pred,
            const void* ref, int64_t count, int num_labels, int has_ignore, int ignore_label,
            cudaStream_t stream) {
  unsigned blocks = vx::grid_blocks(count, THREADS);
  blocks = blocks < 1024 ? blocks : 1024;
  const Label* p = static_cast<const Label*>(pred);
  const Label* r = static_cast<const Label*>(ref);
  if (num_labels <= MAX_SHARED_LABELS) {
    auto kernel = label_confusion_kernel<Label, true>;
    size_t shared = 3 * sizeof(unsigned int) * num_labels;
    VX_LAUNCH(kernel, blocks, THREADS, shared, stream, counts, first_invalid, p, r, count,
              num_labels, has_ignore, ignore_label);
  } else {
    auto kernel = label_confusion_kernel<Label, false>;
    VX_LAUNCH(kernel, blocks, THREADS, 0, stream, counts, first_invalid, p, r, count, num_labels,
              has_ignore, ignore_label);
  }
}

/** Launch the kernel for `label_type` and download the counts; the caller frees `scratch`. */
int count_labels(vx_label_counts* out, unsigned long long* scratch, const void* pred,
                 const void* ref, int label_type, int64_t count, int num_labels, int has_ignore,
                 int ignore_label, cudaStream_t s) {
  size_t counter_bytes = 3 * sizeof(unsigned long long) * num_labels;
  unsigned long long* invalid = scratch + 3 * num_labels;
  VX_CHECK(cudaMemsetAsync(scratch, 0, counter_bytes, s));
  VX_CHECK(cudaMemsetAsync(invalid, 0xFF, sizeof(unsigned long long), s));

  if (label_type == VX_LABEL_U8) {
    launch<uint8_t>(scratch, invalid, pred, ref, count, num_labels, has_ignore, ignore_label, s);
  } else if (label_type == VX_LABEL_U16) {
    launch<uint16_t>(scratch, invalid, pred, ref, count, num_labels, has_ignore, ignore_label, s);
  } else {
    launch<int32_t>(scratch, invalid, pred, ref, count, num_labels, has_ignore, ignore_label, s);
  }
  VX_CHECK_LAUNCH("label_confusion_kernel");

  unsigned long long first = 0;
  size_t label_bytes = sizeof(unsigned long long) * num_labels;
  VX_CHECK(cudaMemcpyAsync(out->tp, scratch, label_bytes, cudaMemcpyDeviceToHost, s));
  VX_CHECK(
      cudaMemcpyAsync(out->pred, scratch + num_labels, label_bytes, cudaMemcpyDeviceToHost, s));
  VX_CHECK(
      cudaMemcpyAsync(out->ref, scratch + 2 * num_labels, label_bytes, cudaMemcpyDeviceToHost, s));
  VX_CHECK(cudaMemcpyAsync(&first, invalid, sizeof first, cudaMemcpyDeviceToHost, s));
  VX_CHECK(cudaStreamSynchronize(s));
  out->first_invalid = first == ~0ull ? -1 : static_cast<int64_t>(first);
  return 0;
}

}  // namespace

extern "C" int vx_label_confusion(vx_label_counts* counts, const void* pred, const void* ref,
                                  int label_type, int64_t count, int num_labels, int has_ignore,
                                  int ignore_label, void* stream) {
  VX_REQUIRE(vx::label_bytes(label_type) > 0, "label_confusion: expected label type 1, 2 or 4");
  VX_REQUIRE(num_labels > 0 && count >= 0, "label_confusion: expected num_labels > 0");
  cudaStream_t s = vx::as_stream(stream);

  unsigned long long* scratch = nullptr;
  size_t bytes = (3 * static_cast<size_t>(num_labels) + 1) * sizeof(unsigned long long);
  VX_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&scratch), bytes, s));
  int status = count_labels(counts, scratch, pred, ref, label_type, count, num_labels, has_ignore,
                            ignore_label, s);
  cudaError_t freed = cudaFreeAsync(scratch, s);
  if (status == 0 && freed != cudaSuccess) {
    return vx::fail("cudaFreeAsync", static_cast<int>(freed), __FILE__, __LINE__);
  }
  return status;
}
