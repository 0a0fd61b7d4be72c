// Qwen2VLImageProcessor (Qwen2-VL, Qwen2.5-VL, Qwen3-VL checkpoints): smart_resize to multiples of
// patch_size * merge_size within [min_pixels, max_pixels], rescale, normalize, then each image
// repeated temporal_patch_size times and cut into merge-ordered patches: pixel_values
// (sum of patches, C*T*P*P) and image_grid_thw (images, 3). Each image is processed on its own
// (its layout inferred from itself).
#include "pipelines/processors/declare.h"
#include "pipelines/processors/py_semantics.h"

namespace pixelflow::pipelines::processors {

namespace {

constexpr int64_t kMinPixels = 56 * 56, kMaxPixels = 28 * 28 * 1280;
const char* const kSizeKeysError = "size must contain 'shortest_edge' and 'longest_edge' keys.";

bool is_min_max_dict(const json& size) {
  return size.is_object() && size.contains("shortest_edge") && size.contains("longest_edge");
}

// __init__: size (both keys, or the default), overridden by min_pixels / max_pixels; the
// attributes min_pixels and max_pixels are the size's entries.
void qwen_init(InitContext& init) {
  json& a = init.attrs;
  json size = a.contains("size") ? a["size"] : json();
  if (!size.is_null()) {
    if (!is_min_max_dict(size))
      throw detail::config_error(init.source_of("size"), "size", std::string(kSizeKeysError) + " Got " + detail::show(size));
  } else {
    size = {{"shortest_edge", kMinPixels}, {"longest_edge", kMaxPixels}};
  }
  if (a.contains("min_pixels") && !a["min_pixels"].is_null()) size["shortest_edge"] = a["min_pixels"];
  if (a.contains("max_pixels") && !a["max_pixels"].is_null()) size["longest_edge"] = a["max_pixels"];
  a["min_pixels"] = size["shortest_edge"];
  a["max_pixels"] = size["longest_edge"];
  a["size"] = size;
}

// preprocess(): a size passed to the call wins; else min_pixels / max_pixels (the call's, else
// the attributes) make the size; else the size attribute.
void qwen_args(CallContext& c) {
  const json* size = c.call_arg("size");
  const json* mn = c.call_arg("min_pixels");
  const json* mx = c.call_arg("max_pixels");
  const json min_pixels = mn ? *mn : c.attribute("min_pixels");
  const json max_pixels = mx ? *mx : c.attribute("max_pixels");
  if (size) {
    if (!is_min_max_dict(*size)) throw c.err("size", std::string(kSizeKeysError) + " Got " + detail::show(*size));
    c.set("size", *size, true);
  } else if (!min_pixels.is_null() && !max_pixels.is_null()) {
    c.set("size", {{"shortest_edge", min_pixels}, {"longest_edge", max_pixels}}, mn || mx);
  } else {
    c.set("size", c.attribute("size"), false);
  }
}

// validate_preprocess_arguments(do_resize=..., size=size, resample=...).
void qwen_resize_args(const CallContext& c) {
  if (c.flag("do_resize") && (c.val("size").is_null() || c.val("resample").is_null()))
    throw c.err(c.val("size").is_null() ? "size" : "resample",
                "size and resample must be specified if do_resize is true (transformers raises ValueError)");
}

// smart_resize reads size["shortest_edge"] and size["longest_edge"] (KeyError otherwise).
void qwen_check_size(const CallContext& c, const json& /*normalized size*/) {
  const json& size = c.val("size");
  if (!is_min_max_dict(size)) throw c.err("size", std::string(kSizeKeysError) + " Got " + detail::show(size));
  // Numbers (Python compares and divides ints, floats and bools alike); 0 or negative bounds fail
  // in smart_resize only where transformers' arithmetic fails.
  for (const char* k : {"shortest_edge", "longest_edge"})
    if (!size.at(k).is_number() && !size.at(k).is_boolean())
      throw c.err("size", std::string("size[\"") + k + "\"] must be a number of pixels, got " + detail::show(size.at(k)));
}

// The patch layout always runs.
void qwen_check_patches(const CallContext& c) {
  for (const char* k : {"patch_size", "temporal_patch_size", "merge_size"}) c.positive_int(k, "cutting patches");
}

Plan qwen_plan(PlanBuilder& b) {
  const int64_t patch = ops::param_side(b.p, "patch_size"), merge = ops::param_side(b.p, "merge_size");
  if (b.on("do_resize")) {
    const json& size = b.p.at("size");
    int64_t factor = 0;
    if (__builtin_mul_overflow(patch, merge, &factor) || factor > ops::kMaxSide)
      throw ConfigError("patch_size", "patch_size * merge_size is too large");
    const auto number = [](const json& v) { return v.is_boolean() ? json(v.get<bool>() ? 1 : 0) : v; };
    b.op("resize", {{"smart_resize",
                     {{"factor", factor},
                      {"min_pixels", number(size.at("shortest_edge"))},
                      {"max_pixels", number(size.at("longest_edge"))}}},
                    {"resample", ops::param_int(b.p, "resample")}});
  }
  if (b.on("do_rescale")) b.rescale();
  if (b.on("do_normalize")) b.normalize();
  // data_format only decides a transpose that transformers undoes before cutting patches.
  b.op("to_channel_dimension_format", {{"data_format", "channels_first"}});
  b.op("patchify", {{"patch_size", patch},
                    {"temporal_patch_size", ops::param_side(b.p, "temporal_patch_size")},
                    {"merge_size", merge}});
  b.plan.batching = Batching::kPatches;
  return b.plan;
}

}  // namespace

// models/qwen2_vl/image_processing_qwen2_vl.py
ProcessorDecl qwen2_vl() {
  return {
      .name = "Qwen2VLImageProcessor",
      .model_types = {"colqwen2", "qwen2_5_omni", "qwen2_5_vl", "qwen2_vl", "qwen3_omni_moe", "qwen3_vl"},
      .init = params({{raw("do_resize", true), raw("size", nullptr), raw("resample", kBicubic)}, rescale_params(),
                      normalize_params(kOpenaiClipMean, kOpenaiClipStd),
                      {raw("do_convert_rgb", true), raw("min_pixels", nullptr), raw("max_pixels", nullptr),
                       raw("patch_size", 14), raw("temporal_patch_size", 2), raw("merge_size", 2)}}),
      .after_init = qwen_init,
      .preprocess_params = args({{"do_resize", "size", "min_pixels", "max_pixels", "resample"}, kRescaleArgs,
                                 kNormalizeArgs,
                                 {"patch_size", "temporal_patch_size", "merge_size", "do_convert_rgb"}, kFormatArgs}),
      .strict_kwargs = true,
      .call = {.resolve_args = qwen_args, .size_norm = SizeNorm::kNone, .resize_needs = ResizeNeeds::kNone,
               .validate_rescale = false, .validate_resize_args = qwen_resize_args,
               .check_resize = qwen_check_size, .check_extra = qwen_check_patches},
      .plan = qwen_plan,
      .infers_layout_per_image = true,
  };
}

}  // namespace pixelflow::pipelines::processors
