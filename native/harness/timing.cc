/* Timing of the conv3d shapes and the memory-bound kernels against the measured peaks. */
#include "timing.h"

#include <math.h>

#include <fstream>
#include <stdexcept>

#include "voxseg_cuda.h"

namespace harness {

namespace {

void check(int status) {
  if (status != 0) throw std::runtime_error(vx_last_error());
}

/** Device buffers freed on scope exit, filled with a small constant (values do not matter). */
struct Scratch {
  void* stream;
  std::vector<void*> buffers;
  float* floats(int64_t count, float value = 0.01f) {
    void* p = nullptr;
    check(vx_malloc(&p, static_cast<size_t>(count) * 4, stream));
    buffers.push_back(p);
    check(vx_fill_f32(static_cast<float*>(p), value, count, stream));
    return static_cast<float*>(p);
  }
  void* bytes(int64_t count, int value) {
    void* p = nullptr;
    check(vx_malloc(&p, static_cast<size_t>(count), stream));
    buffers.push_back(p);
    check(vx_fill_bytes(p, value, static_cast<size_t>(count), stream));
    return p;
  }
  ~Scratch() {
    for (void* p : buffers) vx_free(p, stream);
  }
};

/** Mean milliseconds of `launch`, repeated to fill about 200 ms (3 to 100 repetitions). */
double time_adaptive(void* stream, const std::function<int()>& launch) {
  float once = 0;
  check(time_ms(stream, 1, &once, launch));
  int reps = once > 0 ? static_cast<int>(200.0 / once) : 100;
  reps = reps < 3 ? 3 : reps > 100 ? 100 : reps;
  float ms = 0;
  check(time_ms(stream, reps, &ms, launch));
  return ms;
}

vx_conv3d_params params_of(const ConvShape& s) {
  vx_conv3d_params p{};
  p.n = 1, p.cin = s.cin, p.d = p.h = p.w = s.size;
  p.cout = s.cout, p.kd = p.kh = p.kw = s.kernel;
  p.od = p.oh = p.ow = s.out_size();
  for (int a = 0; a < 3; ++a) {
    p.stride[a] = s.stride, p.padding[a] = s.padding, p.dilation[a] = s.dilation;
  }
  p.groups = 1, p.activation = s.activation, p.alpha = 1.0f;
  return p;
}

Timing time_conv(const ConvShape& s, int algorithm, const Peaks& peaks, void* stream) {
  vx_conv3d_params p = params_of(s);
  Scratch scratch{stream, {}};
  int64_t in = int64_t{s.cin} * s.size * s.size * s.size;
  int64_t out = int64_t{s.cout} * p.od * p.oh * p.ow;
  const float* x = scratch.floats(in);
  const float* w = scratch.floats(int64_t{s.cout} * s.cin * s.kernel * s.kernel * s.kernel);
  const float* b = s.bias ? scratch.floats(s.cout) : nullptr;
  float* y = scratch.floats(out);

  double ms = time_adaptive(stream, [&] { return vx_conv3d(y, x, w, b, &p, algorithm, stream); });
  double gflops = s.flops() / (ms * 1e6);
  bool gemm = algorithm == VX_CONV3D_IMPLICIT_GEMM;
  const char* kernel = gemm ? "conv3d_implicit_gemm" : "conv3d_direct";
  return {s.suite,
          s.name,
          kernel,
          ms,
          gflops,
          "GFLOP/s",
          gflops / (gemm ? peaks.tf32_gflops : peaks.fma_gflops)};
}

Timing memory_timing(const std::string& name, const std::string& kernel, double bytes, double ms,
                     const Peaks& peaks) {
  double gbs = bytes / (ms * 1e6);
  return {"memory", name, kernel, ms, gbs, "GB/s", gbs / peaks.copy_gbs};
}

}  // namespace

Peaks measure_peaks(void* stream) {
  int device = 0;
  vx_device_info info;
  check(vx_device_info_get(device, &info));
  Peaks peaks{};
  check(probe_copy(stream, &peaks.copy_gbs));
  check(probe_fma(stream, info.multiprocessors, &peaks.fma_gflops));
  check(probe_tf32(stream, info.multiprocessors, &peaks.tf32_gflops));
  return peaks;
}

std::vector<Timing> time_conv_shapes(const std::vector<ConvShape>& shapes, const Peaks& peaks,
                                     void* stream) {
  vx_device_info info;
  check(vx_device_info_get(0, &info));
  std::vector<Timing> timings;
  for (const ConvShape& s : shapes) {
    vx_conv3d_params p = params_of(s);
    int chosen = vx_conv3d_choose(&p, info.shared_per_block_optin);
    for (int algorithm : {VX_CONV3D_DIRECT, VX_CONV3D_IMPLICIT_GEMM}) {
      Timing t = time_conv(s, algorithm, peaks, stream);
      if (algorithm == chosen) t.kernel += " (auto)";
      printf("%-40s %-29s %9.3f ms %9.0f %s %5.1f%% of peak\n", s.name.c_str(), t.kernel.c_str(),
             t.ms, t.rate, t.unit.c_str(), 100 * t.peak_fraction);
      fflush(stdout);
      timings.push_back(t);
    }
  }
  return timings;
}

std::vector<Timing> time_memory_kernels(const Peaks& peaks, void* stream) {
  const int64_t S = 128 * 128 * 128;
  Scratch scratch{stream, {}};
  std::vector<Timing> timings;
  auto add = [&](const std::string& name, const std::string& kernel, double bytes,
                 const std::function<int()>& launch) {
    timings.push_back(memory_timing(name, kernel, bytes, time_adaptive(stream, launch), peaks));
    const Timing& t = timings.back();
    printf("%-40s %-29s %9.3f ms %9.0f %s %5.1f%% of peak\n", name.c_str(), kernel.c_str(), t.ms,
           t.rate, t.unit.c_str(), 100 * t.peak_fraction);
    fflush(stdout);
  };

  float* a = scratch.floats(50 * S, 0.5f);
  float* b = scratch.floats(50 * S, 0.5f);
  void* labels_a = scratch.bytes(8 * S, 1);
  void* labels_b = scratch.bytes(8 * S, 2);
  add("activation gelu 30x128^3", "activation", 8.0 * 30 * S,
      [&] { return vx_activation(b, a, 30 * S, 4, 1.0f, stream); });
  add("instance_norm 15x128^3", "instance_norm", 12.0 * 15 * S,
      [&] { return vx_instance_norm(b, a, nullptr, nullptr, 1, 15, S, 1e-5f, 4, 1.0f, stream); });
  add("softmax 50x128^3", "softmax", 12.0 * 50 * S,
      [&] { return vx_softmax(b, a, 1, 50, S, stream); });
  add("argmax 50x128^3", "argmax", 4.0 * 51 * S,
      [&] { return vx_argmax(reinterpret_cast<int32_t*>(b), a, 1, 50, S, stream); });
  add("soft_dice 4x128^3, uint8 target", "soft_dice", 5.0 * 4 * S, [&] {
    std::vector<double> sums(12);
    return vx_soft_dice(sums.data(), sums.data() + 4, sums.data() + 8, a, labels_a, VX_LABEL_U8, 1,
                        4, S, stream);
  });
  add("label_confusion uint8 256^3, 50 labels", "label_confusion", 2.0 * 8 * S, [&] {
    std::vector<uint64_t> counts(150);
    vx_label_counts c{counts.data(), counts.data() + 50, counts.data() + 100, -1};
    return vx_label_confusion(&c, labels_a, labels_b, VX_LABEL_U8, 8 * S, 50, 0, 0, stream);
  });
  add("concat 2 x 32x64^3 channels", "copy_blocks", 2.0 * 4 * 64 * S / 8, [&] {
    int64_t half = 32 * S / 8 * 4;
    int status = vx_copy_blocks(b, a, 1, half, 2 * half, half, stream);
    return status ? status
                  : vx_copy_blocks(reinterpret_cast<char*>(b) + half, a, 1, half, 2 * half, half,
                                   stream);
  });
  return timings;
}

void write_timings_json(const std::string& path, const std::string& device, const Peaks& peaks,
                        const std::vector<Timing>& timings) {
  std::ofstream out(path);
  out << "{\n  \"device\": \"" << device << "\",\n";
  out << "  \"peaks\": {\"copy_gbs\": " << peaks.copy_gbs
      << ", \"fma_gflops\": " << peaks.fma_gflops << ", \"tf32_gflops\": " << peaks.tf32_gflops
      << "},\n  \"timings\": [\n";
  for (size_t i = 0; i < timings.size(); ++i) {
    const Timing& t = timings[i];
    out << "    {\"suite\": \"" << t.suite << "\", \"name\": \"" << t.name << "\", \"kernel\": \""
        << t.kernel << "\", \"ms\": " << t.ms << ", \"rate\": " << t.rate << ", \"unit\": \""
        << t.unit << "\", \"peak_fraction\": " << t.peak_fraction << "}"
        << (i + 1 < timings.size() ? ",\n" : "\n");
  }
  out << "  ]\n}\n";
  if (!out) throw std::runtime_error(path + ": cannot write");
}

}  // namespace harness
