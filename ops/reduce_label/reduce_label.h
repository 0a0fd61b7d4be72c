// reduce_label: Hugging Face's reduce_label for segmentation maps (BEiT, Segformer, DPT,
// MobileNetV2, MobileViT with do_reduce_labels): the background class 0 becomes the ignore
// index 255 and every other class moves down by one, in the map's own integer type
// (label[label == 0] = 255; label = label - 1; label[label == 254] = 255).
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow::ops {

Tensor reduce_label(const Tensor& labels, BufferPool* pool = nullptr);

class ReduceLabelOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {};
  explicit ReduceLabelOp(const nlohmann::json& = {}, Target target = Target::kLabels) : target_(target) {}
  std::string name() const override { return "reduce_label"; }
  Target target() const override { return target_; }
  TensorSpec infer(const TensorSpec& in) const override { return in; }
  void run(Sample& s, const ExecContext& ctx, bool last) const override;

 private:
  Target target_;
};

}  // namespace pixelflow::ops
