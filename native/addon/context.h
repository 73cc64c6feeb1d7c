/*
 * The addon's state and JavaScript classes:
 * - ContextState: one device and its stream, shared by the context object, its buffers and the
 *   work in flight. Torn down by dispose(), the context's finalizer or the environment's
 *   cleanup hook, whichever comes first, once no work is in flight.
 * - BufferState / CudaBuffer: one stream-ordered device allocation. free() waits for the
 *   workers still using the buffer.
 * - CudaContext: alloc, upload, download, the ops, synchronize, memoryInfo, dispose.
 * - OpWorker: runs one Call (plain data, calls.h) on the libuv pool and settles a promise.
 *
 * Everything here runs on the JavaScript thread except OpWorker::Execute, which calls only
 * the vx_* C interface and never N-API.
 */
#pragma once

#include <napi.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "calls.h"

namespace addon {

struct BufferState;

struct ContextState {
  int device = 0;
  void* stream = nullptr;
  int in_flight = 0;
  bool dispose_requested = false;
  std::set<BufferState*> live;

  bool alive() const { return stream != nullptr; }
  /** Free every live buffer and destroy the stream; idempotent. */
  void teardown();
  /** teardown() now, or once the work in flight has finished. */
  void request_dispose();
};

struct BufferState {
  std::shared_ptr<ContextState> context;
  void* ptr = nullptr;
  size_t bytes = 0;
  int pending = 0;
  bool free_requested = false;

  ~BufferState() { release(); }
  /** Give the memory back now (stream-ordered); idempotent. */
  void release();
  /** release() now, or once no worker uses the buffer. */
  void request_free();
};

/** Per-environment data: the classes and every context, for the cleanup hook. */
struct AddonData {
  Napi::FunctionReference buffer_class;
  Napi::FunctionReference context_class;
  std::vector<std::weak_ptr<ContextState>> contexts;
};

class CudaBuffer : public Napi::ObjectWrap<CudaBuffer> {
 public:
  static Napi::Function Define(Napi::Env env);
  /** A JavaScript CudaBuffer over `state`. */
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<BufferState> state);
  /** The buffer behind a JavaScript value; throws a TypeError naming `role`. */
  static CudaBuffer* FromValue(const Napi::Value& value, const char* role);

  explicit CudaBuffer(const Napi::CallbackInfo& info);
  ~CudaBuffer() override;
  std::shared_ptr<BufferState> state;

 private:
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value Bytes(const Napi::CallbackInfo& info);
  Napi::Value Freed(const Napi::CallbackInfo& info);
};

class CudaContext : public Napi::ObjectWrap<CudaContext> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CudaContext(const Napi::CallbackInfo& info);
  ~CudaContext() override;

 private:
  std::shared_ptr<ContextState> state_;

  Napi::Value Alloc(const Napi::CallbackInfo& info);
  Napi::Value Upload(const Napi::CallbackInfo& info);
  Napi::Value Download(const Napi::CallbackInfo& info);
  Napi::Value Conv3d(const Napi::CallbackInfo& info);
  Napi::Value Activation(const Napi::CallbackInfo& info);
  Napi::Value InstanceNorm(const Napi::CallbackInfo& info);
  Napi::Value Softmax(const Napi::CallbackInfo& info);
  Napi::Value Argmax(const Napi::CallbackInfo& info);
  Napi::Value LabelConfusion(const Napi::CallbackInfo& info);
  Napi::Value SoftDice(const Napi::CallbackInfo& info);
  Napi::Value DistanceTransform(const Napi::CallbackInfo& info);
  Napi::Value CopyBlocks(const Napi::CallbackInfo& info);
  Napi::Value Synchronize(const Napi::CallbackInfo& info);
  Napi::Value MemoryInfo(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  /** Throw unless the context can take work. */
  void require_alive(Napi::Env env) const;
  /** Queue `call` using `buffers` (kept alive and busy until it settles) and return its promise. */
  Napi::Value queue(const Napi::CallbackInfo& info, std::unique_ptr<Call> call,
                    const std::vector<CudaBuffer*>& buffers,
                    const std::vector<Napi::Value>& host_arrays = {});
};

class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, std::shared_ptr<ContextState> context, std::unique_ptr<Call> call);
  Napi::Promise promise() { return deferred_.Promise(); }
  /** Keep `buffer` alive and busy until the call settles. */
  void use(CudaBuffer* buffer);
  /** Keep a host array (whose memory the call reads or writes) alive until it settles. */
  void keep(Napi::Value value);

  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  void finish();

  std::shared_ptr<ContextState> context_;
  std::unique_ptr<Call> call_;
  Napi::Promise::Deferred deferred_;
  std::vector<std::shared_ptr<BufferState>> buffers_;
  std::vector<Napi::ObjectReference> references_;
};

}  // namespace addon
