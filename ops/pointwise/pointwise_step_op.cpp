#include "ops/pointwise/pointwise_step_op.h"

namespace pixelflow::ops {

TensorSpec PointwiseStepOp::infer(const TensorSpec& in) const {
  check_channels({step_}, in.shape.size() == 3 ? in.shape[2] : 1);
  return {pointwise_dtype({step_}, in.dtype), in.shape};
}

void PointwiseStepOp::run(Sample& s, const ExecContext& ctx, bool) const {
  s.image = pointwise_step(s.image, step_, ctx.pool);
}

}  // namespace pixelflow::ops
