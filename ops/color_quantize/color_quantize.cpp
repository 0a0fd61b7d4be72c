#include "ops/color_quantize/color_quantize.h"

#include <limits>

#include "base/errors.h"

namespace pixelflow::ops {

namespace {

// Squared norm of a pixel in NumPy's arithmetic for its dtype, widened to float64.
double pixel_norm(const Tensor& img, int64_t p) {
  switch (img.dtype()) {
    case DType::kFloat32: {
      const float* x = img.data<float>() + 3 * p;
      float s0 = x[0] * x[0], s1 = x[1] * x[1], s2 = x[2] * x[2];
      return static_cast<float>(static_cast<float>(s0 + s1) + s2);
    }
    case DType::kFloat64: {
      const double* x = img.data<double>() + 3 * p;
      return (x[0] * x[0] + x[1] * x[1]) + x[2] * x[2];
    }
    case DType::kUInt8: {
      // np.square on uint8 wraps; np.sum then accumulates in uint64.
      const uint8_t* x = img.data<uint8_t>() + 3 * p;
      uint64_t s = 0;
      for (int k = 0; k < 3; ++k) s += static_cast<uint8_t>(x[k] * x[k]);
      return static_cast<double>(s);
    }
    default:
      throw InputError(std::string("color_quantize: unsupported pixel dtype ") + dtype_name(img.dtype()));
  }
}

double pixel_value(const Tensor& img, int64_t i) {
  switch (img.dtype()) {
    case DType::kFloat32: return img.data<float>()[i];
    case DType::kFloat64: return img.data<double>()[i];
    case DType::kUInt8: return img.data<uint8_t>()[i];
    default: return 0;
  }
}

}  // namespace

void color_quantize(const Tensor& image, const std::vector<double>& clusters,
                    const std::vector<double>& norms, Tensor& out) {
  const int64_t n = image.dim(0) * image.dim(1);
  const size_t k = norms.size();
  int64_t* ids = out.data<int64_t>();
  for (int64_t p = 0; p < n; ++p) {
    const double a2 = pixel_norm(image, p);
    const double x0 = pixel_value(image, 3 * p), x1 = pixel_value(image, 3 * p + 1),
                 x2 = pixel_value(image, 3 * p + 2);
    double best = std::numeric_limits<double>::infinity();
    int64_t best_k = 0;
    bool first = true;
    for (size_t j = 0; j < k; ++j) {
      const double* c = &clusters[3 * j];
      double ab = (x0 * c[0] + x1 * c[1]) + x2 * c[2];
      double d = (a2 - 2.0 * ab) + norms[j];
      if (first || d < best) {
        best = d;
        best_k = static_cast<int64_t>(j);
        first = false;
      }
    }
    ids[p] = best_k;
  }
}

ColorQuantizeOp::ColorQuantizeOp(const nlohmann::json& params) {
  const auto& c = params.value("clusters", nlohmann::json());
  if (!c.is_array() || c.empty())
    throw ConfigError("clusters", "must be a non-empty list of [r, g, b] colour clusters");
  for (size_t j = 0; j < c.size(); ++j) {
    if (!c[j].is_array() || c[j].size() != 3)
      throw ConfigError("clusters[" + std::to_string(j) + "]", "must be a list of 3 numbers, got " + c[j].dump());
    for (size_t i = 0; i < 3; ++i) {
      if (!c[j][i].is_number())
        throw ConfigError("clusters[" + std::to_string(j) + "][" + std::to_string(i) + "]",
                          "must be a number, got " + c[j][i].dump());
      clusters_.push_back(c[j][i].get<double>());
    }
    const double* v = &clusters_[3 * j];
    norms_.push_back((v[0] * v[0] + v[1] * v[1]) + v[2] * v[2]);
  }
}

TensorSpec ColorQuantizeOp::infer(const TensorSpec& in) const {
  if (in.shape.size() != 3 || in.shape[2] != 3)
    throw InputError("color_quantize needs (H, W, 3) images, got " + shape_str(in.shape));
  return {DType::kInt64, {in.shape[0] * in.shape[1]}};
}

void ColorQuantizeOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  TensorSpec spec = infer({s.image.dtype(), s.image.shape()});
  Tensor out = last ? ctx.output_for(s, spec.dtype, spec.shape) : ctx.new_tensor(spec.dtype, spec.shape);
  color_quantize(s.image, clusters_, norms_, out);
  s.image = std::move(out);
}

}  // namespace pixelflow::ops
