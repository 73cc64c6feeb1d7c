/*
 * The two conv3d kernels' host launchers, shared by conv3d.cu (validation and choice) and the
 * variant files. All take the same sizes (vx_conv3d_params) and pointers:
 * out: (N, Cout, OD, OH, OW); x: (N, Cin, D, H, W); weight: (Cout, Cin / groups, KD, KH, KW);
 * bias: (Cout) or null.
 */
#pragma once

#include "common.cuh"

namespace vx {

/** Dynamic shared memory conv3d_direct needs for these sizes, in bytes. */
size_t conv3d_direct_shared_bytes(const vx_conv3d_params& p);

/** FP32 direct convolution over shared-memory input tiles; see conv3d_direct.cu. */
int conv3d_direct(float* out, const float* x, const float* weight, const float* bias,
                  const vx_conv3d_params& p, cudaStream_t stream);

/** TF32 tensor-core implicit GEMM with FP32 accumulation; see conv3d_implicit_gemm.cu. */
int conv3d_implicit_gemm(float* out, const float* x, const float* weight, const float* bias,
                         const vx_conv3d_params& p, cudaStream_t stream);

}  // namespace vx
