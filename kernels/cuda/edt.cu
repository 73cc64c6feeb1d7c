/*
 * edt: the exact squared Euclidean distance transform of (N, D, H, W) masks, in mm^2 with
 * anisotropic spacing, separable as in ts/backends/reference/edt.ts (float32 here).
 *
 * Kernel variants:
 * - edt_rows_kernel<Label>: pass 1, one W row per thread: a forward and a backward scan find
 *   the nearest feature (non-zero label) along the row; INFINITY when the row has none.
 * - edt_envelope_kernel: passes 2 (along H) and 3 (along D), one line per thread: the lower
 *   envelope of the parabolas (q - p)^2 step^2 + f(p). Line l runs along an axis of extent n
 *   whose elements lie `inner` apart (H: n = H, inner = W; D: n = D, inner = H * W), so
 *   adjacent threads take adjacent lines and their loads coalesce. Each line keeps its
 *   envelope's parabola indices in a global scratch at the line's own positions; the
 *   boundaries between parabolas are recomputed rather than stored. Infinite values never
 *   enter the arithmetic (tested with isinf), as in the WGSL version.
 * Neither kernel uses shared memory or barriers: lines are independent.
 *
 * Validated on the CPU emulator (native/harness/emulator) against the harness's brute-force
 * reference; not yet run on a GPU. A faster pass 1 would stage rows in shared memory so that
 * loads coalesce across threads; passes 2 and 3 already read adjacent lines side by side.
 */
#include "common.cuh"

namespace {

constexpr int THREADS = 128;

template <typename Label>
__global__ void __launch_bounds__(THREADS)
    edt_rows_kernel(float* __restrict__ out,         // (rows, W) mm^2
                    const Label* __restrict__ mask,  // (rows, W) labels, non-zero = feature
                    int64_t rows, int w, float step) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * THREADS;
  for (int64_t row = blockIdx.x * static_cast<int64_t>(THREADS) + threadIdx.x; row < rows;
       row += stride) {
    float* line = out + row * w;
    const Label* labels = mask + row * w;

    // Forward: steps back to the last feature at or before x (-1: none yet), as floats.
    int last = -1;
    for (int x = 0; x < w; ++x) {
      if (labels[x] != 0) last = x;
      line[x] = last < 0 ? -1.0f : static_cast<float>(x - last);
    }

    // Backward: the nearer of that and the next feature at or after x, squared in mm.
    int next = -1;
    for (int x = w - 1; x >= 0; --x) {
      if (labels[x] != 0) next = x;
      float steps = line[x];
      if (next >= 0 && (steps < 0.0f || static_cast<float>(next - x) < steps))
        steps = static_cast<float>(next - x);
      float mm = steps * step;
      line[x] = steps < 0.0f ? INFINITY : mm * mm;
    }
  }
}

/** One line of an envelope pass: `n` elements `inner` apart from `start`. */
struct Line {
  const float* src;
  float* dst;
  int32_t* sites;
  int64_t inner;
  int n;
  float step;

  __device__ float value(int q) const { return src[q * inner]; }
  __device__ int site(int k) const { return sites[k * inner]; }

  /** Where the parabolas of sites p < q (values fp, fq) meet, in voxels along the line. */
  __device__ float meet(int p, float fp, int q, float fq) const {
    return 0.5f * (static_cast<float>(p + q) + (fq - fp) / (step * step * (q - p)));
  }

  /** Boundary between envelope slots k - 1 and k (k >= 1). */
  __device__ float boundary(int k) const {
    int p = site(k - 1), q = site(k);
    return meet(p, value(p), q, value(q));
  }
};

/** Build the envelope of the line's finite values into its sites; returns the slot count. */
__device__ int build_envelope(const Line& line) {
  int count = 0;
  for (int q = 0; q < line.n; ++q) {
    float fq = line.value(q);
    if (isinf(fq)) continue;
    while (count > 1) {
      int top = line.site(count - 1);
      if (line.meet(top, line.value(top), q, fq) > line.boundary(count - 1)) break;
      --count;
    }
    line.sites[count * line.inner] = q;
    ++count;
  }
  return count;
}

__global__ void __launch_bounds__(THREADS)
    edt_envelope_kernel(float* __restrict__ dst,        // lines' values after the pass, mm^2
                        int32_t* __restrict__ sites,    // scratch, dst's layout
                        const float* __restrict__ src,  // lines' values before the pass, mm^2
                        int64_t lines, int n, int64_t inner, float step) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * THREADS;
  for (int64_t l = blockIdx.x * static_cast<int64_t>(THREADS) + threadIdx.x; l < lines;
       l += stride) {
    int64_t start = l / inner * inner * n + l % inner;
    Line line{src + start, dst + start, sites + start, inner, n, step};
    int count = build_envelope(line);

    // Each position takes the lowest parabola; slots advance monotonically along the line.
    int j = 0;
    for (int q = 0; q < n; ++q) {
      if (count == 0) {
        line.dst[q * inner] = INFINITY;
        continue;
      }
      while (j + 1 < count && line.boundary(j + 1) < static_cast<float>(q)) ++j;
      int p = line.site(j);
      float dx = static_cast<float>(q - p) * step;
      line.dst[q * inner] = dx * dx + line.value(p);
    }
  }
}

template <typename Label>
void launch_rows(float* out, const void* mask, int64_t rows, int w, float step, cudaStream_t s) {
  VX_LAUNCH(edt_rows_kernel<Label>, vx::grid_blocks(rows, THREADS), THREADS, 0, s, out,
            static_cast<const Label*>(mask), rows, w, step);
}

/** The three passes; `tmp` and `sites` hold count elements each. */
int run_passes(float* out, float* tmp, int32_t* sites, const void* mask, int label_type,
               const int64_t shape[4], const float spacing[3], cudaStream_t s) {
  const int64_t n = shape[0], d = shape[1], h = shape[2], w = shape[3];
  if (label_type == VX_LABEL_U8)
    launch_rows<uint8_t>(out, mask, n * d * h, static_cast<int>(w), spacing[2], s);
  else if (label_type == VX_LABEL_U16)
    launch_rows<uint16_t>(out, mask, n * d * h, static_cast<int>(w), spacing[2], s);
  else
    launch_rows<int32_t>(out, mask, n * d * h, static_cast<int>(w), spacing[2], s);
  VX_CHECK_LAUNCH("edt_rows_kernel");

  VX_LAUNCH(edt_envelope_kernel, vx::grid_blocks(n * d * w, THREADS), THREADS, 0, s, tmp, sites,
            static_cast<const float*>(out), n * d * w, static_cast<int>(h), w, spacing[1]);
  VX_CHECK_LAUNCH("edt_envelope_kernel (H)");
  VX_LAUNCH(edt_envelope_kernel, vx::grid_blocks(n * h * w, THREADS), THREADS, 0, s, out, sites,
            static_cast<const float*>(tmp), n * h * w, static_cast<int>(d), h * w, spacing[0]);
  VX_CHECK_LAUNCH("edt_envelope_kernel (D)");
  return 0;
}

}  // namespace

extern "C" int vx_distance_transform(float* out, const void* mask, int label_type, int n, int d,
                                     int h, int w, float spacing_d, float spacing_h,
                                     float spacing_w, void* stream) {
  VX_REQUIRE(vx::label_bytes(label_type) > 0, "distance_transform: expected label type 1, 2 or 4");
  VX_REQUIRE(n >= 0 && d >= 0 && h >= 0 && w >= 0, "distance_transform: expected sizes >= 0");
  VX_REQUIRE(spacing_d > 0 && spacing_h > 0 && spacing_w > 0,
             "distance_transform: expected spacing > 0");
  const int64_t shape[4] = {n, d, h, w};
  const float spacing[3] = {spacing_d, spacing_h, spacing_w};
  const int64_t count = shape[0] * shape[1] * shape[2] * shape[3];
  if (count == 0) return 0;
  cudaStream_t s = vx::as_stream(stream);

  float* tmp = nullptr;
  int32_t* sites = nullptr;
  VX_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&tmp), count * sizeof(float), s));
  cudaError_t got = cudaMallocAsync(reinterpret_cast<void**>(&sites), count * sizeof(int32_t), s);
  int status = got == cudaSuccess
                   ? run_passes(out, tmp, sites, mask, label_type, shape, spacing, s)
                   : vx::fail("cudaMallocAsync(sites)", static_cast<int>(got), __FILE__, __LINE__);
  cudaError_t freed = cudaFreeAsync(tmp, s);
  if (sites) freed = freed == cudaSuccess ? cudaFreeAsync(sites, s) : freed;
  if (status == 0 && freed != cudaSuccess) {
    return vx::fail("cudaFreeAsync", static_cast<int>(freed), __FILE__, __LINE__);
  }
  return status;
}
