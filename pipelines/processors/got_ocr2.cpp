// GotOcr2ImageProcessor: with crop_to_patches (and max_patches > 1) each image is cut into tiles
// of `size` on the grid closest to its aspect ratio (min_patches..max_patches tiles, BICUBIC
// whatever `resample` says) plus a thumbnail, the tiling InternVL-style models use; every tile
// (or, without tiling, every image) is then resized to `size`, rescaled, normalized and laid out.
// Outputs: pixel_values (tiles, C, H, W) and num_patches (tiles per image).
#include "pipelines/processors/declare.h"

namespace pixelflow::pipelines::processors {

namespace {

Plan got_ocr2_plan(PlanBuilder& b) {
  if (b.on("crop_to_patches") && ops::param_int(b.p, "max_patches") > 1) {
    const json size = b.exact_size();
    b.plan.tile_ops.push_back({"crop_to_patches",
                               {{"min_patches", ops::param_int(b.p, "min_patches")},
                                {"max_patches", ops::param_int(b.p, "max_patches")},
                                {"patch_size", size},
                                {"resample", kBicubic},  // crop_image_to_patches calls resize() with its default
                                {"use_thumbnail", true}}});
  }
  b.deit_chain();
  b.plan.tiles_key = "num_patches";
  return b.plan;
}

// crop_to_patches reads size["height"] / size["width"] and integer tile counts.
void got_ocr2_check(const CallContext& c) {
  if (!c.flag("crop_to_patches")) return;
  for (const char* k : {"min_patches", "max_patches"})
    if (!c.val(k).is_number_integer())
      throw c.err(k, std::string("must be an integer number of tiles when crop_to_patches is true, got ") + c.val(k).dump());
  const json& size = c.val("size");
  if (c.val("max_patches").get<int64_t>() > 1 && (!size.is_object() || !size.contains("height") || !size.contains("width")))
    throw c.err("size", "crop_to_patches needs size with height and width, got " + size.dump());
}

}  // namespace

// models/got_ocr2/image_processing_got_ocr2.py
ProcessorDecl got_ocr2() {
  return {
      .name = "GotOcr2ImageProcessor",
      .model_types = {"got_ocr2"},
      .init = params({{raw("do_resize", true), square_size("size", hw(384, 384)), raw("crop_to_patches", false),
                       raw("min_patches", 1), raw("max_patches", 12), raw("resample", kBicubic)},
                      rescale_params(), normalize_params(kOpenaiClipMean, kOpenaiClipStd),
                      {raw("do_convert_rgb", true)}}),
      .preprocess_params = args({{"do_resize", "size", "crop_to_patches", "min_patches", "max_patches", "resample"},
                                 kRescaleArgs, kNormalizeArgs,
                                 {"return_tensors", "do_convert_rgb", "data_format", "input_data_format"}}),
      .call = {.size_norm = SizeNorm::kNonSquare, .resize_needs = ResizeNeeds::kHeightWidth,
               .check_extra = got_ocr2_check},
      .plan = got_ocr2_plan,
  };
}

}  // namespace pixelflow::pipelines::processors
