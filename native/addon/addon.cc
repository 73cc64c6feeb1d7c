/*
 * voxseg_cuda.node: the CUDA addon's one export table (mirrored in
 * ts/backends/cuda/binding.ts as CudaAddon):
 *   compiled: true            this build has the kernels (the stub says false)
 *   reason: ''                why CUDA is unusable in this build ('' here)
 *   version, architectures    addon version and the CUDA architectures compiled in
 *   probe()                   device count, driver/runtime versions, devices; never throws
 *   CudaContext               new CudaContext(device): a stream on one device (context.h)
 *   CudaBuffer                the class of buffers that CudaContext.alloc returns
 * Contexts are torn down by dispose(), their finalizer or the environment's cleanup hook.
 */
#include <napi.h>

#include <string>

#include "context.h"

#ifndef VOXSEG_CUDA_ARCHITECTURES
#define VOXSEG_CUDA_ARCHITECTURES "unknown"
#endif

namespace addon {

namespace {

Napi::Object device_object(Napi::Env env, const vx_device_info& info) {
  Napi::Object device = Napi::Object::New(env);
  device.Set("index", info.index);
  device.Set("name", info.name);
  device.Set("computeCapability",
             std::to_string(info.compute_major) + "." + std::to_string(info.compute_minor));
  device.Set("multiprocessors", info.multiprocessors);
  device.Set("totalBytes", static_cast<double>(info.total_bytes));
  device.Set("freeBytes", static_cast<double>(info.free_bytes));
  device.Set("sharedPerBlockOptin", static_cast<double>(info.shared_per_block_optin));
  return device;
}

/** probe(): what the CUDA runtime sees; failures are reported in the result, not thrown. */
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  int driver = 0, runtime = 0, count = 0;
  vx_driver_version(&driver);
  vx_runtime_version(&runtime);
  result.Set("driverVersion", driver);
  result.Set("runtimeVersion", runtime);

  int status = vx_device_count(&count);
  Napi::Array devices = Napi::Array::New(env);
  for (int d = 0; status == 0 && d < count; ++d) {
    vx_device_info device;
    status = vx_device_info_get(d, &device);
    if (status == 0) devices.Set(static_cast<uint32_t>(d), device_object(env, device));
  }
  std::string error;
  if (status != 0) {
    const char* call =
        devices.Length() == 0 && count == 0 ? "cudaGetDeviceCount" : "cudaGetDeviceProperties";
    error = std::string(call) + " returned " + std::to_string(status) + " (" +
            vx_error_string(status) + ")";
  }
  result.Set("ok", status == 0 && count > 0);
  result.Set("error", status == 0 && count == 0 ? "cudaGetDeviceCount returned 0 devices" : error);
  result.Set("errorCode", status);
  result.Set("deviceCount", count);
  result.Set("devices", devices);
  return result;
}

void teardown_all(AddonData* data) {
  for (const std::weak_ptr<ContextState>& weak : data->contexts) {
    if (std::shared_ptr<ContextState> context = weak.lock()) context->teardown();
  }
  data->contexts.clear();
}

}  // namespace

}  // namespace addon

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace addon;
  AddonData* data = new AddonData();
  env.SetInstanceData(data);
  Napi::Function buffer_class = CudaBuffer::Define(env);
  Napi::Function context_class = CudaContext::Define(env);
  data->buffer_class = Napi::Persistent(buffer_class);
  data->context_class = Napi::Persistent(context_class);
  env.AddCleanupHook([data]() { teardown_all(data); });

  exports.Set("compiled", true);
  exports.Set("reason", "");
  exports.Set("version", "0.1.0");
  exports.Set("architectures", VOXSEG_CUDA_ARCHITECTURES);
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("CudaContext", context_class);
  exports.Set("CudaBuffer", buffer_class);
  return exports;
}

}  // namespace

NODE_API_MODULE(voxseg_cuda, Init)
