/* Argument readers for the addon's methods: each throws a TypeError naming the argument. */
#pragma once

#include <napi.h>

#include <stdint.h>

#include <string>

namespace addon {

/** info[index] as an integer in [min, max], else a TypeError naming `role`. */
inline int64_t integer_arg(const Napi::CallbackInfo& info, size_t index, const char* role,
                           int64_t min = 0, int64_t max = INT32_MAX) {
  Napi::Value v = info[index];
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.0 / 0.0;
  if (!v.IsNumber() || d != static_cast<double>(static_cast<int64_t>(d)) || d < min || d > max) {
    throw Napi::TypeError::New(info.Env(), std::string("expected an integer in [") +
                                               std::to_string(min) + ", " + std::to_string(max) +
                                               "] for " + role);
  }
  return static_cast<int64_t>(d);
}

inline float float_arg(const Napi::CallbackInfo& info, size_t index, const char* role) {
  if (!info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string("expected a number for ") + role);
  }
  return info[index].As<Napi::Number>().FloatValue();
}

/** An integer field of an object, e.g. conv3d's params.cout. */
inline int int_field(const Napi::Object& object, const char* name) {
  Napi::Value v = object.Get(name);
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(object.Env(), std::string("expected a number for params.") + name);
  }
  return v.As<Napi::Number>().Int32Value();
}

/** Element `index` of an array field, e.g. params.stride[1]. */
inline int int_element(const Napi::Object& object, const char* name, uint32_t index) {
  Napi::Value v = object.Get(name);
  if (!v.IsArray() || !v.As<Napi::Array>().Get(index).IsNumber()) {
    throw Napi::TypeError::New(object.Env(),
                               std::string("expected an array of 3 numbers for params.") + name);
  }
  return v.As<Napi::Array>().Get(index).As<Napi::Number>().Int32Value();
}

/** A typed array's data pointer and byte length; throws naming `role`. */
inline void typed_array_arg(const Napi::CallbackInfo& info, size_t index, const char* role,
                            void** data, size_t* bytes) {
  if (!info[index].IsTypedArray()) {
    throw Napi::TypeError::New(info.Env(), std::string("expected a typed array for ") + role);
  }
  Napi::TypedArray array = info[index].As<Napi::TypedArray>();
  *data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  *bytes = array.ByteLength();
}

}  // namespace addon
