/* The op calls: worker-thread run() over the vx_* interface, main-thread result(). */
#include "calls.h"

namespace addon {

namespace {

Napi::Float64Array to_float64(Napi::Env env, const std::vector<uint64_t>& counts) {
  Napi::Float64Array array = Napi::Float64Array::New(env, counts.size());
  for (size_t i = 0; i < counts.size(); ++i) array[i] = static_cast<double>(counts[i]);
  return array;
}

Napi::Float64Array to_float64(Napi::Env env, const std::vector<double>& sums) {
  Napi::Float64Array array = Napi::Float64Array::New(env, sums.size());
  for (size_t i = 0; i < sums.size(); ++i) array[i] = sums[i];
  return array;
}

/** Label `index` of a device label map, read back as an integer. */
int read_label(int64_t* value, const void* labels, int label_type, int64_t index, void* stream) {
  uint8_t bytes[4] = {0, 0, 0, 0};
  const uint8_t* at = static_cast<const uint8_t*>(labels) + index * label_type;
  if (int status = vx_download(bytes, at, label_type, stream)) return status;
  if (int status = vx_stream_synchronize(stream)) return status;
  if (label_type == VX_LABEL_U8)
    *value = bytes[0];
  else if (label_type == VX_LABEL_U16)
    *value = bytes[0] | bytes[1] << 8;
  else
    *value =
        static_cast<int32_t>(bytes[0] | bytes[1] << 8 | bytes[2] << 16 | uint32_t{bytes[3]} << 24);
  return 0;
}

}  // namespace

int UploadCall::run(void* stream) {
  return vx_upload(dst, src, bytes, stream);
}

int DownloadCall::run(void* stream) {
  return vx_download(dst, src, bytes, stream);
}

int Conv3dCall::run(void* stream) {
  return vx_conv3d(out, x, weight, bias, &params, algorithm, stream);
}

int ActivationCall::run(void* stream) {
  return vx_activation(out, x, count, code, alpha, stream);
}

int InstanceNormCall::run(void* stream) {
  return vx_instance_norm(out, x, scale, shift, n, channels, spatial, eps, code, alpha, stream);
}

int ChannelCall::run(void* stream) {
  if (argmax) return vx_argmax(static_cast<int32_t*>(out), x, n, channels, spatial, stream);
  return vx_softmax(static_cast<float*>(out), x, n, channels, spatial, stream);
}

int LabelConfusionCall::run(void* stream) {
  tp.assign(num_labels, 0);
  predicted.assign(num_labels, 0);
  reference.assign(num_labels, 0);
  vx_label_counts counts{tp.data(), predicted.data(), reference.data(), -1};
  int status = vx_label_confusion(&counts, pred, ref, label_type, count, num_labels, has_ignore,
                                  ignore_label, stream);
  first_invalid = counts.first_invalid;
  if (status || first_invalid < 0) return status;
  status = read_label(&invalid_pred, pred, label_type, first_invalid, stream);
  return status ? status : read_label(&invalid_ref, ref, label_type, first_invalid, stream);
}

Napi::Value LabelConfusionCall::result(Napi::Env env) {
  Napi::Object counts = Napi::Object::New(env);
  counts.Set("tp", to_float64(env, tp));
  counts.Set("pred", to_float64(env, predicted));
  counts.Set("ref", to_float64(env, reference));
  counts.Set("firstInvalid", Napi::Number::New(env, static_cast<double>(first_invalid)));
  counts.Set("invalidPred", Napi::Number::New(env, static_cast<double>(invalid_pred)));
  counts.Set("invalidRef", Napi::Number::New(env, static_cast<double>(invalid_ref)));
  return counts;
}

int SoftDiceCall::run(void* stream) {
  intersection.assign(channels, 0);
  pred_sum.assign(channels, 0);
  target_sum.assign(channels, 0);
  return vx_soft_dice(intersection.data(), pred_sum.data(), target_sum.data(), probs, target,
                      label_type, n, channels, spatial, stream);
}

Napi::Value SoftDiceCall::result(Napi::Env env) {
  Napi::Object sums = Napi::Object::New(env);
  sums.Set("intersection", to_float64(env, intersection));
  sums.Set("predSum", to_float64(env, pred_sum));
  sums.Set("targetSum", to_float64(env, target_sum));
  return sums;
}

int DistanceTransformCall::run(void* stream) {
  return vx_distance_transform(out, mask, label_type, n, d, h, w, spacing[0], spacing[1],
                               spacing[2], stream);
}

int CopyBlocksCall::run(void* stream) {
  return vx_copy_blocks(dst, src, blocks, block_bytes, dst_stride, src_stride, stream);
}

}  // namespace addon
