// CLIP-like classes: resize (shortest edge or exact), center_crop, rescale, normalize.
// CLIPImageProcessor, BitImageProcessor, LevitImageProcessor.
#include "pipelines/processors/declare.h"
#include "pipelines/processors/py_semantics.h"

namespace pixelflow::pipelines::processors {

namespace {

// CLIPImageProcessor.__init__: backwards compatibility of KOSMOS-2 (`use_square_size`).
void use_square_size(InitContext& init) {
  json& attrs = init.attrs;
  if (!attrs.contains("use_square_size") || !detail::py_truthy(attrs["use_square_size"])) return;
  if (!attrs["size"].contains("shortest_edge"))
    throw detail::config_error(init.source_of("size"), "size",
                               "use_square_size needs a {\"shortest_edge\"} size (KeyError in transformers), got " +
                                   detail::show(attrs["size"]));
  const json s = attrs["size"]["shortest_edge"];
  attrs["size"] = json{{"height", s}, {"width", s}};
  attrs.erase("use_square_size");
}

Plan clip_plan(PlanBuilder& b) {
  b.clip_chain();
  return b.plan;
}

// LeViT: a shortest edge is first scaled by 256/224.
Plan levit_plan(PlanBuilder& b) {
  if (b.on("do_resize")) {
    json size = size_of(b.p, "size");
    if (size.contains("shortest_edge")) {
      int64_t se = ops::param_side(size, "shortest_edge", "size");
      b.resize({{"shortest_edge", ops::side_from_double((256.0 / 224.0) * static_cast<double>(se), "size.shortest_edge",
                                                        "size.shortest_edge * 256 / 224")}});
    } else {
      b.resize_exact();
    }
  }
  if (b.on("do_center_crop")) b.center_crop();
  b.rescale_normalize_layout();
  return b.plan;
}

// The call traits of the three: size not square, resized by shortest edge or to height x width.
const CallTraits kShortestEdgeCall = {.size_norm = SizeNorm::kNonSquare,
                                      .resize_needs = ResizeNeeds::kShortestOrHeightWidth};

// __init__ of CLIP and Bit (they differ only in CLIP's kwargs handling).
std::vector<InitParam> clip_init() {
  return params({resize_params(se(224), false, kBicubic), crop_params(true, hw(224, 224)), rescale_params(),
                 normalize_params(kOpenaiClipMean, kOpenaiClipStd), {raw("do_convert_rgb", true)}});
}

}  // namespace

// models/clip/image_processing_clip.py
ProcessorDecl clip() {
  return {
      .name = "CLIPImageProcessor",
      .model_types = {"aimv2", "aimv2_vision_model", "clip", "git", "groupvit", "kosmos-2", "metaclip_2", "mlcd",
                      "vipllava", "xclip"},
      .init = clip_init(),
      .after_init = use_square_size,
      .validate_kwargs_style = true,
      .call = kShortestEdgeCall,
      .plan = clip_plan,
  };
}

// models/bit/image_processing_bit.py
ProcessorDecl bit() {
  return {
      .name = "BitImageProcessor",
      .model_types = {"bit", "dinov2", "focalnet", "hiera"},
      .init = clip_init(),
      .call = kShortestEdgeCall,
      .plan = clip_plan,
  };
}

// models/levit/image_processing_levit.py
ProcessorDecl levit() {
  return {
      .name = "LevitImageProcessor",
      .model_types = {"levit"},
      .init = params({resize_params(se(224), false, kBicubic), crop_params(true, hw(224, 224)), rescale_params(),
                      normalize_params(kImagenetDefaultMean, kImagenetDefaultStd)}),
      .call = kShortestEdgeCall,
      .plan = levit_plan,
  };
}

}  // namespace pixelflow::pipelines::processors
