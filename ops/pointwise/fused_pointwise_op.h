// The fused tail of a pipeline: [center_crop] + rescale/normalize steps + [flip_channel_order]
// + to_channel_dimension_format in one pass over memory (see pointwise.h).
#pragma once

#include <optional>

#include "graph/op.h"
#include "ops/pointwise/pointwise.h"

namespace pixelflow::ops {

class FusedPointwiseOp : public Op {
 public:
  struct Crop {
    int64_t height, width;
  };
  FusedPointwiseOp(std::optional<Crop> crop, std::vector<PointwiseStep> steps, bool flip_channels,
                   Layout layout, std::string name);
  std::string name() const override { return name_; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;

 private:
  std::optional<Crop> crop_;
  std::vector<PointwiseStep> steps_;
  bool flip_;
  Layout layout_;
  std::string name_;
};

}  // namespace pixelflow::ops
