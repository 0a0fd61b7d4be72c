// rescale: Hugging Face's image_transforms.rescale, float32(float64(x) * rescale_factor), with
// EfficientNet's rescale_offset ("- 1" afterwards).
#pragma once

#include "graph/op.h"
#include "ops/pointwise/pointwise.h"

namespace pixelflow::ops {

class RescaleOp : public Op {
 public:
  // params: {"rescale_factor": f, "offset": bool (optional)}
  explicit RescaleOp(const nlohmann::json& params);
  std::string name() const override { return "rescale"; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  const PointwiseStep& step() const { return step_; }

 private:
  PointwiseStep step_;
};

}  // namespace pixelflow::ops
