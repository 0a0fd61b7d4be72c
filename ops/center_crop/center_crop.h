// center_crop: Hugging Face's image_transforms.center_crop. The crop's top-left corner is
// ((H - h) // 2, (W - w) // 2) with Python's floor division; where the crop reaches outside the
// image (image smaller than the crop) the output is zero, which is exactly HF's
// pad-then-crop.
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow::ops {

// The crop of an (in_h, in_w) image, in its coordinates: output pixel (i, j) is input pixel
// (y + i, x + j), or 0 when that lies outside the input.
Rect center_crop_window(int64_t in_h, int64_t in_w, int64_t crop_h, int64_t crop_w);

// Reference: copies `window` of an (H, W, C) tensor of any dtype, zero outside.
Tensor crop_reference(const Tensor& in, const Rect& window, BufferPool* pool = nullptr);

class CenterCropOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {"crop_size", "crop_size.height", "crop_size.width", "size", "size.height", "size.width"};
  // params: {"crop_size": {"height": h, "width": w}}, and optionally "size": {"height", "width"}
  // for Perceiver's center_crop, whose crop is
  //   (int(size.height / crop_size.height * min(H, W)), int(size.width / crop_size.width * min(H, W))).
  explicit CenterCropOp(const nlohmann::json& params, Target target = Target::kImage);
  CenterCropOp(int64_t height, int64_t width, Target target = Target::kImage)
      : height_(height), width_(width), target_(target) {}
  std::string name() const override { return "center_crop"; }
  Target target() const override { return target_; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  // Fixed crops: their size ("crop_size").
  std::optional<OutputFloor> output_floor() const override {
    if (relative_) return std::nullopt;
    return OutputFloor{height_, width_, "crop_size"};
  }

  // Fixed crop size (false for Perceiver's image-relative crop).
  bool fixed() const { return !relative_; }
  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  // Crop size for an (in_h, in_w) image.
  std::pair<int64_t, int64_t> crop_size(int64_t in_h, int64_t in_w) const;

 private:
  int64_t height_, width_;
  Target target_;
  bool relative_ = false;
  double ratio_h_ = 1, ratio_w_ = 1;
};

}  // namespace pixelflow::ops
