/*
 * Timing on a GPU: the device's measured peaks (a copy-bandwidth probe, an FP32 FMA probe and
 * a TF32 tensor-core probe, in probes.cu), then every conv3d shape with each kernel variant
 * and the memory-bound kernels, each as a fraction of the peak that bounds it.
 */
#pragma once

#include <stdio.h>

#include <functional>
#include <string>
#include <vector>

#include "shapes.h"

namespace harness {

struct Peaks {
  double copy_gbs;     // device-to-device copy, read + write bytes per second / 1e9
  double fma_gflops;   // FP32 FMA, 2 flops each
  double tf32_gflops;  // TF32 wmma m16n16k8 with FP32 accumulation
};

/** One timed kernel call. */
struct Timing {
  std::string suite, name, kernel;
  double ms;             // median of the timed repetitions
  double rate;           // GFLOP/s (conv3d) or GB/s (memory-bound kernels)
  std::string unit;      // "GFLOP/s" or "GB/s"
  double peak_fraction;  // rate / the bounding peak
};

/** Measure the device's peaks with the probe kernels; throws on a CUDA failure. */
Peaks measure_peaks(void* stream);

/** Time each shape with conv3d_direct and conv3d_implicit_gemm (and say which AUTO picks). */
std::vector<Timing> time_conv_shapes(const std::vector<ConvShape>& shapes, const Peaks& peaks,
                                     void* stream);

/** Time the memory-bound kernels on 128^3 volumes. */
std::vector<Timing> time_memory_kernels(const Peaks& peaks, void* stream);

/** Write peaks and timings as JSON (the cuDNN comparison reads it). */
void write_timings_json(const std::string& path, const std::string& device, const Peaks& peaks,
                        const std::vector<Timing>& timings);

// probes.cu
/** Mean milliseconds of `launch` over `reps` back-to-back calls after one warm-up call. */
int time_ms(void* stream, int reps, float* ms, const std::function<int()>& launch);
int probe_copy(void* stream, double* gbs);
int probe_fma(void* stream, int multiprocessors, double* gflops);
int probe_tf32(void* stream, int multiprocessors, double* gflops);

}  // namespace harness
