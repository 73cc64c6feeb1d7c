/*
 * conv3d entry point: checks the sizes, chooses a kernel and launches it.
 *
 * Kernel variants (in their own files):
 * - conv3d_direct (conv3d_direct.cu): FP32, shared-memory input tiles, for thin channels.
 * - conv3d_implicit_gemm (conv3d_implicit_gemm.cu): TF32 tensor cores, for wide channels.
 */
#include "conv3d.cuh"

namespace {

int output_extent(int size, int kernel, int stride, int padding, int dilation) {
  return (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
}

/** 0 when the sizes describe a valid convolution, else the failure with its message. */
int check_params(const vx_conv3d_params& p) {
  VX_REQUIRE(p.n > 0 && p.cin > 0 && p.d > 0 && p.h > 0 && p.w > 0,
             "conv3d: expected positive input sizes");
  VX_REQUIRE(p.cout > 0 && p.kd > 0 && p.kh > 0 && p.kw > 0,
             "conv3d: expected positive weight sizes");
  VX_REQUIRE(p.groups > 0 && p.cin % p.groups == 0 && p.cout % p.groups == 0,
             "conv3d: expected groups dividing Cin and Cout");
  for (int a = 0; a < 3; ++a) {
    VX_REQUIRE(p.stride[a] > 0 && p.dilation[a] > 0 && p.padding[a] >= 0,
               "conv3d: expected positive stride and dilation, non-negative padding");
  }
  VX_REQUIRE(p.od == output_extent(p.d, p.kd, p.stride[0], p.padding[0], p.dilation[0]) &&
                 p.oh == output_extent(p.h, p.kh, p.stride[1], p.padding[1], p.dilation[1]) &&
                 p.ow == output_extent(p.w, p.kw, p.stride[2], p.padding[2], p.dilation[2]),
             "conv3d: output size does not follow from input, kernel, stride, padding, dilation");
  VX_REQUIRE(p.od > 0 && p.oh > 0 && p.ow > 0, "conv3d: the kernel does not fit the input");
  VX_REQUIRE(p.activation >= 0 && p.activation <= 5, "conv3d: expected activation code 0..5");
  return 0;
}

}  // namespace

extern "C" int vx_conv3d_choose(const vx_conv3d_params* params, size_t shared_per_block_optin) {
  const vx_conv3d_params& p = *params;
  bool wide = p.cout / p.groups >= 32 && p.cin / p.groups >= 16;
  bool direct_fits = vx::conv3d_direct_shared_bytes(p) <= shared_per_block_optin;
  return wide || !direct_fits ? VX_CONV3D_IMPLICIT_GEMM : VX_CONV3D_DIRECT;
}

extern "C" int vx_conv3d(float* out, const float* x, const float* weight, const float* bias,
                         const vx_conv3d_params* params, int algorithm, void* stream) {
  int status = check_params(*params);
  if (status) return status;

  if (algorithm == VX_CONV3D_AUTO) {
    int device = 0;
    int optin = 0;
    VX_CHECK(cudaGetDevice(&device));
    VX_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    algorithm = vx_conv3d_choose(params, static_cast<size_t>(optin));
  }
  if (algorithm == VX_CONV3D_DIRECT) {
    return vx::conv3d_direct(out, x, weight, bias, *params, vx::as_stream(stream));
  }
  VX_REQUIRE(algorithm == VX_CONV3D_IMPLICIT_GEMM, "conv3d: expected algorithm 0, 1 or 2");
  return vx::conv3d_implicit_gemm(out, x, weight, bias, *params, vx::as_stream(stream));
}
