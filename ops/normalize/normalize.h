// normalize: Hugging Face's image_transforms.normalize, (x - mean) / std per channel in the
// dtype of x (uint8 input is cast to float32 first).
#pragma once

#include <string>
#include <vector>

#include "ops/pointwise/pointwise_step_op.h"

namespace pixelflow::ops {

class NormalizeOp : public PointwiseStepOp {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {"image_mean", "image_std"};
  // params: {"image_mean": float | [floats], "image_std": float | [floats]}
  explicit NormalizeOp(const nlohmann::json& params);
  std::string name() const override { return "normalize"; }
};

}  // namespace pixelflow::ops
