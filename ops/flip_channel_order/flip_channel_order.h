// flip_channel_order: Hugging Face's image_transforms.flip_channel_order (RGB <-> BGR), as
// MobileViT does after rescaling.
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow::ops {

class FlipChannelOrderOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {};
  explicit FlipChannelOrderOp(const nlohmann::json& = {}) {}
  std::string name() const override { return "flip_channel_order"; }
  TensorSpec infer(const TensorSpec& in) const override { return in; }
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
};

}  // namespace pixelflow::ops
