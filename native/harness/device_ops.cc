/*
 * Run a Case with the kernels through the vx_* C interface: upload the inputs, poison every
 * output (NaN for floats, 0xA5 bytes otherwise) so an element a kernel forgets shows up, run,
 * download. Works the same on a GPU and on the CPU emulator.
 */
#include <math.h>

#include <memory>
#include <stdexcept>

#include "ops.h"

namespace harness {

namespace {

void check(int status) {
  if (status != 0) throw std::runtime_error(vx_last_error());
}

/** A device allocation freed on scope exit. */
struct DeviceBuffer {
  void* ptr = nullptr;
  void* stream = nullptr;
  DeviceBuffer(size_t bytes, void* s) : stream(s) { check(vx_malloc(&ptr, bytes, s)); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { vx_free(ptr, stream); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr);
  }
};

struct Device {
  void* stream;
  std::vector<std::unique_ptr<DeviceBuffer>> buffers;

  DeviceBuffer& upload(const Tensor& t) {
    buffers.push_back(std::make_unique<DeviceBuffer>(t.bytes.size(), stream));
    check(vx_upload(buffers.back()->ptr, t.bytes.data(), t.bytes.size(), stream));
    return *buffers.back();
  }
  const void* upload_or_null(const Case& c, const std::string& name) {
    return c.has(name) ? upload(c.tensor(name)).ptr : nullptr;
  }
  DeviceBuffer& output(const Tensor& t) {
    buffers.push_back(std::make_unique<DeviceBuffer>(t.bytes.size(), stream));
    DeviceBuffer& b = *buffers.back();
    if (t.dtype == "float32")
      check(vx_fill_f32(b.as<float>(), NAN, t.count(), stream));
    else
      check(vx_fill_bytes(b.ptr, 0xA5, t.bytes.size(), stream));
    return b;
  }
  void download(Tensor& t, const DeviceBuffer& b) {
    check(vx_download(t.bytes.data(), b.ptr, t.bytes.size(), stream));
    check(vx_stream_synchronize(stream));
  }
};

Results conv3d(const Case& c, Device& dev) {
  vx_conv3d_params p = conv3d_params_of(c);
  Tensor out = make_tensor("float32", {p.n, p.cout, p.od, p.oh, p.ow});
  const float* x = dev.upload(c.tensor("x")).as<float>();
  const float* w = dev.upload(c.tensor("weight")).as<float>();
  const float* bias = static_cast<const float*>(dev.upload_or_null(c, "bias"));
  DeviceBuffer& o = dev.output(out);
  int algorithm = static_cast<int>(c.param("algorithm", 0, VX_CONV3D_AUTO));
  check(vx_conv3d(o.as<float>(), x, w, bias, &p, algorithm, dev.stream));
  dev.download(out, o);
  return {{"out", out}};
}

Results activation(const Case& c, Device& dev) {
  const Tensor& x = c.tensor("x");
  Tensor out = make_tensor("float32", x.shape);
  DeviceBuffer& in = dev.upload(x);
  DeviceBuffer& o = dev.output(out);
  int code = static_cast<int>(c.param("activation"));
  float alpha = static_cast<float>(c.param("alpha", 0, code == 2 ? 0.01 : 1.0));
  check(vx_activation(o.as<float>(), in.as<float>(), x.count(), code, alpha, dev.stream));
  dev.download(out, o);
  return {{"out", out}};
}

Results instance_norm(const Case& c, Device& dev) {
  const Tensor& x = c.tensor("x");
  Tensor out = make_tensor("float32", x.shape);
  DeviceBuffer& in = dev.upload(x);
  const float* scale = static_cast<const float*>(dev.upload_or_null(c, "scale"));
  const float* shift = static_cast<const float*>(dev.upload_or_null(c, "shift"));
  DeviceBuffer& o = dev.output(out);
  int code = static_cast<int>(c.param("activation"));
  float alpha = static_cast<float>(c.param("alpha", 0, code == 2 ? 0.01 : 1.0));
  check(vx_instance_norm(o.as<float>(), in.as<float>(), scale, shift,
                         static_cast<int>(x.shape.at(0)), static_cast<int>(x.shape.at(1)),
                         trailing_size(x.shape, 2), static_cast<float>(c.param("eps", 0, 1e-5)),
                         code, alpha, dev.stream));
  dev.download(out, o);
  return {{"out", out}};
}

Results channel_op(const Case& c, Device& dev) {
  const Tensor& x = c.tensor("x");
  int n = static_cast<int>(x.shape.at(0)), channels = static_cast<int>(x.shape.at(1));
  int64_t spatial = trailing_size(x.shape, 2);
  DeviceBuffer& in = dev.upload(x);
  if (c.op == "softmax") {
    Tensor out = make_tensor("float32", x.shape);
    DeviceBuffer& o = dev.output(out);
    check(vx_softmax(o.as<float>(), in.as<float>(), n, channels, spatial, dev.stream));
    dev.download(out, o);
    return {{"out", out}};
  }
  std::vector<int64_t> shape = x.shape;
  shape.erase(shape.begin() + 1);
  Tensor out = make_tensor("int32", shape);
  DeviceBuffer& o = dev.output(out);
  check(vx_argmax(o.as<int32_t>(), in.as<float>(), n, channels, spatial, dev.stream));
  dev.download(out, o);
  return {{"out", out}};
}

Results label_confusion(const Case& c, Device& dev) {
  const Tensor& pred = c.tensor("pred");
  int labels = static_cast<int>(c.param("num_labels"));
  std::vector<uint64_t> tp(labels), predicted(labels), reference(labels);
  vx_label_counts counts{tp.data(), predicted.data(), reference.data(), -1};
  bool has_ignore = c.params.count("ignore_label") > 0;
  check(vx_label_confusion(&counts, dev.upload(pred).ptr, dev.upload(c.tensor("ref")).ptr,
                           label_type_of(pred.dtype), pred.count(), labels, has_ignore,
                           static_cast<int>(c.param("ignore_label")), dev.stream));

  Results r = {{"tp", make_tensor("float64", {labels})},
               {"pred_count", make_tensor("float64", {labels})},
               {"ref_count", make_tensor("float64", {labels})},
               {"first_invalid", make_tensor("int64", {1})}};
  for (int l = 0; l < labels; ++l) {
    r["tp"].data<double>()[l] = static_cast<double>(tp[l]);
    r["pred_count"].data<double>()[l] = static_cast<double>(predicted[l]);
    r["ref_count"].data<double>()[l] = static_cast<double>(reference[l]);
  }
  r["first_invalid"].data<int64_t>()[0] = counts.first_invalid;
  return r;
}

Results soft_dice(const Case& c, Device& dev) {
  const Tensor& probs = c.tensor("probs");
  const Tensor& target = c.tensor("target");
  int channels = static_cast<int>(probs.shape.at(1));
  Results r = {{"intersection", make_tensor("float64", {channels})},
               {"pred_sum", make_tensor("float64", {channels})},
               {"target_sum", make_tensor("float64", {channels})}};
  check(vx_soft_dice(r["intersection"].data<double>(), r["pred_sum"].data<double>(),
                     r["target_sum"].data<double>(), dev.upload(probs).as<float>(),
                     dev.upload(target).ptr, label_type_of(target.dtype),
                     static_cast<int>(probs.shape.at(0)), channels, trailing_size(probs.shape, 2),
                     dev.stream));
  return r;
}

Results distance_transform(const Case& c, Device& dev) {
  const Tensor& mask = c.tensor("mask");
  if (mask.shape.size() != 4) throw std::runtime_error("distance_transform: expected (N, D, H, W)");
  Tensor out = make_tensor("float32", mask.shape);
  DeviceBuffer& in = dev.upload(mask);
  DeviceBuffer& o = dev.output(out);
  auto size = [&](size_t axis) { return static_cast<int>(mask.shape[axis]); };
  auto step = [&](size_t axis) { return static_cast<float>(c.param("spacing", axis, 1)); };
  check(vx_distance_transform(o.as<float>(), in.ptr, label_type_of(mask.dtype), size(0), size(1),
                              size(2), size(3), step(0), step(1), step(2), dev.stream));
  dev.download(out, o);
  return {{"out", out}};
}

/** One vx_copy_blocks call: x[outer][start..start+size) -> out[outer][offset..). */
void copy_range(const DeviceBuffer& out, const std::vector<int64_t>& out_shape,
                const DeviceBuffer& x, const Tensor& xt, int64_t offset, int64_t start,
                int64_t size, size_t axis, void* stream) {
  int64_t inner = trailing_size(xt.shape, axis + 1) * xt.element_bytes();
  int64_t outer = xt.count() / trailing_size(xt.shape, axis);
  check(vx_copy_blocks(out.as<char>() + offset * inner, x.as<const char>() + start * inner, outer,
                       size * inner, out_shape[axis] * inner, xt.shape[axis] * inner, stream));
}

Results slice_or_concat(const Case& c, Device& dev) {
  size_t axis = static_cast<size_t>(c.param("axis"));
  std::vector<std::string> inputs =
      c.op == "slice" ? std::vector<std::string>{"x"} : concat_inputs(c);
  std::vector<int64_t> shape = c.tensor(inputs[0]).shape;
  if (axis >= shape.size())
    throw std::runtime_error(c.op + ": axis outside " + format_shape(shape));
  shape[axis] = c.op == "slice" ? static_cast<int64_t>(c.param("size")) : 0;
  for (size_t i = 0; c.op == "concat" && i < inputs.size(); ++i) {
    shape[axis] += c.tensor(inputs[i]).shape.at(axis);
  }
  Tensor out = make_tensor(c.tensor(inputs[0]).dtype, shape);
  DeviceBuffer& o = dev.output(out);
  if (c.op == "slice") {
    const Tensor& x = c.tensor("x");
    int64_t start = static_cast<int64_t>(c.param("start"));
    if (start < 0 || shape[axis] < 0 || start + shape[axis] > x.shape[axis]) {
      throw std::runtime_error("slice: range outside " + format_shape(x.shape));
    }
    copy_range(o, out.shape, dev.upload(x), x, 0, start, shape[axis], axis, dev.stream);
  } else {
    int64_t offset = 0;
    for (const std::string& name : inputs) {
      const Tensor& x = c.tensor(name);
      copy_range(o, out.shape, dev.upload(x), x, offset, 0, x.shape[axis], axis, dev.stream);
      offset += x.shape[axis];
    }
  }
  dev.download(out, o);
  return {{"out", out}};
}

}  // namespace

Results run_kernels(const Case& c, void* stream) {
  Device dev{stream, {}};
  if (c.op == "conv3d") return conv3d(c, dev);
  if (c.op == "activation") return activation(c, dev);
  if (c.op == "instance_norm") return instance_norm(c, dev);
  if (c.op == "softmax" || c.op == "argmax") return channel_op(c, dev);
  if (c.op == "label_confusion") return label_confusion(c, dev);
  if (c.op == "soft_dice") return soft_dice(c, dev);
  if (c.op == "distance_transform") return distance_transform(c, dev);
  if (c.op == "slice" || c.op == "concat") return slice_or_concat(c, dev);
  throw std::runtime_error("expected a known op for case.txt op, received '" + c.op + "'");
}

}  // namespace harness
