// The op of one pointwise step (rescale, normalize): its parameters are the step, it runs the
// step's kernel over the image (pointwise_step). The concrete ops parse their step and name it.
#pragma once

#include "graph/op.h"
#include "ops/pointwise/pointwise.h"

namespace pixelflow::ops {

class PointwiseStepOp : public Op {
 public:
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  const PointwiseStep& step() const { return step_; }

 protected:
  explicit PointwiseStepOp(PointwiseStep step) : step_(std::move(step)) {}

 private:
  PointwiseStep step_;
};

}  // namespace pixelflow::ops
