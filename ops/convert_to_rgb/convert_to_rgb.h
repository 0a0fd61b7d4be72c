// convert_to_rgb: the convert_to_rgb of Idefics3's and SmolVLM's image processors, on arrays
// (after their resizes): to_pil_image, convert("RGBA"), Image.alpha_composite onto an opaque white
// background, convert("RGB"). On an (H, W, C) uint8 image: one channel ("L") is replicated, three
// are kept, four ("RGBA") are composited onto white with Pillow's integer arithmetic
// (AlphaComposite.c). Unlike Image.convert("RGB") (ops/convert_rgb), alpha is not just dropped.
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow::ops {

// The composite of one channel value `c` with alpha `a` over white (Pillow's formula).
uint8_t composite_over_white(uint8_t c, uint8_t a);

class ConvertToRgbOp : public Op {
 public:
  static inline const std::vector<std::string> kParamKeys = {};
  explicit ConvertToRgbOp(const nlohmann::json& params);
  std::string name() const override { return "convert_to_rgb"; }
  // Input: an (H, W, C) uint8 image, C in {1, 3, 4}; output (H, W, 3).
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
};

}  // namespace pixelflow::ops
