#include "pipelines/processor_plans.h"

#include <functional>
#include <map>

#include "base/errors.h"
#include "ops/common/params.h"
#include "ops/to_channel_dimension_format/to_channel_dimension_format.h"

namespace pixelflow::pipelines {

namespace {

using nlohmann::json;

bool flag(const json& p, const char* key) {
  if (!p.contains(key) || p.at(key).is_null()) return false;
  return ops::param_bool(p, key);
}

json size_of(const json& p, const char* key) {
  if (!p.contains(key) || !p.at(key).is_object())
    throw ConfigError(key, "must be a size dict, got " + (p.contains(key) ? p.at(key).dump() : std::string("nothing")));
  return p.at(key);
}

// A plan under construction.
struct Builder {
  const json& p;
  Plan plan;

  Builder(const std::string& cls, const json& params, const PlanOptions& opts) : p(params) {
    plan.processor_class = cls;
    plan.load.convert_rgb = flag(p, "do_convert_rgb");
    plan.load.exif_transpose = opts.load_image;
    if (p.contains("input_data_format") && !p.at("input_data_format").is_null())
      plan.load.input_data_format = ops::parse_layout(p.at("input_data_format"), "input_data_format");
  }

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
    if (flag(p, "do_reduce_labels")) label_op("reduce_label", json::object());
    geometry();
    label_op("astype", {{"dtype", "int64"}});
  }
  void label_resize(json size, int64_t resample, json extra = json::object()) {
    extra["size"] = std::move(size);
    extra["resample"] = resample;
    label_op("resize", std::move(extra));
  }
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

  // The common tail: rescale, normalize, final layout.
  void rescale_normalize_layout() {
    if (flag(p, "do_rescale")) rescale();
    if (flag(p, "do_normalize")) normalize();
    layout();
  }
};

// CLIP, Bit, MobileNetV2: resize (shortest edge or exact), center_crop, rescale, normalize.
Plan clip_like(Builder& b) {
  if (flag(b.p, "do_resize")) b.resize_shortest_or_exact();
  if (flag(b.p, "do_center_crop")) b.center_crop();
  b.rescale_normalize_layout();
  return b.plan;
}

// MobileNetV2: as CLIP; segmentation maps are reduced, resized with NEAREST and cropped.
Plan mobilenet_v2(Builder& b) {
  b.labels([&] {
    if (flag(b.p, "do_resize")) b.label_resize(b.shortest_or_exact_size(), 0);
    if (flag(b.p, "do_center_crop")) b.label_op("center_crop", {{"crop_size", size_of(b.p, "crop_size")}});
  });
  return clip_like(b);
}

// ViT, Siglip: resize to exactly size, rescale, normalize.
Plan vit_like(Builder& b) {
  if (flag(b.p, "do_resize")) b.resize_exact();
  b.rescale_normalize_layout();
  return b.plan;
}

// DeiT: resize exactly, center_crop, rescale, normalize.
Plan deit(Builder& b) {
  if (flag(b.p, "do_resize")) b.resize_exact();
  if (flag(b.p, "do_center_crop")) b.center_crop();
  b.rescale_normalize_layout();
  return b.plan;
}

// ConvNext: below 384, resize the shortest edge to int(shortest_edge / crop_pct) and crop a
// shortest_edge square; from 384 on, warp to a square.
Plan convnext(Builder& b) {
  if (flag(b.p, "do_resize")) {
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

// LeViT: a shortest edge is first scaled by 256/224.
Plan levit(Builder& b) {
  if (flag(b.p, "do_resize")) {
    json size = size_of(b.p, "size");
    if (size.contains("shortest_edge")) {
      int64_t se = ops::param_side(size, "shortest_edge", "size");
      b.resize({{"shortest_edge", ops::side_from_double((256.0 / 224.0) * static_cast<double>(se), "size.shortest_edge",
                                                        "size.shortest_edge * 256 / 224")}});
    } else {
      b.resize_exact();
    }
  }
  if (flag(b.p, "do_center_crop")) b.center_crop();
  b.rescale_normalize_layout();
  return b.plan;
}

// PoolFormer: with crop_pct, the size is divided by it first.
Plan poolformer(Builder& b) {
  if (flag(b.p, "do_resize")) {
    json size = size_of(b.p, "size");
    const json& crop_pct = b.p.contains("crop_pct") ? b.p.at("crop_pct") : json();
    if (!crop_pct.is_null()) {
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
    } else {
      b.resize_shortest_or_exact();
    }
  }
  if (flag(b.p, "do_center_crop")) b.center_crop();
  b.rescale_normalize_layout();
  return b.plan;
}

// EfficientNet: rescale with optional offset, normalize, and with include_top a second division
// by std.
Plan efficientnet(Builder& b) {
  if (flag(b.p, "do_resize")) b.resize_exact();
  if (flag(b.p, "do_center_crop")) b.center_crop();
  if (flag(b.p, "do_rescale")) b.rescale(flag(b.p, "rescale_offset"));
  if (flag(b.p, "do_normalize")) b.normalize();
  if (flag(b.p, "include_top"))
    b.op("normalize", {{"image_mean", 0.0}, {"image_std", b.p.at("image_std")}});
  b.layout();
  return b.plan;
}

// BEiT: resize exactly, center_crop, rescale, normalize. Maps use the image's resample filter.
Plan beit(Builder& b) {
  if (flag(b.p, "do_resize")) b.resize_exact();
  if (flag(b.p, "do_center_crop")) b.center_crop();
  b.rescale_normalize_layout();
  b.labels([&] {
    if (flag(b.p, "do_resize")) b.label_resize(b.exact_size(), ops::param_int(b.p, "resample"));
    if (flag(b.p, "do_center_crop")) b.label_op("center_crop", {{"crop_size", size_of(b.p, "crop_size")}});
  });
  return b.plan;
}

// Segformer: resize exactly, rescale, normalize. Maps: NEAREST.
Plan segformer(Builder& b) {
  if (flag(b.p, "do_resize")) b.resize_exact();
  b.rescale_normalize_layout();
  b.labels([&] {
    if (flag(b.p, "do_resize")) b.label_resize(b.exact_size(), 0);
  });
  return b.plan;
}

// DPT: its own size rule (keep_aspect_ratio, ensure_multiple_of, Python's round), rescale,
// normalize, then zero padding to a multiple of size_divisor (after normalize).
Plan dpt(Builder& b) {
  auto dpt_size = [&] {
    json extra = {{"keep_aspect_ratio", flag(b.p, "keep_aspect_ratio")},
                  {"ensure_multiple_of", b.p.contains("ensure_multiple_of") && !b.p.at("ensure_multiple_of").is_null()
                                             ? b.p.at("ensure_multiple_of") : json(1)}};
    return extra;
  };
  if (flag(b.p, "do_resize")) {
    json params = dpt_size();
    params["size"] = b.exact_size();
    params["resample"] = ops::param_int(b.p, "resample");
    b.op("resize", params);
  }
  if (flag(b.p, "do_rescale")) b.rescale();
  if (flag(b.p, "do_normalize")) b.normalize();
  if (flag(b.p, "do_pad")) b.op("pad", {{"size_divisor", b.p.at("size_divisor")}});
  b.layout();
  b.labels([&] {
    if (flag(b.p, "do_resize")) b.label_resize(b.exact_size(), ops::param_int(b.p, "resample"), dpt_size());
  });
  return b.plan;
}

// GLPN: floor both sides to a multiple of size_divisor, rescale (no normalize).
Plan glpn(Builder& b) {
  if (flag(b.p, "do_resize"))
    b.op("resize", {{"size_divisor", b.p.at("size_divisor")}, {"resample", ops::param_int(b.p, "resample")}});
  if (flag(b.p, "do_rescale")) b.rescale();
  b.layout();
  return b.plan;
}

// MobileViT: resize, rescale, center_crop (after rescale), flip to BGR; no normalize. Maps:
// NEAREST, cropped, not flipped.
Plan mobilevit(Builder& b) {
  if (flag(b.p, "do_resize")) b.resize_shortest_or_exact();
  if (flag(b.p, "do_rescale")) b.rescale();
  if (flag(b.p, "do_center_crop")) b.center_crop();
  if (flag(b.p, "do_flip_channel_order")) b.op("flip_channel_order", json::object());
  b.layout();
  b.labels([&] {
    if (flag(b.p, "do_resize")) b.label_resize(b.shortest_or_exact_size(), 0);
    if (flag(b.p, "do_center_crop")) b.label_op("center_crop", {{"crop_size", size_of(b.p, "crop_size")}});
  });
  return b.plan;
}

// Perceiver: center_crop first (relative to the shortest edge), then resize exactly.
Plan perceiver(Builder& b) {
  if (flag(b.p, "do_center_crop"))
    b.op("center_crop", {{"crop_size", size_of(b.p, "crop_size")}, {"size", b.exact_size()}});
  if (flag(b.p, "do_resize")) b.resize_exact();
  b.rescale_normalize_layout();
  return b.plan;
}

// ImageGPT: resize exactly, normalize to [-1, 1] (x / 127.5 - 1), then colour quantization
// into input_ids, or pixel_values without it.
Plan imagegpt(Builder& b) {
  if (flag(b.p, "do_resize")) b.resize_exact();
  if (flag(b.p, "do_normalize")) b.op("rescale", {{"rescale_factor", 1 / 127.5}, {"offset", true}});
  if (flag(b.p, "do_color_quantize")) {
    b.op("color_quantize", {{"clusters", b.p.at("clusters")}});
    b.plan.image_key = "input_ids";
  } else {
    b.layout();
  }
  return b.plan;
}

// VideoMAE: every frame as CLIP does it (without convert_rgb); the output is (N, T, C, H, W).
Plan videomae(Builder& b) {
  b.plan.video = true;
  if (flag(b.p, "do_resize")) b.resize_shortest_or_exact();
  if (flag(b.p, "do_center_crop")) b.center_crop();
  b.rescale_normalize_layout();
  return b.plan;
}

using PlanFn = std::function<Plan(Builder&)>;

const std::map<std::string, PlanFn>& plans() {
  static const std::map<std::string, PlanFn> m = {
      {"CLIPImageProcessor", clip_like},
      {"BitImageProcessor", clip_like},
      {"MobileNetV2ImageProcessor", mobilenet_v2},
      {"BeitImageProcessor", beit},
      {"SegformerImageProcessor", segformer},
      {"DPTImageProcessor", dpt},
      {"GLPNImageProcessor", glpn},
      {"MobileViTImageProcessor", mobilevit},
      {"PerceiverImageProcessor", perceiver},
      {"ImageGPTImageProcessor", imagegpt},
      {"VideoMAEImageProcessor", videomae},
      {"ViTImageProcessor", vit_like},
      {"SiglipImageProcessor", vit_like},
      {"DeiTImageProcessor", deit},
      {"ConvNextImageProcessor", convnext},
      {"LevitImageProcessor", levit},
      {"PoolFormerImageProcessor", poolformer},
      {"EfficientNetImageProcessor", efficientnet},
  };
  return m;
}

}  // namespace

bool infers_layout_per_image(const std::string& processor_class) {
  static const char* const kClasses[] = {"MobileNetV2ImageProcessor", "BeitImageProcessor", "SegformerImageProcessor",
                                         "DPTImageProcessor",         "MobileViTImageProcessor", "VideoMAEImageProcessor"};
  for (const char* c : kClasses)
    if (processor_class == c) return true;
  return false;
}

Plan make_plan(const std::string& processor_class, const json& params, const PlanOptions& opts) {
  auto it = plans().find(processor_class);
  if (it == plans().end()) {
    std::string known;
    for (const auto& kv : plans()) known += (known.empty() ? "" : ", ") + kv.first;
    throw ConfigError("image_processor_type",
                      processor_class + " is not supported yet (supported: " + known + ")");
  }
  Builder b(processor_class, params, opts);
  Plan plan = it->second(b);
  if (infers_layout_per_image(processor_class))
    plan.load.infer_layout_per_input = !plan.load.input_data_format.has_value();
  return plan;
}

}  // namespace pixelflow::pipelines
