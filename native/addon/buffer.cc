/* Device buffers: stream-ordered allocations that free themselves once no worker uses them. */
#include "context.h"

namespace addon {

void BufferState::release() {
  if (!ptr) return;
  if (context && context->alive()) {
    vx_set_device(context->device);
    vx_free(ptr, context->stream);  // a failure here has no one to report to; the memory is lost
    context->live.erase(this);
  }
  ptr = nullptr;
}

void BufferState::request_free() {
  free_requested = true;
  if (pending == 0) release();
}

Napi::Function CudaBuffer::Define(Napi::Env env) {
  return DefineClass(
      env, "CudaBuffer",
      {InstanceMethod<&CudaBuffer::Free>("free"), InstanceAccessor<&CudaBuffer::Bytes>("bytes"),
       InstanceAccessor<&CudaBuffer::Freed>("freed")});
}

Napi::Object CudaBuffer::Wrap(Napi::Env env, std::shared_ptr<BufferState> state) {
  AddonData* data = env.GetInstanceData<AddonData>();
  Napi::Object object = data->buffer_class.New({});
  Napi::ObjectWrap<CudaBuffer>::Unwrap(object)->state = std::move(state);
  return object;
}

CudaBuffer* CudaBuffer::FromValue(const Napi::Value& value, const char* role) {
  AddonData* data = value.Env().GetInstanceData<AddonData>();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(data->buffer_class.Value())) {
    throw Napi::TypeError::New(value.Env(), std::string("expected a CudaBuffer for ") + role);
  }
  CudaBuffer* buffer = Napi::ObjectWrap<CudaBuffer>::Unwrap(value.As<Napi::Object>());
  if (!buffer->state || !buffer->state->ptr || buffer->state->free_requested) {
    throw Napi::Error::New(value.Env(), std::string("the CudaBuffer for ") + role + " was freed");
  }
  return buffer;
}

CudaBuffer::CudaBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaBuffer>(info) {}

CudaBuffer::~CudaBuffer() {
  if (state) state->request_free();  // garbage-collected without free(): give it back
}

Napi::Value CudaBuffer::Free(const Napi::CallbackInfo& info) {
  if (state) state->request_free();
  return info.Env().Undefined();
}

Napi::Value CudaBuffer::Bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), state ? static_cast<double>(state->bytes) : 0);
}

Napi::Value CudaBuffer::Freed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !state || state->free_requested || !state->ptr);
}

}  // namespace addon
