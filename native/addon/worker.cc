/*
 * OpWorker: one Call on the libuv thread pool. Execute() makes the context's device current,
 * runs the call and waits for the stream, so errors from the kernels' execution surface here;
 * a failure travels as a string (vx_last_error) and becomes a JavaScript error in OnError.
 */
#include "context.h"

namespace addon {

OpWorker::OpWorker(Napi::Env env, std::shared_ptr<ContextState> context, std::unique_ptr<Call> call)
    : Napi::AsyncWorker(env, "voxseg.cuda"),
      context_(std::move(context)),
      call_(std::move(call)),
      deferred_(Napi::Promise::Deferred::New(env)) {
  context_->in_flight++;
}

void OpWorker::use(CudaBuffer* buffer) {
  buffer->state->pending++;
  buffers_.push_back(buffer->state);
  references_.push_back(Napi::Persistent(buffer->Value()));
}

void OpWorker::keep(Napi::Value value) {
  references_.push_back(Napi::Persistent(value.As<Napi::Object>()));
}

void OpWorker::Execute() {
  int status = vx_set_device(context_->device);
  if (status == 0) status = call_->run(context_->stream);
  if (status == 0) status = vx_stream_synchronize(context_->stream);
  if (status != 0) SetError(vx_last_error());
}

void OpWorker::OnOK() {
  Napi::Env env = Env();
  Napi::Value value = call_->result(env);
  finish();
  deferred_.Resolve(value);
}

void OpWorker::OnError(const Napi::Error& error) {
  finish();
  deferred_.Reject(error.Value());
}

void OpWorker::finish() {
  for (const std::shared_ptr<BufferState>& buffer : buffers_) {
    if (--buffer->pending == 0 && buffer->free_requested) buffer->release();
  }
  buffers_.clear();
  references_.clear();
  if (--context_->in_flight == 0 && context_->dispose_requested) context_->teardown();
}

}  // namespace addon
