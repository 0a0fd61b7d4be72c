// Semantic-segmentation classes: preprocess() also takes segmentation_maps, each image's channel
// layout is inferred on its own, and they have post_process_semantic_segmentation.
// MobileNetV2ImageProcessor, BeitImageProcessor, SegformerImageProcessor, DPTImageProcessor,
// MobileViTImageProcessor.
#include "pipelines/processors/declare.h"

namespace pixelflow::pipelines::processors {

namespace {

// MobileNetV2: as CLIP; segmentation maps are reduced, resized with NEAREST and cropped.
Plan mobilenet_v2_plan(PlanBuilder& b) {
  b.labels([&] {
    if (b.on("do_resize")) b.label_resize(b.shortest_or_exact_size(), kNearest);
    if (b.on("do_center_crop")) b.label_center_crop();
  });
  b.clip_chain();
  return b.plan;
}

// BEiT: resize exactly, center_crop, rescale, normalize. Maps use the image's resample filter.
Plan beit_plan(PlanBuilder& b) {
  b.deit_chain();
  b.labels([&] {
    if (b.on("do_resize")) b.label_resize(b.exact_size(), ops::param_int(b.p, "resample"));
    if (b.on("do_center_crop")) b.label_center_crop();
  });
  return b.plan;
}

// Segformer: resize exactly, rescale, normalize. Maps: NEAREST.
Plan segformer_plan(PlanBuilder& b) {
  if (b.on("do_resize")) b.resize_exact();
  b.rescale_normalize_layout();
  b.labels([&] {
    if (b.on("do_resize")) b.label_resize(b.exact_size(), kNearest);
  });
  return b.plan;
}

// DPT: its own size rule (keep_aspect_ratio, ensure_multiple_of, Python's round), rescale,
// normalize, then zero padding to a multiple of size_divisor (after normalize).
Plan dpt_plan(PlanBuilder& b) {
  auto dpt_size = [&] {
    json extra = {{"keep_aspect_ratio", b.on("keep_aspect_ratio")},
                  {"ensure_multiple_of", b.p.contains("ensure_multiple_of") && !b.p.at("ensure_multiple_of").is_null()
                                             ? b.p.at("ensure_multiple_of") : json(1)}};
    return extra;
  };
  if (b.on("do_resize")) {
    json params = dpt_size();
    params["size"] = b.exact_size();
    params["resample"] = ops::param_int(b.p, "resample");
    b.op("resize", params);
  }
  if (b.on("do_rescale")) b.rescale();
  if (b.on("do_normalize")) b.normalize();
  if (b.on("do_pad")) b.op("pad", {{"size_divisor", b.p.at("size_divisor")}});
  b.layout();
  b.labels([&] {
    if (b.on("do_resize")) b.label_resize(b.exact_size(), ops::param_int(b.p, "resample"), dpt_size());
  });
  return b.plan;
}

void dpt_ensure_multiple_of(const CallContext& c, const json& /*size*/) {
  c.positive_int("ensure_multiple_of", "do_resize is true");
}
void dpt_pad(const CallContext& c) {
  if (c.flag("do_pad")) c.positive_int("size_divisor", "do_pad is true");
}

// MobileViT: resize, rescale, center_crop (after rescale), flip to BGR; no normalize. Maps:
// NEAREST, cropped, not flipped.
Plan mobilevit_plan(PlanBuilder& b) {
  if (b.on("do_resize")) b.resize_shortest_or_exact();
  if (b.on("do_rescale")) b.rescale();
  if (b.on("do_center_crop")) b.center_crop();
  if (b.on("do_flip_channel_order")) b.op("flip_channel_order", json::object());
  b.layout();
  b.labels([&] {
    if (b.on("do_resize")) b.label_resize(b.shortest_or_exact_size(), kNearest);
    if (b.on("do_center_crop")) b.label_center_crop();
  });
  return b.plan;
}

const InitParam kReduceLabels = raw("do_reduce_labels", false);

}  // namespace

// models/mobilenet_v2/image_processing_mobilenet_v2.py
ProcessorDecl mobilenet_v2() {
  return {
      .name = "MobileNetV2ImageProcessor",
      .model_types = {"mobilenet_v2"},
      .init = params({resize_params(se(256), false, kBilinear), crop_params(true, hw(224, 224)), rescale_params(),
                      normalize_params(kImagenetStandardMean, kImagenetStandardStd), {kReduceLabels}}),
      .segmentation_maps = true,
      .call = {.size_norm = SizeNorm::kNonSquare, .resize_needs = ResizeNeeds::kShortestOrHeightWidth},
      .plan = mobilenet_v2_plan,
      .infers_layout_per_image = true,
      .semantic_segmentation = true,
  };
}

// models/beit/image_processing_beit.py (__init__ filtered: unknown keys dropped with a warning)
ProcessorDecl beit() {
  return {
      .name = "BeitImageProcessor",
      .model_types = {"beit", "data2vec-vision"},
      .init = params({resize_params(hw(256, 256), true, kBicubic), crop_params(true, hw(224, 224)),
                      factor_rescale_params(), normalize_params(kImagenetStandardMean, kImagenetStandardStd),
                      {kReduceLabels}}),
      .filtered_init = true,
      .legacy_keys = {"reduce_labels"},
      .preprocess_params = args({kResizeArgs, kCropArgs, kRescaleArgs, kNormalizeArgs, {"do_reduce_labels"}, kFormatArgs}),
      .segmentation_maps = true,
      .call = {.data_format_nullable = true},
      .plan = beit_plan,
      .infers_layout_per_image = true,
      .semantic_segmentation = true,
  };
}

// models/segformer/image_processing_segformer.py (__init__ filtered; legacy reduce_labels dropped)
ProcessorDecl segformer() {
  return {
      .name = "SegformerImageProcessor",
      .model_types = {"segformer", "upernet"},
      .init = params({resize_params(hw(512, 512), true, kBilinear), rescale_params(),
                      normalize_params(kImagenetDefaultMean, kImagenetDefaultStd), {kReduceLabels}}),
      .filtered_init = true,
      .legacy_keys = {"reduce_labels"},
      .segmentation_maps = true,
      .call = {.size_norm = SizeNorm::kLazySquare, .data_format_nullable = true},
      .plan = segformer_plan,
      .infers_layout_per_image = true,
      .semantic_segmentation = true,
  };
}

// models/dpt/image_processing_dpt.py
ProcessorDecl dpt() {
  return {
      .name = "DPTImageProcessor",
      .model_types = {"depth_anything", "dpt"},
      .init = params({resize_params(hw(384, 384), true, kBicubic),
                      {raw("keep_aspect_ratio", false), raw("ensure_multiple_of", 1)}, rescale_params(),
                      normalize_params(kImagenetStandardMean, kImagenetStandardStd),
                      {raw("do_pad", false), raw("size_divisor", nullptr), kReduceLabels}}),
      .preprocess_params = args({{"do_resize", "size", "keep_aspect_ratio", "ensure_multiple_of", "resample"},
                                 kRescaleArgs, kNormalizeArgs, {"do_pad", "size_divisor", "do_reduce_labels"},
                                 kFormatArgs}),
      .segmentation_maps = true,
      .call = {.data_format_nullable = true, .check_resize = dpt_ensure_multiple_of, .check_extra = dpt_pad},
      .plan = dpt_plan,
      .infers_layout_per_image = true,
      .semantic_segmentation = true,
  };
}

// models/mobilevit/image_processing_mobilevit.py (no normalize; flips RGB -> BGR)
ProcessorDecl mobilevit() {
  return {
      .name = "MobileViTImageProcessor",
      .model_types = {"mobilevit", "mobilevitv2"},
      .init = params({resize_params(se(224), false, kBicubic), rescale_params(), crop_params(true, hw(256, 256)),
                      {raw("do_flip_channel_order", true), kReduceLabels}}),
      .segmentation_maps = true,
      .call = {.size_norm = SizeNorm::kNonSquare, .resize_needs = ResizeNeeds::kShortestOrHeightWidth,
               .validate_normalize = false},
      .plan = mobilevit_plan,
      .infers_layout_per_image = true,
      .semantic_segmentation = true,
  };
}

}  // namespace pixelflow::pipelines::processors
