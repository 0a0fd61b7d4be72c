// Helpers of the op tests: running ops built by the registry on one sample, making tensors from
// values or at random, comparing bytes. Only the public API of ops (make_op, Op::run) is used.
#pragma once

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "graph/op.h"
#include "registry/registry.h"

namespace pixelflow::test {

// The array of `s` an op with target `t` transforms.
inline Tensor& target_array(Sample& s, Target t) { return t == Target::kImage ? s.image : s.labels; }

// Runs `ops` in order on a sample holding `in` (as its image or its labels, per each op's
// target), the last op writing the final output, and returns the array of the last op's target.
// `prepare` may attach what the first op reads besides the array (sample attributes).
inline Tensor run_ops(const std::vector<OpPtr>& ops, const Tensor& in, Target in_target = Target::kImage,
                      const std::function<void(Sample&)>& prepare = {}) {
  Sample s;
  s.source = "test input";
  target_array(s, in_target) = in;
  if (prepare) prepare(s);
  ExecContext ctx;
  Target last_target = in_target;
  for (size_t i = 0; i < ops.size(); ++i) {
    ops[i]->run(s, ctx, i + 1 == ops.size());
    last_target = ops[i]->target();
  }
  return target_array(s, last_target);
}

inline Tensor run_op(const OpSpec& spec, const Tensor& in) { return run_ops({make_op(spec)}, in, spec.target); }

inline bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// A tensor of dtype_of<T>() with the given values (C order).
template <class T>
Tensor tensor_of(const Shape& shape, const std::vector<T>& values) {
  Tensor t = Tensor::empty(dtype_of<T>(), shape);
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

template <class T>
std::vector<T> values_of(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}

// Random values: uint8 over its whole range, other integers in [lo, hi], floats uniform in
// [lo, hi), bool 0/1.
inline Tensor random_tensor(std::mt19937& rng, DType dtype, const Shape& shape, double lo = 0, double hi = 1) {
  Tensor t = Tensor::empty(dtype, shape);
  const int64_t n = t.numel();
  std::uniform_real_distribution<double> real(lo, hi);
  auto integer = [&] { return static_cast<int64_t>(std::floor(lo)) + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1)); };
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::kBool: t.data<bool>()[i] = rng() % 2; break;
      case DType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(rng()); break;
      case DType::kUInt16: t.data<uint16_t>()[i] = static_cast<uint16_t>(integer()); break;
      case DType::kInt32: t.data<int32_t>()[i] = static_cast<int32_t>(integer()); break;
      case DType::kInt64: t.data<int64_t>()[i] = integer(); break;
      case DType::kFloat32: t.data<float>()[i] = static_cast<float>(real(rng)); break;
      case DType::kFloat64: t.data<double>()[i] = real(rng); break;
      case DType::kFloat16:
      case DType::kBFloat16: throw std::invalid_argument("random_tensor: no float16/bfloat16");
    }
  }
  return t;
}

// Calls f(T{}) with T the C++ type of `dtype`.
template <class F>
void with_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kBool: f(bool{}); break;
    case DType::kUInt8: f(uint8_t{}); break;
    case DType::kUInt16: f(uint16_t{}); break;
    case DType::kInt32: f(int32_t{}); break;
    case DType::kInt64: f(int64_t{}); break;
    case DType::kFloat32: f(float{}); break;
    case DType::kFloat64: f(double{}); break;
    case DType::kFloat16:
    case DType::kBFloat16: throw std::invalid_argument("with_dtype: no C++ type for float16/bfloat16");
  }
}

}  // namespace pixelflow::test
