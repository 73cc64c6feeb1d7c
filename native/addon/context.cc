/* CudaContext: one device and stream; allocation, copies and the ops, each as a promise. */
#include "context.h"

#include <math.h>

#include "args.h"

namespace addon {

void ContextState::teardown() {
  if (!alive()) return;
  vx_set_device(device);
  std::set<BufferState*> buffers = live;
  for (BufferState* buffer : buffers) buffer->release();
  vx_stream_synchronize(stream);
  vx_stream_destroy(stream);
  stream = nullptr;
}

void ContextState::request_dispose() {
  dispose_requested = true;
  if (in_flight == 0) teardown();
}

Napi::Function CudaContext::Define(Napi::Env env) {
  return DefineClass(
      env, "CudaContext",
      {InstanceMethod<&CudaContext::Alloc>("alloc"), InstanceMethod<&CudaContext::Upload>("upload"),
       InstanceMethod<&CudaContext::Download>("download"),
       InstanceMethod<&CudaContext::Conv3d>("conv3d"),
       InstanceMethod<&CudaContext::Activation>("activation"),
       InstanceMethod<&CudaContext::InstanceNorm>("instanceNorm"),
       InstanceMethod<&CudaContext::Softmax>("softmax"),
       InstanceMethod<&CudaContext::Argmax>("argmax"),
       InstanceMethod<&CudaContext::LabelConfusion>("labelConfusion"),
       InstanceMethod<&CudaContext::SoftDice>("softDice"),
       InstanceMethod<&CudaContext::DistanceTransform>("distanceTransform"),
       InstanceMethod<&CudaContext::CopyBlocks>("copyBlocks"),
       InstanceMethod<&CudaContext::Synchronize>("synchronize"),
       InstanceMethod<&CudaContext::MemoryInfo>("memoryInfo"),
       InstanceMethod<&CudaContext::Dispose>("dispose")});
}

/** new CudaContext(device): make the device current and create its stream. */
CudaContext::CudaContext(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<CudaContext>(info), state_(std::make_shared<ContextState>()) {
  state_->device = static_cast<int>(integer_arg(info, 0, "device"));
  if (vx_set_device(state_->device) || vx_stream_create(&state_->stream)) {
    throw Napi::Error::New(info.Env(), vx_last_error());
  }
  info.Env().GetInstanceData<AddonData>()->contexts.push_back(state_);
}

CudaContext::~CudaContext() {
  state_->request_dispose();
}

void CudaContext::require_alive(Napi::Env env) const {
  if (!state_->alive() || state_->dispose_requested) {
    throw Napi::Error::New(env, "the CUDA context was disposed");
  }
}

Napi::Value CudaContext::queue(const Napi::CallbackInfo& info, std::unique_ptr<Call> call,
                               const std::vector<CudaBuffer*>& buffers,
                               const std::vector<Napi::Value>& host_arrays) {
  OpWorker* worker = new OpWorker(info.Env(), state_, std::move(call));
  for (CudaBuffer* buffer : buffers) worker->use(buffer);
  for (const Napi::Value& array : host_arrays) worker->keep(array);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

/** alloc(bytes, fill): fill is 'none', 'zero', 'nan' (float32 poison) or 'a5' (byte poison). */
Napi::Value CudaContext::Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_alive(env);
  auto buffer = std::make_shared<BufferState>();
  buffer->context = state_;
  buffer->bytes = static_cast<size_t>(integer_arg(info, 0, "bytes", 0, INT64_C(1) << 50));
  std::string fill = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "none";

  int status = vx_set_device(state_->device);
  if (status == 0) status = vx_malloc(&buffer->ptr, buffer->bytes, state_->stream);
  if (status == 0) state_->live.insert(buffer.get());
  if (status == 0 && fill == "nan") {
    status = vx_fill_f32(static_cast<float*>(buffer->ptr), NAN, buffer->bytes / 4, state_->stream);
  } else if (status == 0 && (fill == "zero" || fill == "a5")) {
    status = vx_fill_bytes(buffer->ptr, fill == "a5" ? 0xA5 : 0, buffer->bytes, state_->stream);
  }
  if (status != 0) throw Napi::Error::New(env, vx_last_error());
  return CudaBuffer::Wrap(env, buffer);
}

/** upload(dst, src): copy a host typed array into a buffer of at least its size. */
Napi::Value CudaContext::Upload(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  CudaBuffer* dst = CudaBuffer::FromValue(info[0], "upload dst");
  auto call = std::make_unique<UploadCall>();
  void* src = nullptr;
  typed_array_arg(info, 1, "upload src", &src, &call->bytes);
  if (call->bytes > dst->state->bytes) {
    throw Napi::RangeError::New(info.Env(), "upload src is larger than the destination buffer");
  }
  call->dst = dst->state->ptr;
  call->src = src;
  return queue(info, std::move(call), {dst}, {info[1]});
}

/** download(src, dst): copy a buffer into a host typed array no larger than it. */
Napi::Value CudaContext::Download(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  CudaBuffer* src = CudaBuffer::FromValue(info[0], "download src");
  auto call = std::make_unique<DownloadCall>();
  typed_array_arg(info, 1, "download dst", &call->dst, &call->bytes);
  if (call->bytes > src->state->bytes) {
    throw Napi::RangeError::New(info.Env(), "download dst is larger than the source buffer");
  }
  call->src = src->state->ptr;
  return queue(info, std::move(call), {src}, {info[1]});
}

/** conv3d(out, x, weight, bias | null, params): params mirrors vx_conv3d_params. */
Napi::Value CudaContext::Conv3d(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  std::vector<CudaBuffer*> buffers = {CudaBuffer::FromValue(info[0], "conv3d out"),
                                      CudaBuffer::FromValue(info[1], "conv3d x"),
                                      CudaBuffer::FromValue(info[2], "conv3d weight")};
  if (!info[3].IsNull()) buffers.push_back(CudaBuffer::FromValue(info[3], "conv3d bias"));
  if (!info[4].IsObject()) throw Napi::TypeError::New(info.Env(), "expected an object for params");
  Napi::Object o = info[4].As<Napi::Object>();

  auto call = std::make_unique<Conv3dCall>();
  vx_conv3d_params& p = call->params;
  p = {int_field(o, "n"),
       int_field(o, "cin"),
       int_field(o, "d"),
       int_field(o, "h"),
       int_field(o, "w"),
       int_field(o, "cout"),
       int_field(o, "kd"),
       int_field(o, "kh"),
       int_field(o, "kw"),
       int_field(o, "od"),
       int_field(o, "oh"),
       int_field(o, "ow"),
       {},
       {},
       {},
       int_field(o, "groups"),
       int_field(o, "activation"),
       0.0f};
  for (uint32_t a = 0; a < 3; ++a) {
    p.stride[a] = int_element(o, "stride", a);
    p.padding[a] = int_element(o, "padding", a);
    p.dilation[a] = int_element(o, "dilation", a);
  }
  p.alpha = o.Get("alpha").ToNumber().FloatValue();
  call->algorithm = int_field(o, "algorithm");
  call->out = static_cast<float*>(buffers[0]->state->ptr);
  call->x = static_cast<const float*>(buffers[1]->state->ptr);
  call->weight = static_cast<const float*>(buffers[2]->state->ptr);
  call->bias = buffers.size() > 3 ? static_cast<const float*>(buffers[3]->state->ptr) : nullptr;
  return queue(info, std::move(call), buffers);
}

/** activation(out, x, count, code, alpha). */
Napi::Value CudaContext::Activation(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  CudaBuffer* out = CudaBuffer::FromValue(info[0], "activation out");
  CudaBuffer* x = CudaBuffer::FromValue(info[1], "activation x");
  auto call = std::make_unique<ActivationCall>();
  call->out = static_cast<float*>(out->state->ptr);
  call->x = static_cast<const float*>(x->state->ptr);
  call->count = integer_arg(info, 2, "count", 0, INT64_C(1) << 50);
  call->code = static_cast<int>(integer_arg(info, 3, "activation code", 0, 5));
  call->alpha = float_arg(info, 4, "alpha");
  return queue(info, std::move(call), {out, x});
}

/** instanceNorm(out, x, scale | null, shift | null, n, channels, spatial, eps, code, alpha). */
Napi::Value CudaContext::InstanceNorm(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  std::vector<CudaBuffer*> buffers = {CudaBuffer::FromValue(info[0], "instanceNorm out"),
                                      CudaBuffer::FromValue(info[1], "instanceNorm x")};
  auto call = std::make_unique<InstanceNormCall>();
  call->scale = call->shift = nullptr;
  if (!info[2].IsNull()) {
    buffers.push_back(CudaBuffer::FromValue(info[2], "instanceNorm scale"));
    call->scale = static_cast<const float*>(buffers.back()->state->ptr);
  }
  if (!info[3].IsNull()) {
    buffers.push_back(CudaBuffer::FromValue(info[3], "instanceNorm shift"));
    call->shift = static_cast<const float*>(buffers.back()->state->ptr);
  }
  call->out = static_cast<float*>(buffers[0]->state->ptr);
  call->x = static_cast<const float*>(buffers[1]->state->ptr);
  call->n = static_cast<int>(integer_arg(info, 4, "n", 1));
  call->channels = static_cast<int>(integer_arg(info, 5, "channels", 1));
  call->spatial = integer_arg(info, 6, "spatial", 1, INT64_C(1) << 50);
  call->eps = float_arg(info, 7, "eps");
  call->code = static_cast<int>(integer_arg(info, 8, "activation code", 0, 5));
  call->alpha = float_arg(info, 9, "alpha");
  return queue(info, std::move(call), buffers);
}

namespace {

std::unique_ptr<ChannelCall> channel_call(const Napi::CallbackInfo& info, CudaBuffer* out,
                                          CudaBuffer* x, bool argmax) {
  auto call = std::make_unique<ChannelCall>();
  call->out = out->state->ptr;
  call->x = static_cast<const float*>(x->state->ptr);
  call->n = static_cast<int>(integer_arg(info, 2, "n", 1));
  call->channels = static_cast<int>(integer_arg(info, 3, "channels", 1));
  call->spatial = integer_arg(info, 4, "spatial", 1, INT64_C(1) << 50);
  call->argmax = argmax;
  return call;
}

int label_type_arg(const Napi::CallbackInfo& info, size_t index) {
  int64_t bytes = integer_arg(info, index, "label bytes", 1, 4);
  if (bytes == 3) throw Napi::TypeError::New(info.Env(), "expected 1, 2 or 4 for label bytes");
  return static_cast<int>(bytes);
}

}  // namespace

/** softmax(out, x, n, channels, spatial). */
Napi::Value CudaContext::Softmax(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  CudaBuffer* out = CudaBuffer::FromValue(info[0], "softmax out");
  CudaBuffer* x = CudaBuffer::FromValue(info[1], "softmax x");
  return queue(info, channel_call(info, out, x, false), {out, x});
}

/** argmax(out, x, n, channels, spatial): out is int32 (N, S). */
Napi::Value CudaContext::Argmax(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  CudaBuffer* out = CudaBuffer::FromValue(info[0], "argmax out");
  CudaBuffer* x = CudaBuffer::FromValue(info[1], "argmax x");
  return queue(info, channel_call(info, out, x, true), {out, x});
}

/** labelConfusion(pred, ref, labelBytes, count, numLabels, ignoreLabel | null). */
Napi::Value CudaContext::LabelConfusion(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  CudaBuffer* pred = CudaBuffer::FromValue(info[0], "labelConfusion pred");
  CudaBuffer* ref = CudaBuffer::FromValue(info[1], "labelConfusion ref");
  auto call = std::make_unique<LabelConfusionCall>();
  call->pred = pred->state->ptr;
  call->ref = ref->state->ptr;
  call->label_type = label_type_arg(info, 2);
  call->count = integer_arg(info, 3, "count", 0, INT64_C(1) << 50);
  call->num_labels = static_cast<int>(integer_arg(info, 4, "numLabels", 1, 1 << 24));
  call->has_ignore = info[5].IsNull() || info[5].IsUndefined() ? 0 : 1;
  call->ignore_label =
      call->has_ignore ? static_cast<int>(integer_arg(info, 5, "ignoreLabel", INT32_MIN)) : 0;
  return queue(info, std::move(call), {pred, ref});
}

/** softDice(probs, target, labelBytes, n, channels, spatial). */
Napi::Value CudaContext::SoftDice(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  CudaBuffer* probs = CudaBuffer::FromValue(info[0], "softDice probs");
  CudaBuffer* target = CudaBuffer::FromValue(info[1], "softDice target");
  auto call = std::make_unique<SoftDiceCall>();
  call->probs = static_cast<const float*>(probs->state->ptr);
  call->target = target->state->ptr;
  call->label_type = label_type_arg(info, 2);
  call->n = static_cast<int>(integer_arg(info, 3, "n", 1));
  call->channels = static_cast<int>(integer_arg(info, 4, "channels", 1));
  call->spatial = integer_arg(info, 5, "spatial", 1, INT64_C(1) << 50);
  return queue(info, std::move(call), {probs, target});
}

/** distanceTransform(out, mask, labelBytes, n, d, h, w, spacingD, spacingH, spacingW). */
Napi::Value CudaContext::DistanceTransform(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  CudaBuffer* out = CudaBuffer::FromValue(info[0], "distanceTransform out");
  CudaBuffer* mask = CudaBuffer::FromValue(info[1], "distanceTransform mask");
  auto call = std::make_unique<DistanceTransformCall>();
  call->out = static_cast<float*>(out->state->ptr);
  call->mask = mask->state->ptr;
  call->label_type = label_type_arg(info, 2);
  int* sizes[4] = {&call->n, &call->d, &call->h, &call->w};
  const char* roles[4] = {"n", "d", "h", "w"};
  for (size_t i = 0; i < 4; ++i) *sizes[i] = static_cast<int>(integer_arg(info, 3 + i, roles[i]));
  for (size_t i = 0; i < 3; ++i) {
    call->spacing[i] = float_arg(info, 7 + i, "spacing");
    if (!(call->spacing[i] > 0)) throw Napi::RangeError::New(info.Env(), "expected spacing > 0");
  }
  int64_t voxels = int64_t{call->n} * call->d * call->h * call->w;
  if (voxels * 4 > static_cast<int64_t>(out->state->bytes) ||
      voxels * call->label_type > static_cast<int64_t>(mask->state->bytes)) {
    throw Napi::RangeError::New(info.Env(), "distanceTransform reaches past the end of a buffer");
  }
  return queue(info, std::move(call), {out, mask});
}

/** copyBlocks(dst, dstOffset, src, srcOffset, blocks, blockBytes, dstStride, srcStride). */
Napi::Value CudaContext::CopyBlocks(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  CudaBuffer* dst = CudaBuffer::FromValue(info[0], "copyBlocks dst");
  CudaBuffer* src = CudaBuffer::FromValue(info[2], "copyBlocks src");
  const int64_t limit = INT64_C(1) << 50;
  auto call = std::make_unique<CopyBlocksCall>();
  int64_t dst_offset = integer_arg(info, 1, "dstOffset", 0, limit);
  int64_t src_offset = integer_arg(info, 3, "srcOffset", 0, limit);
  call->blocks = integer_arg(info, 4, "blocks", 0, limit);
  call->block_bytes = integer_arg(info, 5, "blockBytes", 0, limit);
  call->dst_stride = integer_arg(info, 6, "dstStride", 0, limit);
  call->src_stride = integer_arg(info, 7, "srcStride", 0, limit);
  auto span = [&](int64_t offset, int64_t stride) {
    return call->blocks == 0 ? 0 : offset + (call->blocks - 1) * stride + call->block_bytes;
  };
  if (span(dst_offset, call->dst_stride) > static_cast<int64_t>(dst->state->bytes) ||
      span(src_offset, call->src_stride) > static_cast<int64_t>(src->state->bytes)) {
    throw Napi::RangeError::New(info.Env(), "copyBlocks reaches past the end of a buffer");
  }
  call->dst = static_cast<char*>(dst->state->ptr) + dst_offset;
  call->src = static_cast<const char*>(src->state->ptr) + src_offset;
  return queue(info, std::move(call), {dst, src});
}

/** synchronize(): resolves once the stream has finished everything queued so far. */
Napi::Value CudaContext::Synchronize(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  return queue(info, std::make_unique<SynchronizeCall>(), {});
}

/** memoryInfo(): { freeBytes, totalBytes } of the device now. */
Napi::Value CudaContext::MemoryInfo(const Napi::CallbackInfo& info) {
  require_alive(info.Env());
  vx_device_info device;
  if (vx_device_info_get(state_->device, &device)) {
    throw Napi::Error::New(info.Env(), vx_last_error());
  }
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("freeBytes", static_cast<double>(device.free_bytes));
  result.Set("totalBytes", static_cast<double>(device.total_bytes));
  return result;
}

/** dispose(): free every buffer and the stream (after the work in flight). Idempotent. */
Napi::Value CudaContext::Dispose(const Napi::CallbackInfo& info) {
  state_->request_dispose();
  return info.Env().Undefined();
}

}  // namespace addon
