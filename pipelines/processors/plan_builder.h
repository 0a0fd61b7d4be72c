// Internal to pipelines/processors/: what the plan functions of the family files build a Plan with
// (the ops of Hugging Face's transforms, read from the arguments resolve_call() produced).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "ops/common/params.h"
#include "ops/to_channel_dimension_format/to_channel_dimension_format.h"
#include "registry/plan.h"

namespace pixelflow::pipelines::processors {

// A do_* flag of the resolved arguments (missing or null: false).
inline bool flag(const nlohmann::json& p, const char* key) {
  if (!p.contains(key) || p.at(key).is_null()) return false;
  return ops::param_bool(p, key);
}

inline nlohmann::json size_of(const nlohmann::json& p, const char* key) {
  if (!p.contains(key) || !p.at(key).is_object())
    throw ConfigError(key, "must be a size dict, got " + (p.contains(key) ? p.at(key).dump() : std::string("nothing")));
  return p.at(key);
}

// A plan under construction.
class PlanBuilder {
 public:
  using json = nlohmann::json;
  const json& p;  // the resolved preprocess() arguments
  Plan plan;

  PlanBuilder(const std::string& cls, const json& params, bool load_image) : p(params) {
    plan.processor_class = cls;
    plan.load.convert_rgb = flag(p, "do_convert_rgb");
    plan.load.exif_transpose = load_image;
    if (p.contains("input_data_format") && !p.at("input_data_format").is_null())
      plan.load.input_data_format = ops::parse_layout(p.at("input_data_format"), "input_data_format");
  }

  bool on(const char* key) const { return flag(p, key); }

  void op(const std::string& name, json params) { plan.image_ops.push_back({name, std::move(params)}); }
  void label_op(const std::string& name, json params) {
    plan.label_ops.push_back({name, std::move(params), Target::kLabels});
  }

  void resize(json size) {
    op("resize", {{"size", std::move(size)}, {"resample", ops::param_int(p, "resample")}});
  }
  // HF's resize with {"shortest_edge"} -> get_resize_output_image_size(default_to_square=False),
  // {"height","width"} -> exactly that (CLIP, Bit, MobileNetV2, ...).
  void resize_shortest_or_exact() { resize(shortest_or_exact_size()); }
  void resize_exact() { resize(exact_size()); }
  void center_crop() { op("center_crop", {{"crop_size", size_of(p, "crop_size")}}); }
  void center_crop(int64_t h, int64_t w) { op("center_crop", {{"crop_size", {{"height", h}, {"width", w}}}}); }
  void rescale(bool offset = false) {
    op("rescale", {{"rescale_factor", ops::param_double(p, "rescale_factor")}, {"offset", offset}});
  }
  void normalize() { op("normalize", {{"image_mean", p.at("image_mean")}, {"image_std", p.at("image_std")}}); }
  void layout() {
    json fmt = p.contains("data_format") ? p.at("data_format") : json("channels_first");
    if (fmt.is_null()) {
      // data_format=None keeps the input's layout.
      fmt = plan.load.input_data_format == Layout::kChannelsLast ? "channels_last" : "channels_first";
      if (!plan.load.input_data_format) fmt = "input";
    }
    op("to_channel_dimension_format", {{"data_format", fmt}});
  }

  // Segmentation maps (label_ops run only when the call has them): reduce_label when asked,
  // then the resize / crops the processor applies to maps, then int64.
  void labels(const std::function<void()>& geometry) {
    if (on("do_reduce_labels")) label_op("reduce_label", json::object());
    geometry();
    label_op("astype", {{"dtype", "int64"}});
  }
  void label_resize(json size, int64_t resample, json extra = json::object()) {
    extra["size"] = std::move(size);
    extra["resample"] = resample;
    label_op("resize", std::move(extra));
  }
  void label_center_crop() { label_op("center_crop", {{"crop_size", size_of(p, "crop_size")}}); }
  json exact_size() const {
    json size = size_of(p, "size");
    if (!size.contains("height") || !size.contains("width"))
      throw ConfigError("size", "The `size` dictionary must contain the keys `height` and `width`. Got " + size.dump());
    return {{"height", size.at("height")}, {"width", size.at("width")}};
  }
  json shortest_or_exact_size() const {
    json size = size_of(p, "size");
    if (size.contains("shortest_edge")) return {{"shortest_edge", size.at("shortest_edge")}};
    if (size.contains("height") && size.contains("width"))
      return {{"height", size.at("height")}, {"width", size.at("width")}};
    throw ConfigError("size", "Size must contain either 'shortest_edge' or 'height' and 'width'. Got " + size.dump());
  }

  // CLIP's chain (also Bit, MobileNetV2, VideoMAE): resize (shortest edge or exact), center_crop,
  // rescale, normalize, layout.
  void clip_chain() {
    if (on("do_resize")) resize_shortest_or_exact();
    if (on("do_center_crop")) center_crop();
    rescale_normalize_layout();
  }

  // DeiT's chain (also BEiT): resize exactly, center_crop, rescale, normalize, layout.
  void deit_chain() {
    if (on("do_resize")) resize_exact();
    if (on("do_center_crop")) center_crop();
    rescale_normalize_layout();
  }

  // The common tail: rescale, normalize, final layout.
  void rescale_normalize_layout() {
    if (on("do_rescale")) rescale();
    if (on("do_normalize")) normalize();
    layout();
  }
};

}  // namespace pixelflow::pipelines::processors
