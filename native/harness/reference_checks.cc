/*
 * Known answers and invariants of the CPU reference alone (the `--cpu` mode): hand-computed
 * convolutions, GELU values, softmax sums, argmax ties, label counts, soft Dice sums and
 * slice/concat round trips, plus every validation case run through the reference.
 */
#include <math.h>
#include <stdio.h>

#include <functional>
#include <stdexcept>

#include "ops.h"
#include "validate.h"

namespace harness {

namespace {

Tensor floats(const std::vector<int64_t>& shape, const std::vector<float>& values) {
  Tensor t = make_tensor("float32", shape);
  if (static_cast<int64_t>(values.size()) != t.count()) throw std::logic_error("bad fixture");
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

Tensor int32s(const std::vector<int64_t>& shape, const std::vector<int32_t>& values) {
  Tensor t = make_tensor("int32", shape);
  std::copy(values.begin(), values.end(), t.data<int32_t>());
  return t;
}

std::vector<double> values_of(const Tensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.count(); ++i) out.push_back(t.at(i));
  return out;
}

/** Fail (return false) with a message unless got matches want within 1e-6. */
bool expect(const std::string& what, const std::vector<double>& got,
            const std::vector<double>& want) {
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i)
    ok = fabs(got[i] - want[i]) <= 1e-6 + 1e-6 * fabs(want[i]);
  if (!ok) {
    printf("  %s: got", what.c_str());
    for (double g : got) printf(" %.8g", g);
    printf(", want");
    for (double w : want) printf(" %.8g", w);
    printf("\n");
  }
  return ok;
}

bool conv_neighbourhood() {
  Case c{"conv3d", {{"padding", {1, 1, 1}}}, {}};
  c.tensors["x"] = floats({1, 1, 3, 3, 3}, std::vector<float>(27, 1.0f));
  c.tensors["weight"] = floats({1, 1, 3, 3, 3}, std::vector<float>(27, 1.0f));
  c.tensors["bias"] = floats({1}, {0.5f});
  std::vector<double> out = values_of(run_reference(c)["out"]);
  return expect("3x3x3 ones: corner, face, centre", {out[0], out[4], out[13]}, {8.5, 18.5, 27.5});
}

bool conv_dilation_stride_groups() {
  Case c{"conv3d",
         {{"dilation", {1, 1, 2}}, {"stride", {1, 1, 2}}, {"groups", {2}}, {"activation", {1}}},
         {}};
  c.tensors["x"] = floats({1, 2, 1, 1, 5}, {1, 2, 3, 4, 5, -1, -2, -3, -4, -5});
  c.tensors["weight"] = floats({2, 1, 1, 1, 2}, {1, 10, 1, 10});
  return expect("dilation, stride, groups, relu", values_of(run_reference(c)["out"]),
                {31, 53, 0, 0});
}

bool gelu_values() {
  Case c{"activation", {{"activation", {4}}}, {{"x", floats({4}, {-2, -0.5f, 0.5f, 2})}}};
  return expect("gelu", values_of(run_reference(c)["out"]),
                {-0.04550026, -0.15426877, 0.34573123, 1.95449974});
}

bool softmax_and_argmax() {
  Case c{"softmax", {}, {{"x", floats({1, 3, 1, 1, 2}, {1, 5, 3, 5, 2, 0})}}};
  std::vector<double> p = values_of(run_reference(c)["out"]);
  double e = exp(1.0) + exp(3.0) + exp(2.0);
  bool ok =
      expect("softmax voxel 0", {p[0], p[2], p[4]}, {exp(1.0) / e, exp(3.0) / e, exp(2.0) / e});
  c.op = "argmax";
  return expect("argmax, tie to the lower index", values_of(run_reference(c)["out"]), {1, 0}) && ok;
}

bool label_counts() {
  Case c{"label_confusion", {{"num_labels", {3}}, {"ignore_label", {2}}}, {}};
  c.tensors["pred"] = int32s({6}, {0, 1, 1, 2, 0, 1});
  c.tensors["ref"] = int32s({6}, {0, 1, 0, 1, 2, 2});
  Results r = run_reference(c);
  return expect("tp", values_of(r["tp"]), {1, 1, 0}) &&
         expect("pred", values_of(r["pred_count"]), {1, 2, 1}) &&
         expect("ref", values_of(r["ref_count"]), {2, 2, 0}) &&
         expect("first_invalid", values_of(r["first_invalid"]), {-1});
}

bool soft_dice_sums() {
  Case c{"soft_dice", {}, {}};
  c.tensors["probs"] = floats({1, 2, 1, 1, 3}, {0.5f, 0.25f, 1, 0.5f, 0.75f, 0});
  c.tensors["target"] = int32s({1, 1, 1, 3}, {0, 1, 1});
  Results r = run_reference(c);
  return expect("intersection", values_of(r["intersection"]), {0.5, 0.75}) &&
         expect("pred_sum", values_of(r["pred_sum"]), {1.75, 1.25}) &&
         expect("target_sum", values_of(r["target_sum"]), {1, 2});
}

bool slice_concat_round_trip() {
  Case whole{"slice", {{"axis", {2}}, {"start", {0}}, {"size", {2}}}, {}};
  whole.tensors["x"] = floats({1, 2, 5, 1, 1}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor head = run_reference(whole)["out"];
  whole.params = {{"axis", {2}}, {"start", {2}}, {"size", {3}}};
  Tensor tail = run_reference(whole)["out"];
  Case join{"concat", {{"axis", {2}}}, {{"x0", head}, {"x1", tail}}};
  return expect("slice head", values_of(head), {0, 1, 5, 6}) &&
         expect("concat(slices)", values_of(run_reference(join)["out"]),
                values_of(whole.tensors["x"]));
}

/**
 * Every validation case runs through the reference and gives finite outputs (but for
 * distance_transform's +INFINITY, its answer for an item without features).
 */
bool validation_cases_run() {
  bool ok = true;
  for (const ValidationCase& v : validation_cases(false)) {
    const bool infinity_ok = v.c.op == "distance_transform";
    for (const auto& [name, t] : run_reference(v.c)) {
      for (int64_t i = 0; i < t.count(); ++i) {
        if (isfinite(t.at(i)) || (infinity_ok && t.at(i) == INFINITY)) continue;
        printf("  %s: %s[%lld] is %g\n", v.name.c_str(), name.c_str(), static_cast<long long>(i),
               t.at(i));
        ok = false;
        break;
      }
    }
  }
  return ok;
}

}  // namespace

int check_reference() {
  const std::pair<const char*, std::function<bool()>> checks[] = {
      {"reference conv3d 3x3x3 neighbourhood", conv_neighbourhood},
      {"reference conv3d dilation, stride, groups", conv_dilation_stride_groups},
      {"reference gelu (Abramowitz-Stegun erf)", gelu_values},
      {"reference softmax and argmax", softmax_and_argmax},
      {"reference label confusion with ignore label", label_counts},
      {"reference soft dice sums", soft_dice_sums},
      {"reference slice and concat", slice_concat_round_trip},
      {"reference runs every validation case", validation_cases_run},
  };
  int failures = 0;
  for (const auto& [name, check] : checks) {
    bool ok = false;
    try {
      ok = check();
    } catch (const std::exception& e) {
      printf("  %s\n", e.what());
    }
    printf("%s %s\n", ok ? "PASS" : "FAIL", name);
    failures += ok ? 0 : 1;
  }
  int total = static_cast<int>(sizeof checks / sizeof checks[0]);
  printf("%d passed, %d failed\n", total - failures, failures);
  return failures;
}

}  // namespace harness
