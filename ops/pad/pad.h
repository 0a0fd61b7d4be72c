// pad: DPT's pad_image, zero padding (in the image's current dtype and value space: DPT pads
// after normalize, so the zeros are 0.0) of each side up to the next multiple of size_divisor,
// the smaller half before (top, left).
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow::ops {

// The window of a padded (H, W) image in input coordinates (x0, y0 <= 0).
Rect pad_window(int64_t h, int64_t w, int64_t size_divisor);

class PadOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {"size_divisor"};
  // params: {"size_divisor": n}
  explicit PadOp(const nlohmann::json& params);
  std::string name() const override { return "pad"; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  // Sides are padded up to multiples of size_divisor: at least that ("size_divisor").
  std::optional<OutputFloor> output_floor() const override {
    return OutputFloor{size_divisor_, size_divisor_, "size_divisor"};
  }
  int64_t size_divisor() const { return size_divisor_; }

 private:
  int64_t size_divisor_;
};

}  // namespace pixelflow::ops
