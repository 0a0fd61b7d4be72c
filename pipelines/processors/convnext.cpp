// Classes whose resize depends on crop_pct: ConvNextImageProcessor, PoolFormerImageProcessor.
#include "pipelines/processors/declare.h"
#include "pipelines/processors/py_semantics.h"

namespace pixelflow::pipelines::processors {

namespace {

using detail::is_number;
using detail::show;

// ConvNext: below 384, resize the shortest edge to int(shortest_edge / crop_pct) and crop a
// shortest_edge square; from 384 on, warp to a square.
Plan convnext_plan(PlanBuilder& b) {
  if (b.on("do_resize")) {
    json size = size_of(b.p, "size");
    if (!size.contains("shortest_edge"))
      throw ConfigError("size", "Size dictionary must contain 'shortest_edge' key. Got " + size.dump());
    int64_t se = ops::param_side(size, "shortest_edge", "size");
    if (se < 384) {
      double crop_pct = ops::param_double(b.p, "crop_pct");
      int64_t resize_se = ops::side_from_double(static_cast<double>(se) / crop_pct, "crop_pct",
                                                "size.shortest_edge / crop_pct");
      b.resize({{"shortest_edge", resize_se}});
      b.center_crop(se, se);
    } else {
      b.resize({{"height", se}, {"width", se}});
    }
  }
  b.rescale_normalize_layout();
  return b.plan;
}

void convnext_crop_pct(const CallContext& c, const json& size) {
  const int64_t se = size["shortest_edge"].get<int64_t>();
  if (se >= 384) return;
  const json& pct = c.val("crop_pct");
  if (!is_number(pct) || pct.get<double>() <= 0.0)
    throw c.err("crop_pct", "must be a number > 0 when size[\"shortest_edge\"] < 384, got " + show(pct));
  // int(x) < 1 is x < 1 for the x > 0 here (and a huge x must not be converted)
  if (static_cast<double>(se) / pct.get<double>() < 1)
    throw c.err("crop_pct", "int(shortest_edge / crop_pct) must be >= 1, got crop_pct " + show(pct));
}

// PoolFormer: with crop_pct, the size is divided by it first.
void poolformer_resize(PlanBuilder& b) {
  json size = size_of(b.p, "size");
  const json& crop_pct = b.p.contains("crop_pct") ? b.p.at("crop_pct") : json();
  if (crop_pct.is_null()) return b.resize_shortest_or_exact();
  double pct = ops::param_double(b.p, "crop_pct");
  auto scaled = [&](const char* key) {
    return ops::side_from_double(static_cast<double>(ops::param_side(size, key, "size")) / pct, "crop_pct",
                                 std::string("size.") + key + " / crop_pct");
  };
  if (size.contains("shortest_edge")) {
    b.resize({{"shortest_edge", scaled("shortest_edge")}});
  } else if (size.contains("height") && size.contains("width")) {
    if (size.at("height") == size.at("width"))
      b.resize({{"shortest_edge", scaled("height")}});
    else
      b.resize({{"height", scaled("height")}, {"width", scaled("width")}});
  } else {
    throw ConfigError("size", "Invalid size for resize: " + size.dump());
  }
}

Plan poolformer_plan(PlanBuilder& b) {
  if (b.on("do_resize")) poolformer_resize(b);
  if (b.on("do_center_crop")) b.center_crop();
  b.rescale_normalize_layout();
  return b.plan;
}

void poolformer_crop_pct(const CallContext& c, const json& size) {
  const json& pct = c.val("crop_pct");
  if (pct.is_null()) return;
  if (!is_number(pct) || pct.get<double>() <= 0.0)
    throw c.err("crop_pct", "must be a number > 0 (or null), got " + show(pct));
  for (const char* k : {"shortest_edge", "height", "width"})
    if (size.contains(k) && size[k].get<double>() / pct.get<double>() < 1)
      throw c.err("crop_pct", std::string("int(size[\"") + k + "\"] / crop_pct) must be >= 1, got crop_pct " + show(pct));
}

}  // namespace

// models/convnext/image_processing_convnext.py (crop_pct: None -> 224 / 256)
ProcessorDecl convnext() {
  return {
      .name = "ConvNextImageProcessor",
      .model_types = {"convnext", "convnextv2", "cvt", "regnet", "resnet", "van"},
      .init = params({{raw("do_resize", true), nonsquare_size("size", se(384)), or_default("crop_pct", 224.0 / 256.0),
                       raw("resample", kBicubic)},
                      rescale_params(), normalize_params(kImagenetStandardMean, kImagenetStandardStd)}),
      .call = {.size_norm = SizeNorm::kNonSquare, .resize_needs = ResizeNeeds::kShortestEdge,
               .check_resize = convnext_crop_pct},
      .plan = convnext_plan,
  };
}

// models/poolformer/image_processing_poolformer.py (crop_pct kept raw: null disables it)
ProcessorDecl poolformer() {
  return {
      .name = "PoolFormerImageProcessor",
      .model_types = {"poolformer"},
      .init = params({{raw("do_resize", true), nonsquare_size("size", se(224)), raw("crop_pct", 0.9),
                       raw("resample", kBicubic)},
                      crop_params(true, hw(224, 224)), factor_rescale_params(),
                      normalize_params(kImagenetDefaultMean, kImagenetDefaultStd)}),
      .legacy_keys = {"do_resize_and_center_crop"},
      .preprocess_params = args({{"do_resize", "size", "crop_pct", "resample"}, kCropArgs, kRescaleArgs,
                                 kNormalizeArgs, kFormatArgs}),
      .call = {.size_norm = SizeNorm::kNonSquare, .resize_needs = ResizeNeeds::kShortestOrHeightWidth,
               .check_resize = poolformer_crop_pct},
      .plan = poolformer_plan,
  };
}

}  // namespace pixelflow::pipelines::processors
