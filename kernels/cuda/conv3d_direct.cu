/*
 * conv3d_direct: FP32 direct 3D convolution for thin channel counts (the 5-30 channel MeshNet
 * layers), with stride, zero padding, dilation, groups, bias and a fused activation.
 *
 * Kernel variants:
 * - conv3d_direct_kernel<CPT>, CPT = 1..8: each thread accumulates CPT output channels for
 *   VPT = 4 voxels along W; the host picks the smallest CPT that splits Cout / groups into
 *   equal channel blocks, so 5, 11, 15, 21, 30 channels waste at most one channel per block.
 *
 * A block computes a tile of TILE_D x TILE_H x TILE_W output voxels for CPT channels. For each
 * input channel it stages the tile's input samples (halo included) and the CPT x taps weights
 * in shared memory, then every thread reads its samples from there.
 *
 * Dilated layers: on D and H, when the stride is 1, a tile takes every dilation-th output
 * (one residue class of the dilation), so its input samples are also every dilation-th voxel
 * and the halo is K - 1 samples instead of (K - 1) * dilation voxels. W stays dense so global
 * loads and stores are coalesced; its halo is (K - 1) * dilation voxels.
 *
 * A faster version would keep several input channels in flight (double-buffered tiles with
 * cp.async) and register-block more voxels per thread.
 */
#include "conv3d.cuh"

namespace {

constexpr int TILE_D = 4;
constexpr int TILE_H = 4;
constexpr int THREADS_W = 8;
constexpr int VPT = 4;                                // voxels per thread along W
constexpr int TILE_W = THREADS_W * VPT;               // 32
constexpr int THREADS = TILE_D * TILE_H * THREADS_W;  // 128
constexpr int MAX_CPT = 8;

/** How output tiles map onto the input along one axis (D, H or W). */
struct AxisTiling {
  int step;             // spacing of a tile's outputs: the dilation on lattice axes, else 1
  int sample_step;      // spacing of the input samples held in shared memory
  int out_mul;          // tile position j -> sample index j * out_mul
  int tap_mul;          // kernel tap k -> sample index k * tap_mul
  int extent;           // samples along this axis in shared memory
  int tiles_per_class;  // tiles in one residue class
  int tiles;            // step * tiles_per_class
};

struct DirectGeometry {
  AxisTiling axis[3];  // D, H, W
  int channel_blocks;  // blocks of CPT output channels per group
  int cpt;             // output channels per thread
};

AxisTiling tile_axis(int out_size, int kernel, int stride, int dilation, int tile, bool lattice) {
  AxisTiling t;
  bool dense = !lattice || stride != 1;
  t.step = dense ? 1 : dilation;
  t.sample_step = t.step;
  t.out_mul = dense ? stride : 1;
  t.tap_mul = dense ? dilation : 1;
  t.extent = (tile - 1) * t.out_mul + (kernel - 1) * t.tap_mul + 1;
  int per_class = (out_size + t.step - 1) / t.step;
  t.tiles_per_class = (per_class + tile - 1) / tile;
  t.tiles = t.step * t.tiles_per_class;
  return t;
}

DirectGeometry direct_geometry(const vx_conv3d_params& p) {
  DirectGeometry g;
  g.axis[0] = tile_axis(p.od, p.kd, p.stride[0], p.dilation[0], TILE_D, true);
  g.axis[1] = tile_axis(p.oh, p.kh, p.stride[1], p.dilation[1], TILE_H, true);
  g.axis[2] = tile_axis(p.ow, p.kw, p.stride[2], p.dilation[2], TILE_W, false);
  int per_group = p.cout / p.groups;
  g.channel_blocks = (per_group + MAX_CPT - 1) / MAX_CPT;
  g.cpt = (per_group + g.channel_blocks - 1) / g.channel_blocks;
  return g;
}

/** First output coordinate of tile `index` along one axis, or out_size when it has none. */
__device__ __forceinline__ int tile_origin(const AxisTiling& t, int index, int tile) {
  int residue = index / t.tiles_per_class;
  int first = index % t.tiles_per_class * tile;
  return residue + t.step * first;
}

template <int CPT>
__global__ void __launch_bounds__(THREADS)
    conv3d_direct_kernel(float* __restrict__ out,           // (N, Cout, OD, OH, OW)
                         const float* __restrict__ x,       // (N, Cin, D, H, W)
                         const float* __restrict__ weight,  // (Cout, Cin / groups, KD, KH, KW)
                         const float* __restrict__ bias,    // (Cout) or null
                         vx_conv3d_params p, DirectGeometry g) {
  VX_DYNAMIC_SHARED(float, shared);
  const AxisTiling& td = g.axis[0];
  const AxisTiling& th = g.axis[1];
  const AxisTiling& tw = g.axis[2];
  const int taps = p.kd * p.kh * p.kw;
  const int plane = td.extent * th.extent * tw.extent;
  float* samples = shared;          // (extent D, extent H, extent W): one input channel
  float* weights = shared + plane;  // (CPT, taps)

  // Which tile, batch, group and channel block this block computes.
  const int oz0 = tile_origin(td, blockIdx.y, TILE_D);
  const int oy0 = tile_origin(th, blockIdx.x / tw.tiles, TILE_H);
  const int ox0 = tile_origin(tw, blockIdx.x % tw.tiles, TILE_W);
  if (oz0 >= p.od || oy0 >= p.oh || ox0 >= p.ow) return;  // empty residue class: whole block
  const int cin_group = p.cin / p.groups;
  const int cout_group = p.cout / p.groups;
  const int block_channel = blockIdx.z % g.channel_blocks;
  const int group = blockIdx.z / g.channel_blocks % p.groups;
  const int batch = blockIdx.z / (g.channel_blocks * p.groups);
  const int oc0 = group * cout_group + block_channel * CPT;
  const int channels = min(CPT, cout_group - block_channel * CPT);

  // This thread's voxels: lattice position (tz, ty, tx + i * THREADS_W), i < VPT.
  const int tz = threadIdx.x / (TILE_H * THREADS_W);
  const int ty = threadIdx.x / THREADS_W % TILE_H;
  const int tx = threadIdx.x % THREADS_W;
  const int z0 = oz0 * p.stride[0] - p.padding[0];
  const int y0 = oy0 * p.stride[1] - p.padding[1];
  const int x0 = ox0 * p.stride[2] - p.padding[2];
  const int64_t in_plane = static_cast<int64_t>(p.d) * p.h * p.w;

  float acc[CPT][VPT];
#pragma unroll
  for (int c = 0; c < CPT; ++c)
#pragma unroll
    for (int i = 0; i < VPT; ++i) acc[c][i] = 0.0f;

  for (int icg = 0; icg < cin_group; ++icg) {
    // Stage this input channel's samples (zero outside the volume) and its weights.
    const float* in =
        x + (static_cast<int64_t>(batch) * p.cin + group * cin_group + icg) * in_plane;
    for (int s = threadIdx.x; s < plane; s += THREADS) {
      int iz = z0 + td.sample_step * (s / (th.extent * tw.extent));
      int iy = y0 + th.sample_step * (s / tw.extent % th.extent);
      int ix = x0 + tw.sample_step * (s % tw.extent);
      bool inside = iz >= 0 && iz < p.d && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
      samples[s] = inside ? in[(static_cast<int64_t>(iz) * p.h + iy) * p.w + ix] : 0.0f;
    }
    for (int s = threadIdx.x; s < CPT * taps; s += THREADS) {
      int c = s / taps;
      int64_t row = static_cast<int64_t>(oc0 + c) * cin_group + icg;
      weights[s] = c < channels ? weight[row * taps + s % taps] : 0.0f;
    }
    __syncthreads();

    // Accumulate every tap: VPT samples times CPT weights.
    for (int kz = 0; kz < p.kd; ++kz) {
      for (int ky = 0; ky < p.kh; ++ky) {
        const float* row = samples + (tz * td.out_mul + kz * td.tap_mul) * th.extent * tw.extent +
                           (ty * th.out_mul + ky * th.tap_mul) * tw.extent;
        const float* tap_weights = weights + (kz * p.kh + ky) * p.kw;
        for (int kx = 0; kx < p.kw; ++kx) {
          float v[VPT];
#pragma unroll
          for (int i = 0; i < VPT; ++i)
            v[i] = row[(tx + i * THREADS_W) * tw.out_mul + kx * tw.tap_mul];
#pragma unroll
          for (int c = 0; c < CPT; ++c) {
            float wv = tap_weights[c * taps + kx];
#pragma unroll
            for (int i = 0; i < VPT; ++i) acc[c][i] = fmaf(wv, v[i], acc[c][i]);
          }
        }
      }
    }
    __syncthreads();
  }

  // Bias, activation and store, skipping voxels past the output's end.
  const int oz = oz0 + td.step * tz;
  const int oy = oy0 + th.step * ty;
  if (oz >= p.od || oy >= p.oh) return;
  const int64_t out_plane = static_cast<int64_t>(p.od) * p.oh * p.ow;
  for (int c = 0; c < channels; ++c) {
    int oc = oc0 + c;
    float* dst = out + (static_cast<int64_t>(batch) * p.cout + oc) * out_plane +
                 (static_cast<int64_t>(oz) * p.oh + oy) * p.ow;
    float b = bias ? bias[oc] : 0.0f;
#pragma unroll
    for (int i = 0; i < VPT; ++i) {
      int ox = ox0 + tx + i * THREADS_W;
      if (ox < p.ow) dst[ox] = vx::activate(acc[c][i] + b, p.activation, p.alpha);
    }
  }
}

template <int CPT>
int launch_direct(float* out, const float* x, const float* weight, const float* bias,
                  const vx_conv3d_params& p, const DirectGeometry& g, cudaStream_t stream) {
  size_t shared_bytes = vx::conv3d_direct_shared_bytes(p);
  if (shared_bytes > 48 * 1024) {
    VX_CHECK(cudaFuncSetAttribute(conv3d_direct_kernel<CPT>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(shared_bytes)));
  }
  dim3 grid(g.axis[2].tiles * g.axis[1].tiles, g.axis[0].tiles, p.n * p.groups * g.channel_blocks);
  VX_LAUNCH(conv3d_direct_kernel<CPT>, grid, THREADS, shared_bytes, stream, out, x, weight, bias, p,
            g);
  VX_CHECK_LAUNCH("conv3d_direct_kernel");
  return 0;
}

}  // namespace

namespace vx {

size_t conv3d_direct_shared_bytes(const vx_conv3d_params& p) {
  DirectGeometry g = direct_geometry(p);
  size_t plane = static_cast<size_t>(g.axis[0].extent) * g.axis[1].extent * g.axis[2].extent;
  return (plane + static_cast<size_t>(g.cpt) * p.kd * p.kh * p.kw) * sizeof(float);
}

int conv3d_direct(float* out, const float* x, const float* weight, const float* bias,
                  const vx_conv3d_params& p, cudaStream_t stream) {
  DirectGeometry g = direct_geometry(p);
  VX_REQUIRE(g.axis[0].tiles <= 65535, "conv3d_direct: output depth too large for the grid");
  VX_REQUIRE(p.n * p.groups * g.channel_blocks <= 65535,
             "conv3d_direct: batch x channel blocks too large for the grid");

  switch (g.cpt) {
    case 1:
      return launch_direct<1>(out, x, weight, bias, p, g, stream);
    case 2:
      return launch_direct<2>(out, x, weight, bias, p, g, stream);
    case 3:
      return launch_direct<3>(out, x, weight, bias, p, g, stream);
    case 4:
      return launch_direct<4>(out, x, weight, bias, p, g, stream);
    case 5:
      return launch_direct<5>(out, x, weight, bias, p, g, stream);
    case 6:
      return launch_direct<6>(out, x, weight, bias, p, g, stream);
    case 7:
      return launch_direct<7>(out, x, weight, bias, p, g, stream);
    default:
      return launch_direct<8>(out, x, weight, bias, p, g, stream);
  }
}

}  // namespace vx
