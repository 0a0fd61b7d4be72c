#include "ops/normalize/normalize.h"

#include "ops/common/params.h"

namespace pixelflow::ops {

namespace {
PointwiseStep parse(const nlohmann::json& params) {
  bool mean_scalar = false, std_scalar = false;
  auto mean = param_double_list(params, "image_mean", &mean_scalar);
  auto std = param_double_list(params, "image_std", &std_scalar);
  return PointwiseStep::normalize(std::move(mean), std::move(std), mean_scalar, std_scalar);
}
}  // namespace

NormalizeOp::NormalizeOp(const nlohmann::json& params) : step_(parse(params)) {}

TensorSpec NormalizeOp::infer(const TensorSpec& in) const {
  check_channels({step_}, in.shape.size() == 3 ? in.shape[2] : 1);
  return {pointwise_dtype({step_}, in.dtype), in.shape};
}

void NormalizeOp::run(Sample& s, const ExecContext& ctx, bool) const {
  s.image = pointwise_step(s.image, step_, ctx.pool);
}

}  // namespace pixelflow::ops
