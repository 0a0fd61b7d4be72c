// LlavaNextImageProcessor ("anyres"): each image becomes its base image (resized to a square of the
// shortest edge) followed by the patches of the image resized into the best grid resolution of
// image_grid_pinpoints (op llava_next_patches, Plan::tile_ops); every one of them then goes
// through CLIP's chain (resize, center_crop, rescale, normalize, layout). pixel_values: one
// (patches, C, H, W) array per image, zero-padded to the batch's most patches with do_pad
// (Batching::kTilesPerInput); image_sizes: each image's (height, width).
// LlavaOnevisionImageProcessor: the same tiling with size's (height, width) for the base image and
// size's height for the patches, every patch then resized to size (no crop); an image passed with
// others in one sample (nested lists) is padded to a square of image_mean's color instead of
// tiled; batch_num_images: the images of each sample (Plan::group_sizes_key).
#include "pipelines/processors/declare.h"

namespace pixelflow::pipelines::processors {

namespace {

constexpr const char* kPadColor = "pad_to_square_color";  // set by llava_onevision_args

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

const json kOnevisionPinpoints = [] {
  json p = json::array();
  for (int h = 384; h <= 2304; h += 384)
    for (int w = 384; w <= 2304; w += 384) p.push_back({h, w});
  return p;
}();

// size_tuple: (height, width), or (shortest_edge, shortest_edge).
std::pair<json, json> onevision_size(const json& size) {
  if (size.contains("height") && size.contains("width")) return {size.at("height"), size.at("width")};
  if (size.contains("shortest_edge")) return {size.at("shortest_edge"), size.at("shortest_edge")};
  throw ConfigError("size", "LlavaOnevisionImageProcessor needs size with height and width, or shortest_edge, got " +
                                size.dump());
}

Plan llava_onevision_plan(PlanBuilder& b) {
  const auto [h, w] = onevision_size(size_of(b.p, "size"));
  b.plan.tile_ops.push_back({"llava_next_patches",
                             {{"image_grid_pinpoints", b.p.at("image_grid_pinpoints")},
                              {"patch_size", h},
                              {"base_size", json::array({h, w})},
                              {"resample", ops::param_int(b.p, "resample")},
                              {"grouped_pad_color", b.p.at(kPadColor)}}});
  if (b.on("do_resize")) b.resize({{"height", h}, {"width", w}});
  b.rescale_normalize_layout();
  b.plan.batching = Batching::kTilesPerInput;
  b.plan.pad_tiles = b.on("do_pad");
  b.plan.input_sizes_key = "image_sizes";
  b.plan.group_sizes_key = "batch_num_images";
  return b.plan;
}

// pad_to_square's background: tuple(int(x * 255) for x in self.image_mean), the processor's
// attribute whatever the call passes (a number stays a number: iterating it fails when used).
void llava_onevision_args(CallContext& c) {
  const json& mean = c.attribute("image_mean");
  json color = mean;
  if (mean.is_array()) {
    color = json::array();
    for (const auto& x : mean) {
      if (!x.is_number()) throw c.err("image_mean", "must be a list of numbers, got " + mean.dump());
      color.push_back(static_cast<int64_t>(x.get<double>() * 255.0));
    }
  }
  c.set(kPadColor, std::move(color), false);
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


// models/llava_onevision/image_processing_llava_onevision.py
ProcessorDecl llava_onevision() {
  return {
      .name = "LlavaOnevisionImageProcessor",
      .model_types = {"llava_onevision"},
      .init = params({{raw("do_resize", true), nonsquare_size("size", hw(384, 384)),
                       or_default("image_grid_pinpoints", kOnevisionPinpoints), raw("resample", kBicubic)},
                      rescale_params(), normalize_params(kOpenaiClipMean, kOpenaiClipStd),
                      {raw("do_pad", true), raw("do_convert_rgb", true)}}),
      .preprocess_params = args({{"do_resize", "size", "image_grid_pinpoints", "resample"}, kRescaleArgs,
                                 kNormalizeArgs, {"do_pad", "do_convert_rgb"}, kFormatArgs}),
      .strict_kwargs = true,
      .call = {.resolve_args = llava_onevision_args, .size_norm = SizeNorm::kNonSquare,
               .resize_needs = ResizeNeeds::kShortestOrHeightWidth},
      .plan = llava_onevision_plan,
  };
}

}  // namespace pixelflow::pipelines::processors
