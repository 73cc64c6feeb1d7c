/*
 * conv3d_implicit_gemm: 3D convolution as a GEMM on tensor cores, for wide channel counts (the
 * 32..320-channel U-Net layers), with stride, zero padding, dilation, groups, bias and a fused
 * activation. Operands are rounded to TF32 (10-bit mantissa) and accumulated in FP32 with
 * wmma m16n16k8, so results differ from FP32 by about 1e-3 relative.
 *
 * Per group: out[m][n] = sum_k A[m][k] * B[k][n] with m = (batch, oz, oy, ox) an output voxel,
 * n an output channel and k = (input channel, kz, ky, kx); A is gathered from x on the fly
 * (the "implicit" im2col, zero outside the volume) and B[k][n] = weight[n][k].
 *
 * Kernel variants (4 warps each, every warp computes a 32 x 32 piece of the tile):
 * - conv3d_implicit_gemm_kernel<64, 64>: 64 voxels x 64 channels per block, for Cout/groups > 32.
 * - conv3d_implicit_gemm_kernel<128, 32>: 128 voxels x 32 channels, for Cout/groups <= 32, so
 *   narrow layers do not leave half the tile empty.
 *
 * Each step stages a BK = 32 slice of A and B in shared memory; the output tile goes through
 * shared memory too so the stores, with bias and activation, are coalesced along voxels.
 * A faster version would pipeline the staging (cp.async, several stages), use larger tiles and
 * mma.sync fragments in registers, as CUTLASS does.
 */
#include "conv3d.cuh"

namespace {

namespace wmma = nvcuda::wmma;

constexpr int BK = 32;
constexpr int THREADS = 128;
constexpr int OUTSIDE = 1 << 29;  // a coordinate offset that fails every bounds check

/** Where output voxel m reads its input: batch-and-group plane offset and first coordinate. */
struct RowInfo {
  int64_t base;  // offset of x[batch][group * Cin/groups] in elements
  int z, y, x;   // input coordinate of tap (0, 0, 0); OUTSIDE for rows past M
};

/** What column k adds to a row's coordinate: input channel within the group and tap offset. */
struct ColumnInfo {
  int channel;     // input channel within the group
  int dz, dy, dx;  // tap offset times dilation; OUTSIDE for columns past K
};

template <int BM, int BN>
__global__ void __launch_bounds__(THREADS)
    conv3d_implicit_gemm_kernel(float* __restrict__ out,           // (N, Cout, OD, OH, OW)
                                const float* __restrict__ x,       // (N, Cin, D, H, W)
                                const float* __restrict__ weight,  // (Cout, Cin/groups, KD, KH, KW)
                                const float* __restrict__ bias,    // (Cout) or null
                                vx_conv3d_params p) {
  constexpr int LDA = BM + 4;  // A tile, column-major: (k, m) at k * LDA + m
  constexpr int LDB = BK + 4;  // B tile, column-major: (k, n) at n * LDB + k
  constexpr int WARPS_M = BM / 32;
  __shared__ __align__(32) float a_tile[BK * LDA];
  __shared__ __align__(32) float b_tile[BN * LDB];
  __shared__ __align__(32) float c_tile[BN * LDA];  // column-major: (m, n) at n * LDA + m
  __shared__ RowInfo rows[BM];
  __shared__ ColumnInfo columns[BK];

  const int taps = p.kd * p.kh * p.kw;
  const int cin_group = p.cin / p.groups;
  const int cout_group = p.cout / p.groups;
  const int K = cin_group * taps;
  const int64_t out_plane = static_cast<int64_t>(p.od) * p.oh * p.ow;
  const int64_t in_plane = static_cast<int64_t>(p.d) * p.h * p.w;
  const int64_t M = p.n * out_plane;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int n0 = blockIdx.y * BN;
  const int group = blockIdx.z;

  // Where each of the block's output voxels reads its input.
  for (int r = threadIdx.x; r < BM; r += THREADS) {
    int64_t m = m0 + r;
    int64_t voxel = m % out_plane;
    int oz = static_cast<int>(voxel / (p.oh * p.ow));
    int oy = static_cast<int>(voxel / p.ow % p.oh);
    int ox = static_cast<int>(voxel % p.ow);
    rows[r].base = (m / out_plane * p.cin + group * cin_group) * in_plane;
    rows[r].z = m < M ? oz * p.stride[0] - p.padding[0] : OUTSIDE;
    rows[r].y = oy * p.stride[1] - p.padding[1];
    rows[r].x = ox * p.stride[2] - p.padding[2];
  }

  const int warp = threadIdx.x / 32;
  const int warp_m = warp % WARPS_M * 32;
  const int warp_n = warp / WARPS_M * 32;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  for (int k0 = 0; k0 < K; k0 += BK) {
    // Decode this step's columns into channel and tap offsets.
    for (int c = threadIdx.x; c < BK; c += THREADS) {
      int k = k0 + c;
      int tap = k % taps;
      columns[c].channel = k / taps;
      columns[c].dz = k < K ? tap / (p.kh * p.kw) * p.dilation[0] : OUTSIDE;
      columns[c].dy = tap / p.kw % p.kh * p.dilation[1];
      columns[c].dx = tap % p.kw * p.dilation[2];
    }
    __syncthreads();

    // Gather A (consecutive threads take consecutive voxels) and copy B.
    for (int e = threadIdx.x; e < BM * BK; e += THREADS) {
      const RowInfo& r = rows[e % BM];
      const ColumnInfo& c = columns[e / BM];
      int iz = r.z + c.dz, iy = r.y + c.dy, ix = r.x + c.dx;
      bool inside = iz >= 0 && iz < p.d && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
      a_tile[e / BM * LDA + e % BM] =
          inside
              ? x[r.base + c.channel * in_plane + (static_cast<int64_t>(iz) * p.h + iy) * p.w + ix]
              : 0.0f;
    }
    for (int e = threadIdx.x; e < BN * BK; e += THREADS) {
      int n = n0 + e / BK;
      int k = k0 + e % BK;
      int64_t row = static_cast<int64_t>(group) * cout_group + n;
      b_tile[e / BK * LDB + e % BK] = n < cout_group && k < K ? weight[row * K + k] : 0.0f;
    }
    __syncthreads();

    // Tensor-core steps of 8 along k.
#pragma unroll
    for (int ks = 0; ks < BK; ks += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        wmma::load_matrix_sync(a[i], a_tile + ks * LDA + warp_m + i * 16, LDA);
        wmma::load_matrix_sync(b[i], b_tile + (warp_n + i * 16) * LDB + ks, LDB);
#pragma unroll
        for (int t = 0; t < a[i].num_elements; ++t) a[i].x[t] = wmma::__float_to_tf32(a[i].x[t]);
#pragma unroll
        for (int t = 0; t < b[i].num_elements; ++t) b[i].x[t] = wmma::__float_to_tf32(b[i].x[t]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

  // Through shared memory to coalesced stores with bias and activation.
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(c_tile + (warp_n + j * 16) * LDA + warp_m + i * 16, acc[i][j], LDA,
                              wmma::mem_col_major);
  __syncthreads();
  for (int e = threadIdx.x; e < BM * BN; e += THREADS) {
    int64_t m = m0 + e % BM;
    int n = n0 + e / BM;
    if (m >= M || n >= cout_group) continue;
    int oc = group * cout_group + n;
    float value = c_tile[e / BM * LDA + e % BM] + (bias ? bias[oc] : 0.0f);
    out[(m / out_plane * p.cout + oc) * out_plane + m % out_plane] =
        vx::activate(value, p.activation, p.alpha);
  }
}

template <int BM, int BN>
int launch_gemm(float* out, const float* x, const float* weight, const float* bias,
                const vx_conv3d_params& p, cudaStream_t stream) {
  int64_t M = static_cast<int64_t>(p.n) * p.od * p.oh * p.ow;
  int cout_group = p.cout / p.groups;
  dim3 grid(static_cast<unsigned>((M + BM - 1) / BM), (cout_group + BN - 1) / BN, p.groups);
  auto kernel = conv3d_implicit_gemm_kernel<BM, BN>;
  VX_LAUNCH(kernel, grid, THREADS, 0, stream, out, x, weight, bias, p);
  VX_CHECK_LAUNCH("conv3d_implicit_gemm_kernel");
  return 0;
}

}  // namespace

namespace vx {

int conv3d_implicit_gemm(float* out, const float* x, const float* weight, const float* bias,
                         const vx_conv3d_params& p, cudaStream_t stream) {
  int64_t M = static_cast<int64_t>(p.n) * p.od * p.oh * p.ow;
  VX_REQUIRE((M + 63) / 64 < (int64_t{1} << 31), "conv3d_implicit_gemm: too many output voxels");
  VX_REQUIRE((p.cout / p.groups + 31) / 32 <= 65535 && p.groups <= 65535,
             "conv3d_implicit_gemm: too many output channels or groups for the grid");
  if (p.cout / p.groups <= 32) return launch_gemm<128, 32>(out, x, weight, bias, p, stream);
  return launch_gemm<64, 64>(out, x, weight, bias, p, stream);
}

}  // namespace vx
