/*
 * One Call per op: plain data (device pointers, sizes, host pointers) that a worker thread
 * runs through the vx_* C interface, and that turns its outcome into a JavaScript value on the
 * main thread afterwards. run() never touches N-API; result() runs on the JavaScript thread.
 */
#pragma once

#include <napi.h>

#include <stdint.h>

#include <vector>

#include "voxseg_cuda.h"

namespace addon {

struct Call {
  virtual ~Call() = default;
  /** Queue the work on `stream` (worker thread); 0 or a CUDA error code (vx_last_error()). */
  virtual int run(void* stream) = 0;
  /** The promise's value once the stream has finished (main thread). */
  virtual Napi::Value result(Napi::Env env) { return env.Undefined(); }
};

struct UploadCall : Call {
  void* dst;        // device, `bytes` bytes
  const void* src;  // host, `bytes` bytes
  size_t bytes;
  int run(void* stream) override;
};

struct DownloadCall : Call {
  void* dst;        // host, `bytes` bytes
  const void* src;  // device, `bytes` bytes
  size_t bytes;
  int run(void* stream) override;
};

struct Conv3dCall : Call {
  float* out;           // (N, Cout, OD, OH, OW)
  const float* x;       // (N, Cin, D, H, W)
  const float* weight;  // (Cout, Cin / groups, KD, KH, KW)
  const float* bias;    // (Cout) or null
  vx_conv3d_params params;
  int algorithm;  // vx_conv3d_algorithm
  int run(void* stream) override;
};

struct ActivationCall : Call {
  float* out;      // (count)
  const float* x;  // (count)
  int64_t count;
  int code;
  float alpha;
  int run(void* stream) override;
};

struct InstanceNormCall : Call {
  float* out;          // (N, C, S)
  const float* x;      // (N, C, S)
  const float* scale;  // (C) or null
  const float* shift;  // (C) or null
  int n, channels;
  int64_t spatial;
  float eps;
  int code;
  float alpha;
  int run(void* stream) override;
};

/** Softmax (float out) or argmax (int32 out) over channels. */
struct ChannelCall : Call {
  void* out;       // (N, C, S) float32 for softmax, (N, S) int32 for argmax
  const float* x;  // (N, C, S)
  int n, channels;
  int64_t spatial;
  bool argmax;
  int run(void* stream) override;
};

struct LabelConfusionCall : Call {
  const void* pred;  // (count) labels
  const void* ref;   // (count) labels
  int label_type;    // vx_label_type
  int64_t count;
  int num_labels;
  int has_ignore, ignore_label;
  std::vector<uint64_t> tp, predicted, reference;
  int64_t first_invalid = -1;
  int64_t invalid_pred = 0, invalid_ref = 0;
  int run(void* stream) override;
  Napi::Value result(Napi::Env env) override;
};

struct SoftDiceCall : Call {
  const float* probs;  // (N, C, S)
  const void* target;  // (N, S) labels
  int label_type;
  int n, channels;
  int64_t spatial;
  std::vector<double> intersection, pred_sum, target_sum;
  int run(void* stream) override;
  Napi::Value result(Napi::Env env) override;
};

struct DistanceTransformCall : Call {
  float* out;        // (N, D, H, W) mm^2
  const void* mask;  // (N, D, H, W) labels
  int label_type;    // vx_label_type
  int n, d, h, w;
  float spacing[3];  // (D, H, W) mm
  int run(void* stream) override;
};

struct CopyBlocksCall : Call {
  void* dst;        // (blocks, dst_stride) bytes
  const void* src;  // (blocks, src_stride) bytes
  int64_t blocks, block_bytes, dst_stride, src_stride;
  int run(void* stream) override;
};

/** Only waits for the stream. */
struct SynchronizeCall : Call {
  int run(void*) override { return 0; }
};

}  // namespace addon
