/*
 * The plain C interface of voxseg's CUDA kernels: device discovery, memory, streams and one
 * entry point per op. The Node addon (native/addon) and the test-and-time harness
 * (native/harness) call only these functions.
 *
 * Conventions:
 * - Activations are float32, shaped (N, C, D, H, W), W fastest; label maps are (N, D, H, W).
 * - Every function returns 0 on success or the CUDA error code; vx_last_error() then gives
 *   "<call> failed: <reason> (code N) at <file>:<line>" for the calling thread.
 * - Pointers are device pointers unless a parameter says "host". Outputs come first, then
 *   inputs, then sizes. `stream` is a cudaStream_t passed as void* so this header needs no
 *   CUDA headers.
 * - Launches are asynchronous on `stream`; errors of a kernel's execution surface at the next
 *   vx_stream_synchronize().
 */
#ifndef VOXSEG_CUDA_H
#define VOXSEG_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---- */

/** The message of the last failure on the calling thread ("" when none). */
const char* vx_last_error(void);
/** CUDA's description of an error code ("CUDA driver version is insufficient ..."). */
const char* vx_error_string(int code);

/* ---- devices ---- */

typedef struct vx_device_info {
  char name[256];
  int index;
  int compute_major;
  int compute_minor;
  int multiprocessors;
  size_t total_bytes;
  size_t free_bytes;
  /** Largest dynamic shared memory one block may opt into, in bytes. */
  size_t shared_per_block_optin;
} vx_device_info;

/** Number of CUDA devices; fails with code 35 (driver too old) or 100 (no device). */
int vx_device_count(int* count);
/** CUDA driver version as major * 1000 + minor * 10 (0 when no driver). */
int vx_driver_version(int* version);
/** CUDA runtime version this library was built with (13000 for 13.0). */
int vx_runtime_version(int* version);
/** Facts about one device; makes it current on the calling thread. */
int vx_device_info_get(int device, vx_device_info* info);
/** Make `device` current on the calling thread (device state is per host thread). */
int vx_set_device(int device);

/* ---- streams and memory ---- */

int vx_stream_create(void** stream);
int vx_stream_destroy(void* stream);
int vx_stream_synchronize(void* stream);

/** Stream-ordered allocation of `bytes` (at least 1) on `stream`. */
int vx_malloc(void** ptr, size_t bytes, void* stream);
/** Stream-ordered free; the memory is reusable by work queued on `stream` afterwards. */
int vx_free(void* ptr, void* stream);
/** Copy `bytes` from host memory `src` to device memory `dst`, ordered on `stream`. */
int vx_upload(void* dst, const void* src, size_t bytes, void* stream);
/** Copy `bytes` from device memory `src` to host memory `dst`, ordered on `stream`. */
int vx_download(void* dst, const void* src, size_t bytes, void* stream);
/** Set `bytes` bytes of `dst` to `value` (0..255). */
int vx_fill_bytes(void* dst, int value, size_t bytes, void* stream);
/** Set `count` floats of `dst` to `value` (NaN to poison an output). */
int vx_fill_f32(float* dst, float value, int64_t count, void* stream);

/* ---- conv3d ---- */

/** Which conv3d kernel runs; AUTO applies vx_conv3d_choose(). */
typedef enum vx_conv3d_algorithm {
  VX_CONV3D_AUTO = 0,
  VX_CONV3D_DIRECT = 1,
  VX_CONV3D_IMPLICIT_GEMM = 2
} vx_conv3d_algorithm;

/** Sizes of one conv3d; every triple is (D, H, W). */
typedef struct vx_conv3d_params {
  int n, cin, d, h, w;  /* x: (N, Cin, D, H, W) */
  int cout, kd, kh, kw; /* weight: (Cout, Cin / groups, KD, KH, KW) */
  int od, oh, ow;       /* out: (N, Cout, OD, OH, OW) */
  int stride[3];
  int padding[3];
  int dilation[3];
  int groups;
  int activation; /* ACTIVATION_CODES: 0 linear .. 5 sigmoid */
  float alpha;    /* leakyRelu slope or elu alpha */
} vx_conv3d_params;

/**
 * The kernel AUTO runs for these sizes: VX_CONV3D_IMPLICIT_GEMM when Cout / groups >= 32 and
 * Cin / groups >= 16 (wide channels fill the tensor-core tiles), else VX_CONV3D_DIRECT; also
 * VX_CONV3D_IMPLICIT_GEMM when the direct kernel's input tile does not fit in shared memory.
 */
int vx_conv3d_choose(const vx_conv3d_params* params, size_t shared_per_block_optin);

/**
 * out = act(conv3d(x, weight) + bias).
 * out: (N, Cout, OD, OH, OW); x: (N, Cin, D, H, W); weight: (Cout, Cin / groups, KD, KH, KW);
 * bias: (Cout) or NULL. IMPLICIT_GEMM multiplies in TF32 (10-bit mantissa) with FP32
 * accumulation; DIRECT is FP32 throughout.
 */
int vx_conv3d(float* out, const float* x, const float* weight, const float* bias,
              const vx_conv3d_params* params, int algorithm, void* stream);

/* ---- element-wise, normalisation, channel reductions ---- */

/** out = act(x), `count` elements. out, x: (count). */
int vx_activation(float* out, const float* x, int64_t count, int activation, float alpha,
                  void* stream);

/**
 * Instance norm of each (n, c) plane over its `spatial` voxels with the biased variance, then
 * scale and shift per channel (NULL for 1 and 0), then the activation.
 * out, x: (N, C, S) with S = D * H * W; scale, shift: (C) or NULL.
 */
int vx_instance_norm(float* out, const float* x, const float* scale, const float* shift, int n,
                     int channels, int64_t spatial, float eps, int activation, float alpha,
                     void* stream);

/** Softmax over channels. out, x: (N, C, S). */
int vx_softmax(float* out, const float* x, int n, int channels, int64_t spatial, void* stream);

/** Index of the largest channel, ties to the lower index. out: (N, S) int32; x: (N, C, S). */
int vx_argmax(int32_t* out, const float* x, int n, int channels, int64_t spatial, void* stream);

/* ---- metrics ---- */

/** Element type of a label map. */
typedef enum vx_label_type { VX_LABEL_U8 = 1, VX_LABEL_U16 = 2, VX_LABEL_I32 = 4 } vx_label_type;

/** Per-label counts of vx_label_confusion, in host memory. */
typedef struct vx_label_counts {
  /** tp[l]: voxels labelled l in both maps (host array of num_labels). */
  uint64_t* tp;
  /** pred[l]: voxels labelled l in the prediction (host array of num_labels). */
  uint64_t* pred;
  /** ref[l]: voxels labelled l in the reference (host array of num_labels). */
  uint64_t* ref;
  /** Index of the first voxel with a label outside [0, num_labels), or -1. */
  int64_t first_invalid;
} vx_label_counts;

/**
 * Per-label TP, prediction and reference counts of two label maps, in one pass; voxels whose
 * reference label equals `ignore_label` are skipped when `has_ignore` is set. Waits for the
 * stream (the counts land in host memory).
 * pred, ref: (count) labels of `label_type`.
 */
int vx_label_confusion(vx_label_counts* counts, const void* pred, const void* ref, int label_type,
                       int64_t count, int num_labels, int has_ignore, int ignore_label,
                       void* stream);

/**
 * Soft Dice sums per channel: sum(p * [t == c]), sum(p), sum([t == c]) over N and S, in host
 * memory (three arrays of `channels` doubles). Waits for the stream.
 * probs: (N, C, S) float32; target: (N, S) labels of `label_type`.
 */
int vx_soft_dice(double* intersection, double* pred_sum, double* target_sum, const float* probs,
                 const void* target, int label_type, int n, int channels, int64_t spatial,
                 void* stream);

/**
 * Exact squared Euclidean distance transform of each batch item (separable lower envelope of
 * parabolas along W, then H, then D), in mm^2: 0 on features, INFINITY everywhere in an item
 * without features. Takes 8 bytes per voxel of stream-ordered scratch.
 * out: (N, D, H, W) float32; mask: (N, D, H, W) labels of `label_type`, non-zero = feature;
 * spacing_d, spacing_h, spacing_w: voxel size in mm along D, H, W (> 0).
 */
int vx_distance_transform(float* out, const void* mask, int label_type, int n, int d, int h, int w,
                          float spacing_d, float spacing_h, float spacing_w, void* stream);

/* ---- copies ---- */

/**
 * Copy `blocks` runs of `block_bytes` bytes: run i goes from src + i * src_stride to
 * dst + i * dst_stride (strides in bytes). Slice and concat along any axis are one call each
 * per input. dst: (blocks, dst_stride) bytes; src: (blocks, src_stride) bytes.
 */
int vx_copy_blocks(void* dst, const void* src, int64_t blocks, int64_t block_bytes,
                   int64_t dst_stride, int64_t src_stride, void* stream);

#ifdef __cplusplus
}
#endif

#endif /* VOXSEG_CUDA_H */
