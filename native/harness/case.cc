/* Case and Results: construction, the directory format, seeded random data. */
#include "case.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace harness {

int dtype_bytes(const std::string& dtype) {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "float64" || dtype == "int64") return 8;
  if (dtype == "uint16") return 2;
  if (dtype == "uint8") return 1;
  return 0;
}

int64_t Tensor::count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int Tensor::element_bytes() const {
  return dtype_bytes(dtype);
}

double Tensor::at(int64_t i) const {
  if (dtype == "float32") return data<float>()[i];
  if (dtype == "float64") return data<double>()[i];
  if (dtype == "int32") return data<int32_t>()[i];
  if (dtype == "int64") return static_cast<double>(data<int64_t>()[i]);
  if (dtype == "uint16") return data<uint16_t>()[i];
  return data<uint8_t>()[i];
}

Tensor make_tensor(const std::string& dtype, const std::vector<int64_t>& shape, uint8_t fill) {
  Tensor t;
  t.dtype = dtype;
  t.shape = shape;
  t.bytes.assign(static_cast<size_t>(t.count() * dtype_bytes(dtype)), fill);
  return t;
}

double Case::param(const std::string& name, size_t index, double fallback) const {
  auto found = params.find(name);
  if (found == params.end() || index >= found->second.size()) return fallback;
  return found->second[index];
}

const Tensor& Case::tensor(const std::string& name) const {
  auto found = tensors.find(name);
  if (found == tensors.end()) {
    throw std::runtime_error("case '" + op + "': expected a tensor named '" + name + "'");
  }
  return found->second;
}

namespace {

void read_tensor_data(const std::string& dir, const std::string& name, Tensor& t) {
  std::string path = dir + "/" + name + ".bin";
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error(path + ": cannot open");
  file.read(reinterpret_cast<char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  if (file.gcount() != static_cast<std::streamsize>(t.bytes.size())) {
    throw std::runtime_error(path + ": expected " + std::to_string(t.bytes.size()) + " bytes for " +
                             t.dtype + " " + format_shape(t.shape) + ", received " +
                             std::to_string(file.gcount()));
  }
}

void parse_tensor_line(std::istringstream& line, const std::string& where, const std::string& dir,
                       Case& c) {
  std::string name, dtype;
  line >> name >> dtype;
  if (dtype_bytes(dtype) == 0) {
    throw std::runtime_error(where +
                             ": expected a dtype (float32, float64, int32, int64, uint8, "
                             "uint16) for tensor " +
                             name + ", received '" + dtype + "'");
  }
  std::vector<int64_t> shape;
  for (int64_t dim; line >> dim;) {
    if (dim < 0) throw std::runtime_error(where + ": negative dimension for tensor " + name);
    shape.push_back(dim);
  }
  Tensor t = make_tensor(dtype, shape);
  read_tensor_data(dir, name, t);
  c.tensors[name] = std::move(t);
}

void write_tensors(const std::string& dir, std::ostream& index,
                   const std::map<std::string, Tensor>& tensors) {
  for (const auto& [name, t] : tensors) {
    index << "tensor " << name << " " << t.dtype;
    for (int64_t dim : t.shape) index << " " << dim;
    index << "\n";
    std::ofstream file(dir + "/" + name + ".bin", std::ios::binary);
    file.write(reinterpret_cast<const char*>(t.bytes.data()),
               static_cast<std::streamsize>(t.bytes.size()));
    if (!file) throw std::runtime_error(dir + "/" + name + ".bin: cannot write");
  }
}

}  // namespace

Case read_case(const std::string& dir) {
  std::string path = dir + "/case.txt";
  std::ifstream file(path);
  if (!file) throw std::runtime_error(path + ": cannot open");
  Case c;
  std::string text;
  for (int number = 1; std::getline(file, text); ++number) {
    std::istringstream line(text);
    std::string kind;
    if (!(line >> kind)) continue;
    std::string where = path + ":" + std::to_string(number);
    if (kind == "op") {
      line >> c.op;
    } else if (kind == "param") {
      std::string name;
      line >> name;
      for (double v; line >> v;) c.params[name].push_back(v);
    } else if (kind == "tensor") {
      parse_tensor_line(line, where, dir, c);
    } else {
      throw std::runtime_error(where + ": expected op, param or tensor, received '" + kind + "'");
    }
  }
  if (c.op.empty()) throw std::runtime_error(path + ": expected an 'op' line");
  return c;
}

void write_case(const std::string& dir, const Case& c) {
  std::ofstream index(dir + "/case.txt");
  index.precision(17);
  index << "op " << c.op << "\n";
  for (const auto& [name, values] : c.params) {
    index << "param " << name;
    for (double v : values) index << " " << v;
    index << "\n";
  }
  write_tensors(dir, index, c.tensors);
}

void write_results(const std::string& dir, const Results& results) {
  std::ofstream index(dir + "/result.txt");
  write_tensors(dir, index, results);
  if (!index) throw std::runtime_error(dir + "/result.txt: cannot write");
}

std::vector<float> random_floats(int64_t count, uint32_t seed, float lo, float hi) {
  std::vector<float> out(static_cast<size_t>(count));
  uint32_t state = seed;
  for (float& value : out) {
    state += 0x6d2b79f5u;
    uint32_t t = state;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    double unit = static_cast<double>(t ^ (t >> 14)) / 4294967296.0;
    value = static_cast<float>(lo + (hi - lo) * unit);
    if (value == 0.0f) value = 1e-3f;
  }
  return out;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + ")";
}

}  // namespace harness
