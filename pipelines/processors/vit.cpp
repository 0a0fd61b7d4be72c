// ViT-like classes: resize to exactly size["height"] x size["width"], then rescale, normalize.
// ViTImageProcessor, SiglipImageProcessor, DeiTImageProcessor, EfficientNetImageProcessor,
// PerceiverImageProcessor.
#include "pipelines/processors/declare.h"

namespace pixelflow::pipelines::processors {

namespace {

// ViT, Siglip: resize to exactly size, rescale, normalize.
Plan vit_plan(PlanBuilder& b) {
  if (b.on("do_resize")) b.resize_exact();
  b.rescale_normalize_layout();
  return b.plan;
}

// DeiT: resize exactly, center_crop, rescale, normalize.
Plan deit_plan(PlanBuilder& b) {
  b.deit_chain();
  return b.plan;
}

// EfficientNet: rescale with optional offset, normalize, and with include_top a second division
// by std.
Plan efficientnet_plan(PlanBuilder& b) {
  if (b.on("do_resize")) b.resize_exact();
  if (b.on("do_center_crop")) b.center_crop();
  if (b.on("do_rescale")) b.rescale(b.on("rescale_offset"));
  if (b.on("do_normalize")) b.normalize();
  if (b.on("include_top")) b.op("normalize", {{"image_mean", 0.0}, {"image_std", b.p.at("image_std")}});
  b.layout();
  return b.plan;
}

// EfficientNet's include_top divides by image_std a second time.
void efficientnet_include_top(const CallContext& c) {
  if (!c.flag("include_top")) return;
  if (c.val("image_std").is_null())
    throw c.err("image_std", "must be specified if include_top is true (include_top divides by image_std again)");
  c.check_mean_std("image_std", true);
}

// Perceiver: center_crop first (relative to the shortest edge), then resize exactly.
Plan perceiver_plan(PlanBuilder& b) {
  if (b.on("do_center_crop"))
    b.op("center_crop", {{"crop_size", size_of(b.p, "crop_size")}, {"size", b.exact_size()}});
  if (b.on("do_resize")) b.resize_exact();
  b.rescale_normalize_layout();
  return b.plan;
}

// PerceiverImageProcessor.center_crop crops to (size / crop_size) * min(H, W).
void perceiver_center_crop(const CallContext& c, const json& /*crop*/, const json& size) {
  if (!size.contains("height") || !size.contains("width"))
    throw c.err("size", "PerceiverImageProcessor.center_crop uses size[\"height\"] and size[\"width\"], got " +
                            keys_of(size));
  c.positive_int_entry("size", size, "height");
  c.positive_int_entry("size", size, "width");
}

// ViT's and Siglip's preprocess() signature: do_convert_rgb comes last.
std::vector<std::string> vit_args() { return args({kResizeArgs, kRescaleArgs, kNormalizeArgs, kFormatArgs, {"do_convert_rgb"}}); }

}  // namespace

// models/vit/image_processing_vit.py
ProcessorDecl vit() {
  return {
      .name = "ViTImageProcessor",
      .model_types = {"clipseg", "dinat", "ijepa", "mgp-str", "nat", "swiftformer", "swin", "swinv2", "vit", "vit_mae",
                      "vit_msn"},
      .init = params({resize_params(hw(224, 224), true, kBilinear), rescale_params(),
                      normalize_params(kImagenetStandardMean, kImagenetStandardStd), {raw("do_convert_rgb", nullptr)}}),
      .preprocess_params = vit_args(),
      .plan = vit_plan,
  };
}

// models/siglip/image_processing_siglip.py: __init__ does NOT call get_size_dict (size kept raw),
// preprocess() converts it with default_to_square=False.
ProcessorDecl siglip() {
  return {
      .name = "SiglipImageProcessor",
      .model_types = {"gemma3n", "paligemma", "siglip"},
      .init = params({{raw("do_resize", true), or_default("size", hw(224, 224)), raw("resample", kBicubic)},
                      rescale_params(), normalize_params(kImagenetStandardMean, kImagenetStandardStd),
                      {raw("do_convert_rgb", nullptr)}}),
      .preprocess_params = vit_args(),
      .call = {.size_norm = SizeNorm::kNonSquare, .size_error_hint = " (an int size means shortest_edge here)"},
      .plan = vit_plan,
  };
}

// models/deit/image_processing_deit.py
ProcessorDecl deit() {
  return {
      .name = "DeiTImageProcessor",
      .model_types = {"deit"},
      .init = params({resize_params(hw(256, 256), true, kBicubic), crop_params(true, hw(224, 224)),
                      factor_rescale_params(), normalize_params(kImagenetStandardMean, kImagenetStandardStd)}),
      .preprocess_params = args({kResizeArgs, kCropArgs, kRescaleArgs, kNormalizeArgs, kFormatArgs}),
      .plan = deit_plan,
  };
}

// models/efficientnet/image_processing_efficientnet.py (resample: 5.0; 4.57 writes NEAREST)
ProcessorDecl efficientnet() {
  return {
      .name = "EfficientNetImageProcessor",
      .model_types = {"align", "efficientnet"},
      .init = params({resize_params(hw(346, 346), true, kBicubic), crop_params(false, hw(289, 289)),
                      {raw("rescale_factor", kRescale), raw("rescale_offset", false), raw("do_rescale", true)},
                      normalize_params(kImagenetStandardMean, kImagenetStandardStd), {raw("include_top", true)}}),
      .preprocess_params = args({kResizeArgs, kCropArgs, kRescaleArgs, {"rescale_offset"}, kNormalizeArgs,
                                 {"include_top"}, kFormatArgs}),
      .call = {.check_extra = efficientnet_include_top},
      .plan = efficientnet_plan,
  };
}

// models/perceiver/image_processing_perceiver.py (crop_size evaluated before size)
ProcessorDecl perceiver() {
  return {
      .name = "PerceiverImageProcessor",
      .model_types = {"perceiver"},
      .init = params({crop_params(true, hw(256, 256)), resize_params(hw(224, 224), true, kBicubic), rescale_params(),
                      normalize_params(kImagenetDefaultMean, kImagenetDefaultStd)}),
      .legacy_keys = {"center_crop_size"},
      .call = {.check_center_crop = perceiver_center_crop},
      .plan = perceiver_plan,
  };
}

}  // namespace pixelflow::pipelines::processors
