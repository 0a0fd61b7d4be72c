// Gemma3ImageProcessor: resize to (size["height"], size["width"]), rescale, normalize, layout; with
// do_pan_and_scan, an image much wider than tall (or taller than wide) is followed by its crops
// (op pan_and_scan), each processed like an image. Outputs: pixel_values (images and crops, in
// order) and num_crops (crops per image; 0 without pan and scan).
#include "pipelines/processors/declare.h"

namespace pixelflow::pipelines::processors {

namespace {

Plan gemma3_plan(PlanBuilder& b) {
  if (b.on("do_pan_and_scan"))
    b.plan.tile_ops.push_back({"pan_and_scan",
                               {{"pan_and_scan_min_crop_size", b.p.at("pan_and_scan_min_crop_size")},
                                {"pan_and_scan_max_num_crops", b.p.at("pan_and_scan_max_num_crops")},
                                {"pan_and_scan_min_ratio_to_activate", b.p.at("pan_and_scan_min_ratio_to_activate")}}});
  if (b.on("do_resize")) b.resize_exact();
  b.rescale_normalize_layout();
  b.plan.tiles_key = "num_crops";
  b.plan.tiles_without_tile_ops = 0;
  return b.plan;
}

// pan_and_scan computes with its three settings (transformers fails with a TypeError on None).
void gemma3_check(const CallContext& c) {
  if (!c.flag("do_pan_and_scan")) return;
  for (const char* k : {"pan_and_scan_min_crop_size", "pan_and_scan_max_num_crops"})
    if (!c.val(k).is_number_integer())
      throw c.err(k, std::string("must be an integer when do_pan_and_scan is true, got ") + c.val(k).dump());
  if (!c.val("pan_and_scan_min_ratio_to_activate").is_number() || c.val("pan_and_scan_min_ratio_to_activate").is_boolean())
    throw c.err("pan_and_scan_min_ratio_to_activate",
                "must be a number when do_pan_and_scan is true, got " + c.val("pan_and_scan_min_ratio_to_activate").dump());
}

}  // namespace

// models/gemma3/image_processing_gemma3.py
ProcessorDecl gemma3() {
  return {
      .name = "Gemma3ImageProcessor",
      .model_types = {"gemma3"},
      .init = params({resize_params(hw(224, 224), true, kBilinear), rescale_params(),
                      normalize_params(kImagenetStandardMean, kImagenetStandardStd),
                      {raw("do_convert_rgb", true), raw("do_pan_and_scan", nullptr),
                       raw("pan_and_scan_min_crop_size", nullptr), raw("pan_and_scan_max_num_crops", nullptr),
                       raw("pan_and_scan_min_ratio_to_activate", nullptr)}}),
      .preprocess_params = args({kResizeArgs, kRescaleArgs, kNormalizeArgs, kFormatArgs,
                                 {"do_convert_rgb", "do_pan_and_scan", "pan_and_scan_min_crop_size",
                                  "pan_and_scan_max_num_crops", "pan_and_scan_min_ratio_to_activate"}}),
      .call = {.size_norm = SizeNorm::kNonSquare, .resize_needs = ResizeNeeds::kHeightWidth, .check_extra = gemma3_check},
      .plan = gemma3_plan,
  };
}

}  // namespace pixelflow::pipelines::processors
