// LlavaNextImageProcessor ("anyres"): each image becomes its base image (resized to a square of the
// shortest edge) followed by the patches of the image resized into the best grid resolution of
// image_grid_pinpoints (op llava_next_patches, Plan::tile_ops); every one of them then goes
// through CLIP's chain (resize, center_crop, rescale, normalize, layout). pixel_values: one
// (patches, C, H, W) array per image, zero-padded to the batch's most patches with do_pad
// (Batching::kTilesPerInput); image_sizes: each image's (height, width).
#include "pipelines/processors/declare.h"

namespace pixelflow::pipelines::processors {

namespace {

const json kDefaultPinpoints = json::array({{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}});

Plan llava_next_plan(PlanBuilder& b) {
  const json size = size_of(b.p, "size");
  int64_t base = 0;
  if (size.contains("shortest_edge")) {
    base = ops::param_side(size, "shortest_edge", "size");
  } else if (size.contains("height") && size.contains("width")) {
    base = std::min(ops::param_side(size, "height", "size"), ops::param_side(size, "width", "size"));
  } else {
    throw ConfigError("size", "LlavaNextImageProcessor needs size with shortest_edge, or height and width, got " +
                                  size.dump());
  }
  const json crop = size_of(b.p, "crop_size");
  if (!crop.contains("height")) throw ConfigError("crop_size", "needs a height (the patch size), got " + crop.dump());
  b.plan.tile_ops.push_back({"llava_next_patches",
                             {{"image_grid_pinpoints", b.p.at("image_grid_pinpoints")},
                              {"patch_size", crop.at("height")},
                              {"base_size", base},
                              {"resample", ops::param_int(b.p, "resample")}}});
  b.clip_chain();
  b.plan.batching = Batching::kTilesPerInput;
  b.plan.pad_tiles = b.on("do_pad");
  b.plan.input_sizes_key = "image_sizes";
  return b.plan;
}

}  // namespace

// models/llava_next/image_processing_llava_next.py
ProcessorDecl llava_next() {
  return {
      .name = "LlavaNextImageProcessor",
      .model_types = {"llava_next", "llava_next_video"},
      .init = params({{raw("do_resize", true), nonsquare_size("size", se(224)),
                       or_default("image_grid_pinpoints", kDefaultPinpoints), raw("resample", kBicubic)},
                      crop_params(true, hw(224, 224)), rescale_params(),
                      normalize_params(kOpenaiClipMean, kOpenaiClipStd),
                      {raw("do_pad", true), raw("do_convert_rgb", true)}}),
      .preprocess_params = args({{"do_resize", "size", "image_grid_pinpoints", "resample"}, kCropArgs, kRescaleArgs,
                                 kNormalizeArgs, {"do_pad", "do_convert_rgb"}, kFormatArgs}),
      .strict_kwargs = true,
      .call = {.size_norm = SizeNorm::kNonSquare, .resize_needs = ResizeNeeds::kShortestOrHeightWidth},
      .plan = llava_next_plan,
  };
}

}  // namespace pixelflow::pipelines::processors
