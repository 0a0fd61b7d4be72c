// Internal to pipelines/processors/: the building blocks the family files declare classes with
// (transformers' constants, __init__ parameter groups, preprocess() argument groups).
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipelines/processors/plan_builder.h"
#include "pipelines/processors/processor.h"

namespace pixelflow::pipelines::processors {

using nlohmann::json;

// transformers.image_utils constants (Python floats, written here with the same shortest digits).
inline const json kImagenetDefaultMean = json::array({0.485, 0.456, 0.406});
inline const json kImagenetDefaultStd = json::array({0.229, 0.224, 0.225});
inline const json kImagenetStandardMean = json::array({0.5, 0.5, 0.5});
inline const json kImagenetStandardStd = json::array({0.5, 0.5, 0.5});
inline const json kOpenaiClipMean = json::array({0.48145466, 0.4578275, 0.40821073});
inline const json kOpenaiClipStd = json::array({0.26862954, 0.26130258, 0.27577711});
inline constexpr double kRescale = 1.0 / 255.0;  // 1 / 255 in Python: 0.00392156862745098

// PILImageResampling (PIL.Image.Resampling, an IntEnum: json.dumps writes the int).
inline constexpr int kNearest = 0, kBilinear = 2, kBicubic = 3;

inline json hw(int h, int w) { return json{{"height", h}, {"width", w}}; }
inline json se(int s) { return json{{"shortest_edge", s}}; }

// One __init__ parameter.
inline InitParam raw(std::string name, json default_value) { return {std::move(name), std::move(default_value), InitMode::kRaw}; }
inline InitParam or_default(std::string name, json default_value) {
  return {std::move(name), std::move(default_value), InitMode::kDefaultIfNull};
}
inline InitParam square_size(std::string name, json default_value) {
  return {std::move(name), std::move(default_value), InitMode::kSizeSquare};
}
inline InitParam nonsquare_size(std::string name, json default_value) {
  return {std::move(name), std::move(default_value), InitMode::kSizeNonSquare};
}

// __init__ parameter groups, in the order transformers writes them.
// do_resize, size, resample (size: get_size_dict with the given default_to_square).
inline std::vector<InitParam> resize_params(json size, bool square, int resample) {
  return {raw("do_resize", true), square ? square_size("size", std::move(size)) : nonsquare_size("size", std::move(size)),
          raw("resample", resample)};
}
// do_center_crop, crop_size.
inline std::vector<InitParam> crop_params(bool do_center_crop, json crop_size) {
  return {raw("do_center_crop", do_center_crop), square_size("crop_size", std::move(crop_size))};
}
// do_rescale, rescale_factor.
inline std::vector<InitParam> rescale_params() { return {raw("do_rescale", true), raw("rescale_factor", kRescale)}; }
// rescale_factor, do_rescale (DeiT, PoolFormer, Beit).
inline std::vector<InitParam> factor_rescale_params() {
  return {raw("rescale_factor", kRescale), raw("do_rescale", true)};
}
// do_normalize, image_mean, image_std.
inline std::vector<InitParam> normalize_params(const json& mean, const json& std) {
  return {raw("do_normalize", true), or_default("image_mean", mean), or_default("image_std", std)};
}

// preprocess() argument groups.
inline const std::vector<std::string> kResizeArgs = {"do_resize", "size", "resample"};
inline const std::vector<std::string> kCropArgs = {"do_center_crop", "crop_size"};
inline const std::vector<std::string> kRescaleArgs = {"do_rescale", "rescale_factor"};
inline const std::vector<std::string> kNormalizeArgs = {"do_normalize", "image_mean", "image_std"};
inline const std::vector<std::string> kFormatArgs = {"return_tensors", "data_format", "input_data_format"};

// The groups one after the other.
template <class T>
std::vector<T> cat(std::initializer_list<std::vector<T>> groups) {
  std::vector<T> out;
  for (const auto& g : groups) out.insert(out.end(), g.begin(), g.end());
  return out;
}
inline std::vector<InitParam> params(std::initializer_list<std::vector<InitParam>> groups) {
  return cat<InitParam>(groups);
}
inline std::vector<std::string> args(std::initializer_list<std::vector<std::string>> groups) {
  return cat<std::string>(groups);
}

}  // namespace pixelflow::pipelines::processors
