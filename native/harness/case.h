/*
 * One op call as plain data: its name, numeric parameters and named input tensors; and its
 * results, named output tensors. The CPU reference and the kernels both run a Case, the
 * validator compares their Results, and `--op DIR` reads a Case from a directory and writes
 * the Results back, so other programs (the TypeScript tests) can drive either side.
 *
 * Directory format: `case.txt` has one entry per line,
 *   op <name>
 *   param <name> <number> [<number> ...]
 *   tensor <name> <dtype> <dim> [<dim> ...]
 * and each tensor's data is `<name>.bin`, little-endian, C order. Results are written the
 * same way to `result.txt` and `<name>.bin`. dtypes: float32, float64, int32, int64, uint8,
 * uint16.
 */
#pragma once

#include <stdint.h>

#include <map>
#include <string>
#include <vector>

namespace harness {

/** A host tensor: dtype name, shape (outermost first) and raw little-endian bytes. */
struct Tensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t count() const;
  int element_bytes() const;
  /** Element i converted to double, whatever the dtype. */
  double at(int64_t i) const;

  template <typename T>
  T* data() {
    return reinterpret_cast<T*>(bytes.data());
  }
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(bytes.data());
  }
};

/** A tensor of `dtype` and `shape` with every byte set to `fill`. */
Tensor make_tensor(const std::string& dtype, const std::vector<int64_t>& shape, uint8_t fill = 0);

/** Bytes per element of a dtype name, or 0 when unknown. */
int dtype_bytes(const std::string& dtype);

struct Case {
  std::string op;
  std::map<std::string, std::vector<double>> params;
  std::map<std::string, Tensor> tensors;

  /** Parameter `name`[index], or `fallback` when absent. */
  double param(const std::string& name, size_t index = 0, double fallback = 0) const;
  bool has(const std::string& name) const { return tensors.count(name) > 0; }
  const Tensor& tensor(const std::string& name) const;
};

using Results = std::map<std::string, Tensor>;

/** Read `dir`/case.txt and its tensors; throws std::runtime_error naming file and field. */
Case read_case(const std::string& dir);
/** Write a Case (inputs) to `dir`. */
void write_case(const std::string& dir, const Case& c);
/** Write Results to `dir`/result.txt and `dir`/<name>.bin. */
void write_results(const std::string& dir, const Results& results);

/** Seeded uniform floats in [lo, hi) with no exact zeros (mulberry32, as the TS tests). */
std::vector<float> random_floats(int64_t count, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

/** Shape formatted as "(1, 5, 64, 64, 64)". */
std::string format_shape(const std::vector<int64_t>& shape);

}  // namespace harness
