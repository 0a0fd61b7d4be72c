#include "ops/reduce_label/reduce_label.h"

#include "base/errors.h"

namespace pixelflow::ops {

namespace {

template <class T>
void reduce(const T* in, T* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    T v = in[i] == 0 ? T(255) : in[i];
    v = static_cast<T>(v - 1);
    out[i] = v == T(254) ? T(255) : v;
  }
}

}  // namespace

Tensor reduce_label(const Tensor& labels, BufferPool* pool) {
  Tensor out = Tensor::empty(labels.dtype(), labels.shape(), pool);
  const int64_t n = labels.numel();
  switch (labels.dtype()) {
    case DType::kUInt8: reduce(labels.data<uint8_t>(), out.data<uint8_t>(), n); break;
    case DType::kUInt16: reduce(labels.data<uint16_t>(), out.data<uint16_t>(), n); break;
    case DType::kInt32: reduce(labels.data<int32_t>(), out.data<int32_t>(), n); break;
    case DType::kInt64: reduce(labels.data<int64_t>(), out.data<int64_t>(), n); break;
    case DType::kFloat32: reduce(labels.data<float>(), out.data<float>(), n); break;
    case DType::kFloat64: reduce(labels.data<double>(), out.data<double>(), n); break;
    case DType::kBool: throw InputError("reduce_label: boolean segmentation maps are not supported");
    case DType::kFloat16:
    case DType::kBFloat16: throw InputError(std::string("reduce_label: ") + dtype_name(labels.dtype()) + " maps are not supported");
  }
  return out;
}

void ReduceLabelOp::run(Sample& s, const ExecContext& ctx, bool) const {
  Tensor& t = target_ == Target::kImage ? s.image : s.labels;
  t = reduce_label(t, ctx.pool);
}

}  // namespace pixelflow::ops
