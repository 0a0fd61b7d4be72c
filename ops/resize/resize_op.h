// The resize op of the graph: Hugging Face's resize (Pillow's resampler) with the output size
// computed from the image's size the way the processor asks, and optionally a center_crop of the
// result fused in (only the cropped pixels are computed; HF's zero padding where the crop is
// larger than the resized image).
#pragma once

#include <string>
#include <vector>

#include <optional>

#include "graph/op.h"
#include "ops/resize/resize.h"

namespace pixelflow::ops {

// How the output size follows from the input size (one of Hugging Face's rules).
struct ResizeRule {
  enum class Kind {
    kExact,          // size {"height", "width"}
    kShortestEdge,   // size {"shortest_edge"}: get_resize_output_image_size(default_to_square=False)
    kKeepAspect,     // DPT: size {"height","width"} + keep_aspect_ratio + ensure_multiple_of
    kSizeDivisor,    // GLPN: floor both sides to a multiple of size_divisor
    kSmartResize,    // Qwen2-VL's smart_resize: multiples of `multiple`, pixels in [min_pixels, max_pixels]
    kDetr,           // DETR family's get_size_with_aspect_ratio(size=shortest_edge, max_size=longest_edge):
                     // round() of the capped short side; Yolos's variant (yolos) tests width < height
                     // first and floors both sides to a multiple of mod_size (16)
    kMaxHeightWidth, // size {"max_height", "max_width"}: int(side * min(max_h / h, max_w / w))
    kResolutionMaxSide,  // Idefics3 / SmolVLM's get_resize_output_image_size(resolution_max_side):
                         // the long side to it, the other int(side * ratio) made even, then both
                         // scaled below MAX_IMAGE_SIZE (4096) if the long side exceeds it
    kVisionEncoder,  // Idefics3 / SmolVLM's resize_for_vision_encoder: both sides ceiled to multiples
                     // of vision_encoder_max_size (the short one from int(long / aspect ratio))
  };
  Kind kind = Kind::kExact;
  int64_t height = 0, width = 0, shortest_edge = 0;
  std::optional<int64_t> max_size;  // shortest-edge rule: cap on the long side (HF max_size)
  bool keep_aspect_ratio = false;
  int64_t multiple = 1;  // ensure_multiple_of / size_divisor / smart_resize's factor
  double min_pixels = 0, max_pixels = 0;  // smart_resize (Python ints or floats)
  bool yolos = false;                       // kDetr: Yolos's branch order and mod_size
  int64_t mod_size = 0;                     // kDetr with yolos: floor to a multiple (0: none)
  int64_t max_height = 0, max_width = 0;    // kMaxHeightWidth
  int64_t max_side = 0;                     // kResolutionMaxSide / kVisionEncoder

  // params: {"size": {...}, "keep_aspect_ratio": b, "ensure_multiple_of": n, "size_divisor": n}
  // or {"smart_resize": {"factor": n, "min_pixels": n, "max_pixels": n}}
  // or {"detr_resize": {"shortest_edge": n, "longest_edge": n|null, "yolos": b, "mod_size": n}}
  // or {"size": {"max_height": n, "max_width": n}}
  // or {"resolution_max_side": n} or {"vision_encoder_max_size": n}
  static ResizeRule from_params(const nlohmann::json& params);
  // (out_h, out_w) for an input of (in_h, in_w).
  std::pair<int64_t, int64_t> output_size(int64_t in_h, int64_t in_w) const;
};

class ResizeOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {"size", "size.height", "size.width", "size.shortest_edge", "size.longest_edge", "resample",
                                                     "size_divisor", "keep_aspect_ratio", "ensure_multiple_of",
                                                     "smart_resize", "smart_resize.factor", "smart_resize.min_pixels",
                                                     "smart_resize.max_pixels",
                                                     "detr_resize", "detr_resize.shortest_edge",
                                                     "detr_resize.longest_edge", "detr_resize.yolos",
                                                     "detr_resize.mod_size", "size.max_height", "size.max_width",
                                                     "resolution_max_side", "vision_encoder_max_size", "pil_image",
                                                     "channels_first"};
  struct Crop {
    int64_t height, width;
  };
  // params: the rule's keys and "resample" (Pillow's filter code, 0..5); "pil_image": true resizes
  // as Idefics3's resize does (resize_pil: uint8 out whatever the input, one channel NEAREST, four
  // channels through premultiplied alpha) instead of image_transforms.resize; "channels_first":
  // true when transformers holds the arrays channels first (then an image is a "P" image, resized
  // with NEAREST, when its width is 1, whatever its channels: pil_filter).
  ResizeOp(const nlohmann::json& params, Target target = Target::kImage);
  ResizeOp(ResizeRule rule, Resample filter, std::optional<Crop> crop, Target target = Target::kImage,
           bool pil_image = false, bool channels_first = false);

  std::string name() const override { return crop_ ? "resize+center_crop" : "resize"; }
  Target target() const override { return target_; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  // uint8 images: the input columns and rows Pillow's coefficients for the output window (the
  // fused crop, else the whole output) touch, both passes; a window entirely outside the resized
  // image reads nothing (an empty rectangle). Other inputs: nullopt (all).
  std::optional<Rect> input_region(const TensorSpec& in) const override;
  // uint8 images: min(in_h / out_h, in_w / out_w) (integer division, as PIL's Image.draft
  // reckons it), so that the shrunk input still covers the resize output on both sides.
  int64_t max_input_reduction(const TensorSpec& in) const override;
  // uint8 images whose resize has a horizontal pass with a convolution filter
  // (ResizeStream::supported): the input's rows are resampled horizontally strip by strip as
  // they arrive. Others: nullptr.
  std::unique_ptr<RowConsumer> row_consumer(const TensorSpec& in) const override;
  // Exact sizes ("size"); shortest-edge sizes without a cap ("size.shortest_edge": the short side
  // becomes shortest_edge and the long one at least that).
  std::optional<OutputFloor> output_floor() const override;

  const ResizeRule& rule() const { return rule_; }
  Resample filter() const { return filter_; }
  bool pil_image() const { return pil_image_; }
  // The same resize with a center crop of the output folded in.
  std::shared_ptr<ResizeOp> with_crop(Crop crop) const;

 private:
  // rule().output_size(in_h, in_w), or nullopt where it throws (run() reports the error).
  std::optional<std::pair<int64_t, int64_t>> output_size(int64_t in_h, int64_t in_w) const;
  // The window of the (out_h, out_w) resized image the op outputs: the fused crop, else all of it.
  Rect window(int64_t out_h, int64_t out_w) const;

  ResizeRule rule_;
  Resample filter_;
  std::optional<Crop> crop_;
  Target target_;
  bool pil_image_ = false, channels_first_ = false;
  // The filter Pillow applies to an image of `channels` channels and `width` columns (pil_image:
  // NEAREST for a "P" image).
  Resample filter_for(int64_t channels, int64_t width) const {
    return pil_image_ ? pil_filter(channels, width, channels_first_, filter_) : filter_;
  }
  // pil_image and four channels resized with a convolution: premultiplied alpha around resize_u8.
  bool premultiplies(int64_t channels, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w) const {
    return pil_image_ && channels == 4 && filter_for(channels, in_w) != Resample::kNearest &&
           (in_h != out_h || in_w != out_w);
  }
};

}  // namespace pixelflow::ops
