// rescale: Hugging Face's image_transforms.rescale, float32(float64(x) * rescale_factor), with
// EfficientNet's rescale_offset ("- 1" afterwards).
#pragma once

#include <string>
#include <vector>

#include "ops/pointwise/pointwise_step_op.h"

namespace pixelflow::ops {

class RescaleOp : public PointwiseStepOp {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {"rescale_factor", "offset"};
  // params: {"rescale_factor": f, "offset": bool (optional)}
  explicit RescaleOp(const nlohmann::json& params);
  std::string name() const override { return "rescale"; }
};

}  // namespace pixelflow::ops
