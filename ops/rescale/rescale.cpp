#include "ops/rescale/rescale.h"

#include "ops/common/params.h"

namespace pixelflow::ops {

RescaleOp::RescaleOp(const nlohmann::json& params)
    : PointwiseStepOp(PointwiseStep::rescale(param_double(params, "rescale_factor"),
                                             param_bool_or(params, "offset", false))) {}

}  // namespace pixelflow::ops
