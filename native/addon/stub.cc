/*
 * voxseg_cuda.node built without a CUDA compiler: the same export table as addon.cc, with
 * compiled = false and a reason, so the TypeScript loader reports "CUDA not compiled in"
 * instead of failing to load.
 */
#include <napi.h>

namespace {

const char* const REASON =
    "CUDA not compiled in (nvcc was not found when the addon was built; install the CUDA "
    "toolkit and run `npm run build:native`)";

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("ok", false);
  result.Set("error", REASON);
  result.Set("errorCode", -1);
  result.Set("deviceCount", 0);
  result.Set("driverVersion", 0);
  result.Set("runtimeVersion", 0);
  result.Set("devices", Napi::Array::New(env));
  return result;
}

Napi::Value Unavailable(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), REASON);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("compiled", false);
  exports.Set("reason", REASON);
  exports.Set("version", "0.1.0");
  exports.Set("architectures", "");
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("CudaContext", Napi::Function::New(env, Unavailable, "CudaContext"));
  exports.Set("CudaBuffer", Napi::Function::New(env, Unavailable, "CudaBuffer"));
  return exports;
}

}  // namespace

NODE_API_MODULE(voxseg_cuda, Init)
