/* The timed conv3d shapes: brainchop's MeshNet layers and a U-Net's. */
#include "shapes.h"

#include <stdio.h>

#include <set>
#include <tuple>

namespace harness {

int ConvShape::out_size() const {
  return (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
}

double ConvShape::flops() const {
  double voxels = static_cast<double>(out_size()) * out_size() * out_size();
  return 2.0 * voxels * cout * cin * kernel * kernel * kernel;
}

namespace {

/** A brainchop model as MANIFEST.md describes it. */
struct MeshNet {
  const char* name;
  int channels;
  std::vector<int> dilations;  // of the 3x3x3 convolutions, first one included
  int classes;
  int activation;  // 1 relu, 3 elu, 4 gelu
  bool bias;
};

const std::vector<MeshNet>& meshnets() {
  static const std::vector<int> standard = {1, 2, 4, 8, 16, 8, 4, 2, 1};
  static const std::vector<MeshNet> models = {
      {"model5_gw_ae", 5, standard, 3, 1, true},
      {"model11_gw_ae", 11, {1, 2, 4, 8, 4, 2, 2, 1}, 3, 1, true},
      {"mindgrab", 15, {16, 8, 4, 2, 1}, 2, 4, false},
      {"model20chan3cls", 20, standard, 3, 3, true},
      {"model18cls", 21, standard, 18, 3, true},
      {"model21_104class", 21, {1, 2, 2, 4, 4, 8, 8, 16}, 104, 1, true},
      {"model30chan18cls", 30, standard, 18, 3, true},
      {"model30chan50cls", 30, standard, 50, 3, true},
      {"model11_50class", 11, standard, 50, 1, true},
      {"model21_3class", 21, standard, 3, 1, true},
  };
  return models;
}

ConvShape layer(const MeshNet& m, int cin, int cout, int kernel, int dilation, int size) {
  std::string name = std::string(m.name) + " " + std::to_string(cin) + "->" + std::to_string(cout) +
                     (kernel == 1 ? " 1x1x1" : " d" + std::to_string(dilation));
  int activation = kernel == 1 ? 0 : m.activation;
  return {"brainchop", name,       cin,   cout, size, kernel, 1, dilation * (kernel / 2),
          dilation,    activation, m.bias};
}

}  // namespace

std::vector<ConvShape> brainchop_shapes() {
  std::vector<ConvShape> shapes;
  std::set<std::tuple<int, int, int, int, int>> seen;  // cin, cout, kernel, dilation, size
  auto add = [&](const ConvShape& s) {
    if (seen.insert({s.cin, s.cout, s.kernel, s.dilation, s.size}).second) shapes.push_back(s);
  };
  for (int size : {64, 128}) {
    for (const MeshNet& m : meshnets()) {
      add(layer(m, 1, m.channels, 3, m.dilations[0], size));
      for (size_t i = 1; i < m.dilations.size(); ++i) {
        add(layer(m, m.channels, m.channels, 3, m.dilations[i], size));
      }
      add(layer(m, m.channels, m.classes, 1, 1, size));
    }
  }
  return shapes;
}

std::vector<ConvShape> unet_shapes() {
  // (cin, cout, input size, stride): encoder stages 32..320 channels, then decoder convs
  // after the skip concatenation (2C -> C).
  const int stages[][4] = {
      {1, 32, 128, 1},   {32, 32, 128, 1},  {32, 64, 128, 2},  {64, 64, 64, 1},   {64, 128, 64, 2},
      {128, 128, 32, 1}, {128, 256, 32, 2}, {256, 256, 16, 1}, {256, 320, 16, 2}, {320, 320, 8, 1},
      {320, 320, 8, 2},  {320, 320, 4, 1},  {640, 320, 8, 1},  {512, 256, 16, 1}, {256, 128, 32, 1},
      {128, 64, 64, 1},  {64, 32, 128, 1},
  };
  std::vector<ConvShape> shapes;
  for (const auto& s : stages) {
    std::string name = "unet " + std::to_string(s[0]) + "->" + std::to_string(s[1]) + " at " +
                       std::to_string(s[2]) + "^3" + (s[3] == 2 ? " stride 2" : "");
    shapes.push_back({"unet", name, s[0], s[1], s[2], 3, s[3], 1, 1, 1, true});
  }
  return shapes;
}

void print_shapes(const std::vector<ConvShape>& shapes) {
  printf("suite,name,n,cin,cout,size,kernel,stride,padding,dilation,groups,activation,bias\n");
  for (const ConvShape& s : shapes) {
    printf("%s,%s,1,%d,%d,%d,%d,%d,%d,%d,1,%d,%d\n", s.suite.c_str(), s.name.c_str(), s.cin, s.cout,
           s.size, s.kernel, s.stride, s.padding, s.dilation, s.activation, s.bias ? 1 : 0);
  }
}

}  // namespace harness
