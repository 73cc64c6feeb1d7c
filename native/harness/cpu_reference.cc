/*
 * The CPU reference of every op: plain loops in double precision, written to be read. This is
 * the oracle the kernels are judged by; test/cuda-harness.test.ts checks it against the
 * TypeScript reference backend.
 */
#include <math.h>

#include <stdexcept>

#include "ops.h"

namespace harness {

namespace {

double erf_as(double x) {
  double a = fabs(x);
  double t = 1.0 / (1.0 + 0.3275911 * a);
  double poly = t * (0.254829592 +
                     t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  double magnitude = 1.0 - poly * exp(-a * a);
  return x < 0 ? -magnitude : magnitude;
}

/** ts/engine/activations.ts activate(), by ACTIVATION_CODES number. */
double activate(double x, int code, double alpha) {
  switch (code) {
    case 0:
      return x;
    case 1:
      return x > 0 ? x : 0;
    case 2:
      return x > 0 ? x : alpha * x;
    case 3:
      return x > 0 ? x : alpha * (exp(x) - 1);
    case 4:
      return 0.5 * x * (1 + erf_as(x * M_SQRT1_2));
    case 5:
      return 1 / (1 + exp(-x));
  }
  throw std::runtime_error("expected an activation code 0..5, received " + std::to_string(code));
}

float input_at(const float* x, const vx_conv3d_params& p, int64_t plane, int z, int y, int w) {
  if (z < 0 || z >= p.d || y < 0 || y >= p.h || w < 0 || w >= p.w) return 0.0f;
  return x[(plane * p.d + z) * p.h * p.w + static_cast<int64_t>(y) * p.w + w];
}

/** One output voxel of one output channel, before bias and activation. */
double conv3d_voxel(const float* x, const float* weight, const vx_conv3d_params& p, int b, int oc,
                    int oz, int oy, int ox) {
  const int cin_group = p.cin / p.groups;
  const int group = oc / (p.cout / p.groups);
  double sum = 0;
  for (int icg = 0; icg < cin_group; ++icg) {
    int64_t plane = static_cast<int64_t>(b) * p.cin + group * cin_group + icg;
    const float* w = weight + (static_cast<int64_t>(oc) * cin_group + icg) * p.kd * p.kh * p.kw;
    for (int kz = 0; kz < p.kd; ++kz)
      for (int ky = 0; ky < p.kh; ++ky)
        for (int kx = 0; kx < p.kw; ++kx) {
          int z = oz * p.stride[0] - p.padding[0] + kz * p.dilation[0];
          int y = oy * p.stride[1] - p.padding[1] + ky * p.dilation[1];
          int xx = ox * p.stride[2] - p.padding[2] + kx * p.dilation[2];
          sum += static_cast<double>(*w++) * input_at(x, p, plane, z, y, xx);
        }
  }
  return sum;
}

Results conv3d(const Case& c) {
  vx_conv3d_params p = conv3d_params_of(c);
  const float* x = c.tensor("x").data<float>();
  const float* weight = c.tensor("weight").data<float>();
  const float* bias = c.has("bias") ? c.tensor("bias").data<float>() : nullptr;
  Tensor out = make_tensor("float32", {p.n, p.cout, p.od, p.oh, p.ow});
  float* o = out.data<float>();

  for (int b = 0; b < p.n; ++b)
    for (int oc = 0; oc < p.cout; ++oc)
      for (int oz = 0; oz < p.od; ++oz)
        for (int oy = 0; oy < p.oh; ++oy)
          for (int ox = 0; ox < p.ow; ++ox) {
            double sum = conv3d_voxel(x, weight, p, b, oc, oz, oy, ox) + (bias ? bias[oc] : 0.0);
            *o++ = static_cast<float>(activate(sum, p.activation, p.alpha));
          }
  return {{"out", out}};
}

Results activation(const Case& c) {
  const Tensor& x = c.tensor("x");
  Tensor out = make_tensor("float32", x.shape);
  int code = static_cast<int>(c.param("activation"));
  double alpha = c.param("alpha", 0, code == 2 ? 0.01 : 1.0);
  for (int64_t i = 0; i < x.count(); ++i) {
    out.data<float>()[i] = static_cast<float>(activate(x.data<float>()[i], code, alpha));
  }
  return {{"out", out}};
}

Results instance_norm(const Case& c) {
  const Tensor& x = c.tensor("x");
  const int channels = static_cast<int>(x.shape.at(1));
  const int64_t spatial = trailing_size(x.shape, 2);
  const int code = static_cast<int>(c.param("activation"));
  const double alpha = c.param("alpha", 0, code == 2 ? 0.01 : 1.0);
  Tensor out = make_tensor("float32", x.shape);

  for (int64_t plane = 0; plane < x.count() / spatial; ++plane) {
    const float* in = x.data<float>() + plane * spatial;
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < spatial; ++i) sum += in[i];
    double mean = sum / spatial;
    for (int64_t i = 0; i < spatial; ++i) squares += (in[i] - mean) * (in[i] - mean);
    double inv_std = 1 / sqrt(squares / spatial + c.param("eps", 0, 1e-5));

    int ch = static_cast<int>(plane % channels);
    double scale = c.has("scale") ? c.tensor("scale").data<float>()[ch] : 1.0;
    double shift = c.has("shift") ? c.tensor("shift").data<float>()[ch] : 0.0;
    for (int64_t i = 0; i < spatial; ++i) {
      double normed = (in[i] - mean) * inv_std * scale + shift;
      out.data<float>()[plane * spatial + i] = static_cast<float>(activate(normed, code, alpha));
    }
  }
  return {{"out", out}};
}

Results softmax(const Case& c) {
  const Tensor& x = c.tensor("x");
  const int64_t channels = x.shape.at(1), spatial = trailing_size(x.shape, 2);
  Tensor out = make_tensor("float32", x.shape);
  for (int64_t b = 0; b < x.shape[0]; ++b)
    for (int64_t s = 0; s < spatial; ++s) {
      const float* in = x.data<float>() + b * channels * spatial + s;
      float* o = out.data<float>() + b * channels * spatial + s;
      double max = -INFINITY, sum = 0;
      for (int64_t ch = 0; ch < channels; ++ch) max = fmax(max, in[ch * spatial]);
      for (int64_t ch = 0; ch < channels; ++ch) sum += exp(in[ch * spatial] - max);
      for (int64_t ch = 0; ch < channels; ++ch) {
        o[ch * spatial] = static_cast<float>(exp(in[ch * spatial] - max) / sum);
      }
    }
  return {{"out", out}};
}

Results argmax(const Case& c) {
  const Tensor& x = c.tensor("x");
  const int64_t channels = x.shape.at(1), spatial = trailing_size(x.shape, 2);
  std::vector<int64_t> shape = x.shape;
  shape.erase(shape.begin() + 1);
  Tensor out = make_tensor("int32", shape);
  for (int64_t b = 0; b < x.shape[0]; ++b)
    for (int64_t s = 0; s < spatial; ++s) {
      const float* in = x.data<float>() + b * channels * spatial + s;
      int32_t best = 0;
      for (int64_t ch = 1; ch < channels; ++ch) {
        if (in[ch * spatial] > in[best * spatial]) best = static_cast<int32_t>(ch);
      }
      out.data<int32_t>()[b * spatial + s] = best;
    }
  return {{"out", out}};
}

Results label_confusion(const Case& c) {
  const Tensor& pred = c.tensor("pred");
  const Tensor& ref = c.tensor("ref");
  const int64_t labels = static_cast<int64_t>(c.param("num_labels"));
  const bool has_ignore = c.params.count("ignore_label") > 0;
  const double ignore = c.param("ignore_label");
  Results r = {{"tp", make_tensor("float64", {labels})},
               {"pred_count", make_tensor("float64", {labels})},
               {"ref_count", make_tensor("float64", {labels})},
               {"first_invalid", make_tensor("int64", {1})}};
  r["first_invalid"].data<int64_t>()[0] = -1;

  for (int64_t i = 0; i < pred.count(); ++i) {
    double p = pred.at(i), t = ref.at(i);
    if (has_ignore && t == ignore) continue;
    if (p < 0 || p >= labels || t < 0 || t >= labels) {
      if (r["first_invalid"].data<int64_t>()[0] < 0) r["first_invalid"].data<int64_t>()[0] = i;
      continue;
    }
    r["pred_count"].data<double>()[static_cast<int64_t>(p)] += 1;
    r["ref_count"].data<double>()[static_cast<int64_t>(t)] += 1;
    if (p == t) r["tp"].data<double>()[static_cast<int64_t>(p)] += 1;
  }
  return r;
}

Results soft_dice(const Case& c) {
  const Tensor& probs = c.tensor("probs");
  const Tensor& target = c.tensor("target");
  const int64_t channels = probs.shape.at(1), spatial = trailing_size(probs.shape, 2);
  Results r = {{"intersection", make_tensor("float64", {channels})},
               {"pred_sum", make_tensor("float64", {channels})},
               {"target_sum", make_tensor("float64", {channels})}};
  for (int64_t b = 0; b < probs.shape[0]; ++b)
    for (int64_t ch = 0; ch < channels; ++ch)
      for (int64_t s = 0; s < spatial; ++s) {
        double p = probs.data<float>()[(b * channels + ch) * spatial + s];
        bool hit = target.at(b * spatial + s) == ch;
        r["intersection"].data<double>()[ch] += hit ? p : 0;
        r["pred_sum"].data<double>()[ch] += p;
        r["target_sum"].data<double>()[ch] += hit ? 1 : 0;
      }
  return r;
}

/**
 * Squared distance (mm^2) from every voxel to the nearest non-zero voxel of its batch item, by
 * trying every such voxel (brute force: the oracle for the separable kernels); INFINITY when
 * the item has none. mask: (N, D, H, W) labels; spacing: (D, H, W) mm -> out float32.
 */
Results distance_transform(const Case& c) {
  const Tensor& mask = c.tensor("mask");
  if (mask.shape.size() != 4) throw std::runtime_error("distance_transform: expected (N, D, H, W)");
  const int64_t d = mask.shape[1], h = mask.shape[2], w = mask.shape[3], item = d * h * w;
  const double spacing[3] = {c.param("spacing", 0, 1), c.param("spacing", 1, 1),
                             c.param("spacing", 2, 1)};
  Tensor out = make_tensor("float32", mask.shape);

  for (int64_t b = 0; b < mask.shape[0]; ++b) {
    std::vector<int64_t> sites;
    for (int64_t i = 0; i < item; ++i)
      if (mask.at(b * item + i) != 0) sites.push_back(i);
    for (int64_t i = 0; i < item; ++i) {
      double best = INFINITY;
      for (int64_t s : sites) {
        double dz = (i / (h * w) - s / (h * w)) * spacing[0];
        double dy = (i / w % h - s / w % h) * spacing[1];
        double dx = (i % w - s % w) * spacing[2];
        best = fmin(best, dz * dz + dy * dy + dx * dx);
      }
      out.data<float>()[b * item + i] = static_cast<float>(best);
    }
  }
  return {{"out", out}};
}

/** Copy x[outer][start + i][inner] for i < size into out[outer][offset + i][inner], bytewise. */
void copy_along_axis(Tensor& out, int64_t offset, const Tensor& x, int64_t start, int64_t size,
                     size_t axis) {
  const int64_t inner = trailing_size(x.shape, axis + 1) * x.element_bytes();
  const int64_t outer = x.count() / trailing_size(x.shape, axis);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < size; ++i)
      for (int64_t byte = 0; byte < inner; ++byte) {
        out.bytes[((o * out.shape[axis] + offset + i) * inner) + byte] =
            x.bytes[((o * x.shape[axis] + start + i) * inner) + byte];
      }
}

Results slice(const Case& c) {
  const Tensor& x = c.tensor("x");
  size_t axis = static_cast<size_t>(c.param("axis"));
  int64_t start = static_cast<int64_t>(c.param("start"));
  int64_t size = static_cast<int64_t>(c.param("size"));
  if (axis >= x.shape.size() || start < 0 || size < 0 || start + size > x.shape[axis]) {
    throw std::runtime_error("slice: range outside " + format_shape(x.shape));
  }
  std::vector<int64_t> shape = x.shape;
  shape[axis] = size;
  Tensor out = make_tensor(x.dtype, shape);
  copy_along_axis(out, 0, x, start, size, axis);
  return {{"out", out}};
}

Results concat(const Case& c) {
  size_t axis = static_cast<size_t>(c.param("axis"));
  std::vector<std::string> names = concat_inputs(c);
  std::vector<int64_t> shape = c.tensor(names[0]).shape;
  shape.at(axis) = 0;
  for (const std::string& name : names) shape[axis] += c.tensor(name).shape.at(axis);
  Tensor out = make_tensor(c.tensor(names[0]).dtype, shape);
  int64_t offset = 0;
  for (const std::string& name : names) {
    const Tensor& x = c.tensor(name);
    copy_along_axis(out, offset, x, 0, x.shape[axis], axis);
    offset += x.shape[axis];
  }
  return {{"out", out}};
}

}  // namespace

Results run_reference(const Case& c) {
  if (c.op == "conv3d") return conv3d(c);
  if (c.op == "activation") return activation(c);
  if (c.op == "instance_norm") return instance_norm(c);
  if (c.op == "softmax") return softmax(c);
  if (c.op == "argmax") return argmax(c);
  if (c.op == "label_confusion") return label_confusion(c);
  if (c.op == "soft_dice") return soft_dice(c);
  if (c.op == "distance_transform") return distance_transform(c);
  if (c.op == "slice") return slice(c);
  if (c.op == "concat") return concat(c);
  throw std::runtime_error("expected a known op for case.txt op, received '" + c.op + "'");
}

}  // namespace harness
