// normalize: Hugging Face's image_transforms.normalize, (x - mean) / std per channel in the
// dtype of x (uint8 input is cast to float32 first).
#pragma once

#include "graph/op.h"
#include "ops/pointwise/pointwise.h"

namespace pixelflow::ops {

class NormalizeOp : public Op {
 public:
  // params: {"image_mean": float | [floats], "image_std": float | [floats]}
  explicit NormalizeOp(const nlohmann::json& params);
  std::string name() const override { return "normalize"; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  const PointwiseStep& step() const { return step_; }

 private:
  PointwiseStep step_;
};

}  // namespace pixelflow::ops
