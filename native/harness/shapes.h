/*
 * The conv3d shapes the harness times (and the cuDNN comparison reads with --list-shapes):
 * every distinct brainchop MeshNet layer at 64^3 and 128^3, and the convolutions of a
 * 3D nnU-Net-style U-Net (32..320 channels, stride-2 downsampling) on a 128^3 patch.
 */
#pragma once

#include <string>
#include <vector>

namespace harness {

struct ConvShape {
  std::string suite;  // "brainchop" or "unet"
  std::string name;   // model and layer, e.g. "model5_gw_ae 5->5 d2"
  int cin, cout;
  int size;    // input D = H = W
  int kernel;  // K, cubic
  int stride, padding, dilation;
  int activation;  // ACTIVATION_CODES
  bool bias;

  /** Output extent along each axis. */
  int out_size() const;
  /** Multiply-adds times two for batch 1. */
  double flops() const;
};

/** Distinct brainchop layer shapes at 64^3 and 128^3, first model that uses each. */
std::vector<ConvShape> brainchop_shapes();

/** U-Net encoder and decoder convolutions on a 128^3 input patch. */
std::vector<ConvShape> unet_shapes();

/** Print one CSV line per shape (with a header) for other tools. */
void print_shapes(const std::vector<ConvShape>& shapes);

}  // namespace harness
