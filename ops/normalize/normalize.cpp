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

NormalizeOp::NormalizeOp(const nlohmann::json& params) : PointwiseStepOp(parse(params)) {}

}  // namespace pixelflow::ops
