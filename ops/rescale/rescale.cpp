#include "ops/rescale/rescale.h"

#include "ops/common/params.h"

namespace pixelflow::ops {

RescaleOp::RescaleOp(const nlohmann::json& params)
    : step_(PointwiseStep::rescale(param_double(params, "rescale_factor"),
                                   param_bool_or(params, "offset", false))) {}

TensorSpec RescaleOp::infer(const TensorSpec& in) const {
  return {pointwise_dtype({step_}, in.dtype), in.shape};
}

void RescaleOp::run(Sample& s, const ExecContext& ctx, bool) const {
  s.image = pointwise_step(s.image, step_, ctx.pool);
}

}  // namespace pixelflow::ops
