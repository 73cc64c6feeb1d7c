/* Helpers both runners share: conv3d sizes from a Case, sizes, label types, concat inputs. */
#include <stdexcept>

#include "ops.h"

namespace harness {

int64_t trailing_size(const std::vector<int64_t>& shape, size_t axis) {
  int64_t size = 1;
  for (size_t i = axis; i < shape.size(); ++i) size *= shape[i];
  return size;
}

int label_type_of(const std::string& dtype) {
  if (dtype == "uint8") return VX_LABEL_U8;
  if (dtype == "uint16") return VX_LABEL_U16;
  if (dtype == "int32") return VX_LABEL_I32;
  throw std::runtime_error("expected uint8, uint16 or int32 labels, received " + dtype);
}

std::vector<std::string> concat_inputs(const Case& c) {
  std::vector<std::string> names;
  while (c.has("x" + std::to_string(names.size())))
    names.push_back("x" + std::to_string(names.size()));
  if (names.empty()) throw std::runtime_error("concat: expected tensors x0, x1, ...");
  return names;
}

namespace {

int extent(int size, int kernel, int stride, int padding, int dilation) {
  return (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
}

}  // namespace

vx_conv3d_params conv3d_params_of(const Case& c) {
  const Tensor& x = c.tensor("x");
  const Tensor& w = c.tensor("weight");
  if (x.shape.size() != 5 || w.shape.size() != 5) {
    throw std::runtime_error("conv3d: expected rank-5 x and weight, received " +
                             format_shape(x.shape) + " and " + format_shape(w.shape));
  }
  vx_conv3d_params p{};
  p.n = static_cast<int>(x.shape[0]), p.cin = static_cast<int>(x.shape[1]);
  p.d = static_cast<int>(x.shape[2]), p.h = static_cast<int>(x.shape[3]);
  p.w = static_cast<int>(x.shape[4]);
  p.cout = static_cast<int>(w.shape[0]), p.kd = static_cast<int>(w.shape[2]);
  p.kh = static_cast<int>(w.shape[3]), p.kw = static_cast<int>(w.shape[4]);
  for (int a = 0; a < 3; ++a) {
    p.stride[a] = static_cast<int>(c.param("stride", a, 1));
    p.padding[a] = static_cast<int>(c.param("padding", a, 0));
    p.dilation[a] = static_cast<int>(c.param("dilation", a, 1));
  }
  p.groups = static_cast<int>(c.param("groups", 0, 1));
  p.activation = static_cast<int>(c.param("activation", 0, 0));
  p.alpha = static_cast<float>(c.param("alpha", 0, p.activation == 2 ? 0.01 : 1.0));

  p.od = extent(p.d, p.kd, p.stride[0], p.padding[0], p.dilation[0]);
  p.oh = extent(p.h, p.kh, p.stride[1], p.padding[1], p.dilation[1]);
  p.ow = extent(p.w, p.kw, p.stride[2], p.padding[2], p.dilation[2]);
  if (p.groups < 1 || p.cin % p.groups || p.cout % p.groups || w.shape[1] * p.groups != p.cin ||
      p.od < 1 || p.oh < 1 || p.ow < 1) {
    throw std::runtime_error("conv3d: x " + format_shape(x.shape) + " and weight " +
                             format_shape(w.shape) + " do not fit with these parameters");
  }
  return p;
}

}  // namespace harness
