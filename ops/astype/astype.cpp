#include "ops/astype/astype.h"

#include "base/errors.h"

namespace pixelflow::ops {

DType parse_dtype(const nlohmann::json& v, const std::string& key) {
  static const std::pair<const char*, DType> kNames[] = {
      {"bool", DType::kBool},       {"uint8", DType::kUInt8},     {"uint16", DType::kUInt16},
      {"int32", DType::kInt32},     {"int64", DType::kInt64},     {"float32", DType::kFloat32},
      {"float64", DType::kFloat64},
  };
  if (v.is_string())
    for (const auto& [name, t] : kNames)
      if (v.get<std::string>() == name) return t;
  throw ConfigError(key, "must be one of bool, uint8, uint16, int32, int64, float32, float64, got " + v.dump());
}

namespace {

template <class Out>
void convert(const Tensor& in, Out* out) {
  const int64_t n = in.numel();
  const void* p = in.raw_data();
  switch (in.dtype()) {
    case DType::kBool: for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<const uint8_t*>(p)[i] != 0); break;
    case DType::kUInt8: for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<const uint8_t*>(p)[i]); break;
    case DType::kUInt16: for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<const uint16_t*>(p)[i]); break;
    case DType::kInt32: for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<const int32_t*>(p)[i]); break;
    case DType::kInt64: for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<const int64_t*>(p)[i]); break;
    case DType::kFloat32: for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<const float*>(p)[i]); break;
    case DType::kFloat64: for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<const double*>(p)[i]); break;
    case DType::kFloat16:
    case DType::kBFloat16: throw std::invalid_argument("astype: float16/bfloat16 are output storage types only");
  }
}

}  // namespace

void astype_into(const Tensor& t, Tensor& out) {
  switch (out.dtype()) {
    case DType::kBool: {  // NumPy's astype(bool): x != 0 (0.5 and 256 are True)
      Tensor as_double = astype(t, DType::kFloat64);
      for (int64_t i = 0; i < t.numel(); ++i) out.data<bool>()[i] = as_double.data<double>()[i] != 0;
      break;
    }
    case DType::kUInt8: convert(t, out.data<uint8_t>()); break;
    case DType::kUInt16: convert(t, out.data<uint16_t>()); break;
    case DType::kInt32: convert(t, out.data<int32_t>()); break;
    case DType::kInt64: convert(t, out.data<int64_t>()); break;
    case DType::kFloat32: convert(t, out.data<float>()); break;
    case DType::kFloat64: convert(t, out.data<double>()); break;
    case DType::kFloat16:
    case DType::kBFloat16: throw std::invalid_argument("astype: float16/bfloat16 are output storage types only");
  }
}

Tensor astype(const Tensor& t, DType dtype, BufferPool* pool) {
  if (t.dtype() == dtype) return t;
  Tensor out = Tensor::empty(dtype, t.shape(), pool);
  astype_into(t, out);
  return out;
}

AsTypeOp::AsTypeOp(const nlohmann::json& params, Target target)
    : dtype_(parse_dtype(params.value("dtype", nlohmann::json()), "dtype")), target_(target) {}

void AsTypeOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  Tensor& t = target_ == Target::kImage ? s.image : s.labels;
  if (t.dtype() == dtype_) return;
  Tensor out = last ? ctx.output_for(s, dtype_, t.shape(), target_) : ctx.new_tensor(dtype_, t.shape());
  astype_into(t, out);
  t = std::move(out);
}

std::optional<DType> result_type(DType a, DType b) {
  const auto rank = [](DType t) { return t == DType::kUInt8 ? 0 : t == DType::kFloat32 ? 1 : t == DType::kFloat64 ? 2 : -1; };
  if (rank(a) < 0 || rank(b) < 0) return std::nullopt;
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace pixelflow::ops
