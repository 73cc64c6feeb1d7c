/* Validation cases, the comparison and the CPU reference's known-answer checks. */
#include "validate.h"

#include <math.h>
#include <stdio.h>

#include <stdexcept>

#include "ops.h"

namespace harness {

namespace {

constexpr Tolerance FP32 = {1e-5, 1e-4};
constexpr Tolerance TF32 = {3e-3, 3e-3};
constexpr Tolerance EXACT = {0, 0};
constexpr Tolerance SUMS = {1e-6, 1e-9};

uint32_t next_seed = 1;

Tensor float_tensor(const std::vector<int64_t>& shape, float lo = -1, float hi = 1) {
  Tensor t = make_tensor("float32", shape);
  std::vector<float> values = random_floats(t.count(), next_seed++, lo, hi);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

Tensor label_tensor(const std::string& dtype, const std::vector<int64_t>& shape, int labels) {
  Tensor t = make_tensor(dtype, shape);
  std::vector<float> values = random_floats(t.count(), next_seed++, 0, 1);
  for (int64_t i = 0; i < t.count(); ++i) {
    int64_t label = static_cast<int64_t>(values[i] * labels) % labels;
    if (dtype == "uint8")
      t.data<uint8_t>()[i] = static_cast<uint8_t>(label);
    else if (dtype == "uint16")
      t.data<uint16_t>()[i] = static_cast<uint16_t>(label);
    else
      t.data<int32_t>()[i] = static_cast<int32_t>(label);
  }
  return t;
}

struct ConvSpec {
  std::vector<int64_t> x;  // (N, Cin, D, H, W)
  int cout;
  std::vector<int64_t> kernel;  // (KD, KH, KW)
  std::vector<double> stride, padding, dilation;
  int groups;
  int activation;
  bool bias;
  int algorithm;  // VX_CONV3D_*
};

ValidationCase conv_case(const std::string& name, const ConvSpec& s) {
  Case c;
  c.op = "conv3d";
  int64_t fan_in = s.x[1] / s.groups * s.kernel[0] * s.kernel[1] * s.kernel[2];
  float scale = static_cast<float>(1.0 / sqrt(static_cast<double>(fan_in)));
  c.tensors["x"] = float_tensor(s.x);
  c.tensors["weight"] = float_tensor(
      {s.cout, s.x[1] / s.groups, s.kernel[0], s.kernel[1], s.kernel[2]}, -scale, scale);
  if (s.bias) c.tensors["bias"] = float_tensor({s.cout}, -0.5f, 0.5f);
  c.params = {{"stride", s.stride},
              {"padding", s.padding},
              {"dilation", s.dilation},
              {"groups", {double(s.groups)}},
              {"activation", {double(s.activation)}},
              {"algorithm", {double(s.algorithm)}}};
  return {name, c, s.algorithm == VX_CONV3D_DIRECT ? FP32 : TF32};
}

void add_conv_cases(std::vector<ValidationCase>& cases, bool large) {
  const int D = VX_CONV3D_DIRECT, G = VX_CONV3D_IMPLICIT_GEMM, A = VX_CONV3D_AUTO;
  const std::vector<double> one = {1, 1, 1};
  cases.push_back(conv_case("conv3d direct 5->5 k3 pad 1",
                            {{1, 5, 13, 11, 17}, 5, {3, 3, 3}, one, one, one, 1, 1, true, D}));
  cases.push_back(
      conv_case("conv3d direct dilation 2",
                {{1, 5, 12, 10, 19}, 5, {3, 3, 3}, one, {2, 2, 2}, {2, 2, 2}, 1, 3, true, D}));
  cases.push_back(
      conv_case("conv3d direct dilation 3, 3->7",
                {{1, 3, 11, 9, 13}, 7, {3, 3, 3}, one, {3, 3, 3}, {3, 3, 3}, 1, 4, true, D}));
  cases.push_back(conv_case(
      "conv3d direct dilation 16 lattice",
      {{1, 2, 21, 20, 35}, 3, {3, 3, 3}, one, {16, 16, 16}, {16, 16, 16}, 1, 0, true, D}));
  cases.push_back(conv_case("conv3d direct stride 2",
                            {{1, 4, 9, 10, 11}, 6, {3, 3, 3}, {2, 2, 2}, one, one, 1, 2, true, D}));
  cases.push_back(conv_case("conv3d direct groups 2",
                            {{1, 6, 7, 9, 8}, 4, {3, 3, 3}, one, one, one, 2, 5, true, D}));
  cases.push_back(conv_case("conv3d direct depthwise",
                            {{1, 4, 6, 5, 7}, 4, {3, 3, 3}, one, one, {2, 1, 1}, 4, 1, false, D}));
  cases.push_back(
      conv_case("conv3d direct 1x1x1 30->18",
                {{1, 30, 5, 6, 37}, 18, {1, 1, 1}, one, {0, 0, 0}, one, 1, 0, true, D}));
  cases.push_back(
      conv_case("conv3d direct mixed kernel, stride, dilation",
                {{2, 3, 6, 7, 9}, 11, {2, 3, 1}, {1, 2, 1}, {0, 1, 2}, {2, 1, 3}, 1, 0, false, D}));
  cases.push_back(conv_case("conv3d direct 1->21 first layer",
                            {{1, 1, 10, 10, 40}, 21, {3, 3, 3}, one, one, one, 1, 1, true, D}));
  cases.push_back(conv_case("conv3d implicit_gemm 32->32",
                            {{1, 32, 9, 10, 11}, 32, {3, 3, 3}, one, one, one, 1, 1, true, G}));
  cases.push_back(conv_case("conv3d implicit_gemm 20->40 stride 2",
                            {{1, 20, 7, 8, 9}, 40, {3, 3, 3}, {2, 2, 2}, one, one, 1, 0, true, G}));
  cases.push_back(conv_case("conv3d implicit_gemm batch 2, 16->70",
                            {{2, 16, 5, 6, 7}, 70, {3, 3, 3}, one, one, one, 1, 2, true, G}));
  cases.push_back(
      conv_case("conv3d implicit_gemm groups 2, dilation 2",
                {{1, 32, 5, 6, 7}, 64, {3, 3, 3}, one, {2, 2, 2}, {2, 2, 2}, 2, 4, false, G}));
  cases.push_back(conv_case("conv3d implicit_gemm 1x1x1 48->33",
                            {{1, 48, 4, 5, 6}, 33, {1, 1, 1}, one, {0, 0, 0}, one, 1, 0, true, G}));
  cases.push_back(conv_case("conv3d auto 32->64 (implicit_gemm)",
                            {{1, 32, 6, 5, 7}, 64, {3, 3, 3}, one, one, one, 1, 3, true, A}));
  cases.push_back(
      conv_case("conv3d auto 15->15 (direct)",
                {{1, 15, 6, 5, 7}, 15, {3, 3, 3}, one, {4, 4, 4}, {4, 4, 4}, 1, 4, false, A}));
  cases.back().tolerance = FP32;
  if (!large) return;
  cases.push_back(
      conv_case("conv3d direct 30->30 dilation 8 at 40x48x56",
                {{1, 30, 40, 48, 56}, 30, {3, 3, 3}, one, {8, 8, 8}, {8, 8, 8}, 1, 3, true, D}));
  cases.push_back(conv_case("conv3d implicit_gemm 64->64 at 24^3",
                            {{1, 64, 24, 24, 24}, 64, {3, 3, 3}, one, one, one, 1, 1, true, G}));
  cases.push_back(
      conv_case("conv3d implicit_gemm 128->256 stride 2",
                {{1, 128, 16, 16, 16}, 256, {3, 3, 3}, {2, 2, 2}, one, one, 1, 1, true, G}));
}

ValidationCase simple_case(const std::string& name, const std::string& op, Tolerance tolerance,
                           std::map<std::string, Tensor> tensors,
                           std::map<std::string, std::vector<double>> params = {}) {
  Case c;
  c.op = op;
  c.tensors = std::move(tensors);
  c.params = std::move(params);
  return {name, c, tolerance};
}

void add_elementwise_cases(std::vector<ValidationCase>& cases) {
  const char* names[] = {"linear", "relu", "leakyRelu", "elu", "gelu", "sigmoid"};
  for (int code = 0; code < 6; ++code) {
    cases.push_back(simple_case(std::string("activation ") + names[code], "activation",
                                {1e-6, 1e-5}, {{"x", float_tensor({2, 3, 7, 9, 11}, -4, 4)}},
                                {{"activation", {double(code)}}, {"alpha", {0.2}}}));
  }
  cases.push_back(simple_case("instance_norm scale, shift, gelu", "instance_norm", FP32,
                              {{"x", float_tensor({2, 3, 9, 10, 11}, -3, 5)},
                               {"scale", float_tensor({3})},
                               {"shift", float_tensor({3})}},
                              {{"eps", {1e-5}}, {"activation", {4}}}));
  cases.push_back(simple_case("instance_norm offset data, 15 channels", "instance_norm", FP32,
                              {{"x", float_tensor({1, 15, 17, 16, 15}, 9, 11)}},
                              {{"eps", {1e-5}}, {"activation", {0}}}));
  cases.push_back(simple_case("softmax 5 channels", "softmax", {1e-6, 1e-5},
                              {{"x", float_tensor({2, 5, 7, 8, 9}, -5, 5)}}));
  cases.push_back(simple_case("softmax 104 channels", "softmax", {1e-6, 1e-5},
                              {{"x", float_tensor({1, 104, 3, 4, 5}, -5, 5)}}));

  Tensor ties = float_tensor({2, 5, 7, 8, 9});
  for (int64_t s = 0; s < 7 * 8 * 9; s += 3) {
    for (int64_t b = 0; b < 2; ++b) {
      float* x = ties.data<float>() + b * 5 * 504 + s;
      x[2 * 504] = x[504];  // channels 1 and 2 tie
      if (s % 7 == 0)
        for (int ch = 1; ch < 5; ++ch) x[ch * 504] = x[0];  // all tie
    }
  }
  cases.push_back(simple_case("argmax with ties", "argmax", EXACT, {{"x", ties}}));
}

void add_metric_cases(std::vector<ValidationCase>& cases) {
  cases.push_back(simple_case("label_confusion uint8", "label_confusion", EXACT,
                              {{"pred", label_tensor("uint8", {2, 9, 10, 11}, 6)},
                               {"ref", label_tensor("uint8", {2, 9, 10, 11}, 6)}},
                              {{"num_labels", {6}}}));
  cases.push_back(simple_case("label_confusion uint16, ignore label 3", "label_confusion", EXACT,
                              {{"pred", label_tensor("uint16", {1, 13, 7, 9}, 5)},
                               {"ref", label_tensor("uint16", {1, 13, 7, 9}, 5)}},
                              {{"num_labels", {5}}, {"ignore_label", {3}}}));
  cases.push_back(simple_case("label_confusion int32, 5000 labels (global)", "label_confusion",
                              EXACT,
                              {{"pred", label_tensor("int32", {1, 8, 9, 10}, 5000)},
                               {"ref", label_tensor("int32", {1, 8, 9, 10}, 5000)}},
                              {{"num_labels", {5000}}}));
  Tensor bad = label_tensor("uint8", {1, 7, 8, 9}, 4);
  bad.data<uint8_t>()[123] = 7;
  bad.data<uint8_t>()[300] = 9;
  cases.push_back(simple_case("label_confusion invalid label", "label_confusion", EXACT,
                              {{"pred", bad}, {"ref", label_tensor("uint8", {1, 7, 8, 9}, 4)}},
                              {{"num_labels", {4}}}));
  cases.push_back(simple_case("soft_dice int32 target", "soft_dice", SUMS,
                              {{"probs", float_tensor({2, 4, 6, 7, 8}, 0, 1)},
                               {"target", label_tensor("int32", {2, 6, 7, 8}, 4)}}));
  cases.push_back(simple_case("soft_dice uint8 target", "soft_dice", SUMS,
                              {{"probs", float_tensor({1, 3, 9, 5, 11}, 0, 1)},
                               {"target", label_tensor("uint8", {1, 9, 5, 11}, 3)}}));
}

/** A (N, D, H, W) mask with about `density` non-zero voxels, plus the voxels in `set`. */
Tensor mask_tensor(const std::string& dtype, const std::vector<int64_t>& shape, float density,
                   const std::vector<int64_t>& set = {}) {
  Tensor t = make_tensor(dtype, shape);
  std::vector<float> values = random_floats(t.count(), next_seed++, 0, 1);
  for (int64_t i = 0; i < t.count(); ++i) {
    bool feature = values[i] < density;
    for (int64_t at : set) feature = feature || at == i;
    int32_t label = feature ? 1 + static_cast<int32_t>(i % 5) : 0;
    if (dtype == "uint8")
      t.data<uint8_t>()[i] = static_cast<uint8_t>(label);
    else if (dtype == "uint16")
      t.data<uint16_t>()[i] = static_cast<uint16_t>(label);
    else
      t.data<int32_t>()[i] = label;
  }
  return t;
}

ValidationCase distance_case(const std::string& name, Tensor mask, std::vector<double> spacing) {
  return simple_case("distance_transform " + name, "distance_transform", {1e-5, 1e-5},
                     {{"mask", std::move(mask)}}, {{"spacing", std::move(spacing)}});
}

void add_distance_cases(std::vector<ValidationCase>& cases, bool large) {
  cases.push_back(distance_case("uint8, odd sizes, anisotropic, batch 2",
                                mask_tensor("uint8", {2, 7, 9, 11}, 0.02f, {40}), {0.7, 1.3, 2.9}));
  cases.push_back(distance_case("uint16, one feature, D spacing 3",
                                mask_tensor("uint16", {1, 13, 6, 5}, 0, {217}), {3, 0.5, 1}));
  cases.push_back(distance_case("int32, dense, isotropic",
                                mask_tensor("int32", {1, 10, 10, 10}, 0.3f), {1, 1, 1}));
  cases.push_back(distance_case("one empty item (INFINITY) beside a single voxel",
                                mask_tensor("uint8", {2, 4, 5, 6}, 0, {181}), {0.5, 2, 1}));
  cases.push_back(distance_case("full mask", mask_tensor("uint8", {1, 3, 4, 5}, 1), {1, 1, 1}));
  cases.push_back(distance_case("3 planes of 300 x 200",
                                mask_tensor("uint8", {1, 3, 300, 200}, 0.0005f, {7}),
                                {2, 0.8, 0.8}));
  if (!large) return;
  cases.push_back(distance_case("uint8 96 x 112 x 128, sparse",
                                mask_tensor("uint8", {1, 96, 112, 128}, 0.0002f, {5000}),
                                {1.5, 0.9, 0.9}));
}

void add_copy_cases(std::vector<ValidationCase>& cases) {
  cases.push_back(simple_case("slice float32 channels", "slice", EXACT,
                              {{"x", float_tensor({2, 5, 7, 8, 9})}},
                              {{"axis", {1}}, {"start", {1}}, {"size", {3}}}));
  cases.push_back(simple_case("slice float32 odd width", "slice", EXACT,
                              {{"x", float_tensor({2, 5, 7, 8, 9})}},
                              {{"axis", {4}}, {"start", {2}}, {"size", {5}}}));
  cases.push_back(simple_case("slice uint8 rows", "slice", EXACT,
                              {{"x", label_tensor("uint8", {1, 7, 8, 9}, 200)}},
                              {{"axis", {2}}, {"start", {3}}, {"size", {4}}}));
  cases.push_back(simple_case("slice uint16 batch", "slice", EXACT,
                              {{"x", label_tensor("uint16", {3, 5, 6, 7}, 9000)}},
                              {{"axis", {0}}, {"start", {1}}, {"size", {2}}}));
  cases.push_back(
      simple_case("concat float32 channels", "concat", EXACT,
                  {{"x0", float_tensor({1, 3, 4, 5, 6})}, {"x1", float_tensor({1, 5, 4, 5, 6})}},
                  {{"axis", {1}}}));
  cases.push_back(simple_case("concat uint8 width", "concat", EXACT,
                              {{"x0", label_tensor("uint8", {1, 4, 5, 3}, 100)},
                               {"x1", label_tensor("uint8", {1, 4, 5, 6}, 100)},
                               {"x2", label_tensor("uint8", {1, 4, 5, 1}, 100)}},
                              {{"axis", {3}}}));
}

bool is_float(const std::string& dtype) {
  return dtype == "float32" || dtype == "float64";
}

}  // namespace

std::vector<ValidationCase> validation_cases(bool large) {
  next_seed = 1;
  std::vector<ValidationCase> cases;
  add_conv_cases(cases, large);
  add_elementwise_cases(cases);
  add_metric_cases(cases);
  add_distance_cases(cases, large);
  add_copy_cases(cases);
  return cases;
}

int compare_results(const Results& got, const Results& ref, Tolerance tolerance,
                    const std::string& name) {
  int failed = 0;
  for (const auto& [output, expected] : ref) {
    auto found = got.find(output);
    if (found == got.end() || found->second.count() != expected.count()) {
      printf("  %s: output %s missing or of the wrong size\n", name.c_str(), output.c_str());
      ++failed;
      continue;
    }
    const Tensor& actual = found->second;
    Tolerance t = is_float(expected.dtype) ? tolerance : EXACT;
    int64_t misses = 0;
    for (int64_t i = 0; i < expected.count(); ++i) {
      double g = actual.at(i), r = expected.at(i);
      if (g == r) continue;                                    // infinities included
      if (fabs(g - r) <= t.atol + t.rtol * fabs(r)) continue;  // NaN fails here
      if (misses++ < 8)
        printf("  %s: %s[%lld] got %.9g, ref %.9g\n", name.c_str(), output.c_str(),
               static_cast<long long>(i), g, r);
    }
    if (misses) {
      printf("  %s: %s: %lld of %lld elements differ (atol %g, rtol %g)\n", name.c_str(),
             output.c_str(), static_cast<long long>(misses),
             static_cast<long long>(expected.count()), t.atol, t.rtol);
      ++failed;
    }
  }
  return failed;
}

#if VOXSEG_HARNESS_KERNELS
int validate_kernels(void* stream, bool large) {
  int failures = 0;
  for (const ValidationCase& v : validation_cases(large)) {
    try {
      Results got = run_kernels(v.c, stream);
      Results ref = run_reference(v.c);
      bool ok = compare_results(got, ref, v.tolerance, v.name) == 0;
      printf("%s %s\n", ok ? "PASS" : "FAIL", v.name.c_str());
      failures += ok ? 0 : 1;
    } catch (const std::exception& e) {
      printf("FAIL %s: %s\n", v.name.c_str(), e.what());
      ++failures;
    }
    fflush(stdout);
  }
  return failures;
}
#endif

}  // namespace harness
