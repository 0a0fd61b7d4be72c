// ImageGPTImageProcessor: resize, normalize to [-1, 1], colour quantization into input_ids.
#include "pipelines/processors/declare.h"
#include "pipelines/processors/py_semantics.h"

namespace pixelflow::pipelines::processors {

namespace {

// ImageGPT: resize exactly, normalize to [-1, 1] (x / 127.5 - 1), then colour quantization
// into input_ids, or pixel_values without it.
Plan imagegpt_plan(PlanBuilder& b) {
  if (b.on("do_resize")) b.resize_exact();
  if (b.on("do_normalize")) b.op("rescale", {{"rescale_factor", 1 / 127.5}, {"offset", true}});
  if (b.on("do_color_quantize")) {
    b.op("color_quantize", {{"clusters", b.p.at("clusters")}});
    b.plan.image_key = "input_ids";
  } else {
    b.layout();
  }
  return b.plan;
}

bool is_cluster_matrix(const json& c) {
  if (!c.is_array() || c.empty()) return false;
  for (const auto& row : c) {
    if (!row.is_array() || row.size() != 3) return false;
    for (const auto& x : row)
      if (!detail::is_number(x)) return false;
  }
  return true;
}

void check_clusters(const CallContext& c) {
  if (!c.flag("do_color_quantize")) return;
  const json& clusters = c.val("clusters");
  if (clusters.is_null())
    throw c.err("clusters",
                "must be set when do_color_quantize is true (this config has no clusters; transformers fails with "
                "TypeError); pass do_color_quantize=false to get pixel_values");
  if (!is_cluster_matrix(clusters))
    throw c.err("clusters",
                "must be an (n_clusters, 3) array of numbers with n_clusters >= 1, got " + detail::show(clusters));
}

// With colour quantization the output is input_ids: data_format is never looked at.
bool quantizes(const CallContext& c) { return c.flag("do_color_quantize"); }

}  // namespace

// models/imagegpt/image_processing_imagegpt.py
ProcessorDecl imagegpt() {
  return {
      .name = "ImageGPTImageProcessor",
      .model_types = {"imagegpt"},
      .init = params({{{"clusters", nullptr, InitMode::kClusters}},
                      resize_params(hw(256, 256), true, kBilinear),
                      {raw("do_normalize", true), raw("do_color_quantize", true)}}),
      // The slow class has none of these; to_dict() writes them as null.
      .to_dict_nulls = {"image_mean", "image_std", "rescale_factor", "do_rescale"},
      .preprocess_params = args({kResizeArgs, {"do_normalize", "do_color_quantize", "clusters"}, kFormatArgs}),
      .call = {.validate_rescale = false, .validate_normalize = false, .normalize_uses_mean_std = false,
               .check_extra = check_clusters, .ignores_data_format = quantizes},
      .plan = imagegpt_plan,
  };
}

}  // namespace pixelflow::pipelines::processors
