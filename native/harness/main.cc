/*
 * voxseg_harness: validates voxseg's CUDA kernels against a CPU reference and times them,
 * without Node. Three builds of this one program (see CMakeLists.txt):
 * - voxseg_harness with CUDA: kernels on the GPU; validation and timing.
 * - voxseg_harness_emulated: the same kernel sources on the CPU emulator; validation only.
 * - voxseg_harness without nvcc: the CPU reference only (--cpu, --list-shapes).
 *
 * Usage:
 *   voxseg_harness [--validate] [--time] [--large] [--suite brainchop|unet|all] [--json FILE]
 *   voxseg_harness --op DIR          run DIR/case.txt on the kernels, write DIR/result.txt
 *   voxseg_harness --cpu [--op DIR]  the CPU reference: its own checks, or one case
 *   voxseg_harness --list-shapes     the timed conv3d shapes as CSV
 * With no mode, the GPU build validates and times; the emulated build validates.
 * Exit status: 0 all passed, 1 a check failed, 2 bad usage or no device.
 */
#include <stdio.h>
#include <string.h>

#include <stdexcept>
#include <string>

#include "ops.h"
#include "shapes.h"
#include "validate.h"
#if VOXSEG_HARNESS_TIMING
#include "timing.h"
#endif

namespace {

struct Options {
  bool cpu = false, validate = false, time = false, large = false, list_shapes = false;
  std::string op_dir, suite = "all", json;
};

int usage(const char* problem) {
  fprintf(stderr, "voxseg_harness: %s\n", problem);
  fprintf(stderr,
          "usage: voxseg_harness [--cpu] [--op DIR] [--validate] [--time] [--large] "
          "[--suite brainchop|unet|all] [--json FILE] [--list-shapes]\n");
  return 2;
}

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--cpu")
      o->cpu = true;
    else if (a == "--validate")
      o->validate = true;
    else if (a == "--time")
      o->time = true;
    else if (a == "--large")
      o->large = true;
    else if (a == "--list-shapes")
      o->list_shapes = true;
    else if (a == "--op" && has_value)
      o->op_dir = argv[++i];
    else if (a == "--suite" && has_value)
      o->suite = argv[++i];
    else if (a == "--json" && has_value)
      o->json = argv[++i];
    else
      return false;
  }
  return o->suite == "all" || o->suite == "brainchop" || o->suite == "unet";
}

std::vector<harness::ConvShape> selected_shapes(const std::string& suite) {
  std::vector<harness::ConvShape> shapes;
  if (suite != "unet") shapes = harness::brainchop_shapes();
  if (suite != "brainchop") {
    for (const harness::ConvShape& s : harness::unet_shapes()) shapes.push_back(s);
  }
  return shapes;
}

int run_cpu(const Options& o) {
  if (!o.op_dir.empty()) {
    harness::write_results(o.op_dir, harness::run_reference(harness::read_case(o.op_dir)));
    return 0;
  }
  return harness::check_reference() ? 1 : 0;
}

#if VOXSEG_HARNESS_KERNELS
/** Open device 0 and a stream, or say why not. */
bool open_device(void** stream, std::string* description) {
  int count = 0;
  if (int status = vx_device_count(&count)) {
    fprintf(stderr, "no CUDA device: cudaGetDeviceCount returned %d (%s)\n", status,
            vx_error_string(status));
    return false;
  }
  vx_device_info info;
  if (count < 1 || vx_device_info_get(0, &info) || vx_stream_create(stream)) {
    fprintf(stderr, "no usable CUDA device: %s\n", count < 1 ? "count is 0" : vx_last_error());
    return false;
  }
  int driver = 0, runtime = 0;
  vx_driver_version(&driver);
  vx_runtime_version(&runtime);
  char text[512];
  snprintf(text, sizeof text, "%s (sm_%d%d, %d SMs, %.1f GiB; driver %d, runtime %d)", info.name,
           info.compute_major, info.compute_minor, info.multiprocessors,
           info.total_bytes / 1073741824.0, driver, runtime);
  *description = text;
  printf("device: %s\n", text);
  return true;
}

int run_kernels(Options o) {
  void* stream = nullptr;
  std::string device;
  if (!open_device(&stream, &device)) return 2;
  if (!o.op_dir.empty()) {
    harness::write_results(o.op_dir, harness::run_kernels(harness::read_case(o.op_dir), stream));
    return 0;
  }
  if (!o.validate && !o.time) o.validate = o.time = VOXSEG_HARNESS_TIMING;
  if (!o.validate && !o.time) o.validate = true;

  int failures = 0;
  if (o.validate) {
    failures = harness::validate_kernels(stream, o.large);
    size_t total = harness::validation_cases(o.large).size();
    printf("%zu passed, %d failed\n", total - failures, failures);
  }
  if (o.time) {
#if VOXSEG_HARNESS_TIMING
    harness::Peaks peaks = harness::measure_peaks(stream);
    printf("peaks: copy %.0f GB/s, FP32 FMA %.0f GFLOP/s, TF32 tensor %.0f GFLOP/s\n",
           peaks.copy_gbs, peaks.fma_gflops, peaks.tf32_gflops);
    std::vector<harness::Timing> timings =
        harness::time_conv_shapes(selected_shapes(o.suite), peaks, stream);
    for (const harness::Timing& t : harness::time_memory_kernels(peaks, stream))
      timings.push_back(t);
    if (!o.json.empty()) harness::write_timings_json(o.json, device, peaks, timings);
#else
    fprintf(stderr, "timing needs the GPU build of the harness\n");
    failures += 1;
#endif
  }
  vx_stream_destroy(stream);
  return failures ? 1 : 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) return usage("unknown or incomplete option");
  try {
    if (o.list_shapes) {
      harness::print_shapes(selected_shapes(o.suite));
      return 0;
    }
    if (o.cpu) return run_cpu(o);
#if VOXSEG_HARNESS_KERNELS
    return run_kernels(o);
#else
    return usage("built without CUDA (nvcc was not found): only --cpu and --list-shapes work");
#endif
  } catch (const std::exception& e) {
    fprintf(stderr, "voxseg_harness: %s\n", e.what());
    return 1;
  }
}
