// rescale: Hugging Face's image_transforms.rescale, float32(float64(x) * rescale_factor), with
// EfficientNet's rescale_offset ("- 1" afterwards).
#pragma once

#include "ops/pointwise/pointwise_step_op.h"

namespace pixelflow::ops {

class RescaleOp : public PointwiseStepOp {
 public:
  // params: {"rescale_factor": f, "offset": bool (optional)}
  explicit RescaleOp(const nlohmann::json& params);
  std::string name() const override { return "rescale"; }
};

}  // namespace pixelflow::ops
