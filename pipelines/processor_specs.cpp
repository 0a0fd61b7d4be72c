#include "pipelines/processor_specs.h"

#include <algorithm>
#include <set>

#include "pipelines/py_json.h"

namespace pixelflow::pipelines::detail {

using nlohmann::json;

namespace {

// transformers.image_utils constants (Python floats, written here with the same shortest digits).
const json kImagenetDefaultMean = json::array({0.485, 0.456, 0.406});
const json kImagenetDefaultStd = json::array({0.229, 0.224, 0.225});
const json kImagenetStandardMean = json::array({0.5, 0.5, 0.5});
const json kImagenetStandardStd = json::array({0.5, 0.5, 0.5});
const json kOpenaiClipMean = json::array({0.48145466, 0.4578275, 0.40821073});
const json kOpenaiClipStd = json::array({0.26862954, 0.26130258, 0.27577711});
const double kRescale = 1.0 / 255.0;  // 1 / 255 in Python: 0.00392156862745098

// PILImageResampling (PIL.Image.Resampling, an IntEnum: json.dumps writes the int).
constexpr int kNearest = 0, kBilinear = 2, kBicubic = 3;

json hw(int h, int w) { return json{{"height", h}, {"width", w}}; }
json se(int s) { return json{{"shortest_edge", s}}; }

using M = InitMode;

std::vector<ClassSpec> build_specs() {
  using P = ProcessorId;
  std::vector<ClassSpec> s;
  const std::vector<std::string> fmt = {"return_tensors", "data_format", "input_data_format"};
  auto cat = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };

  // models/clip/image_processing_clip.py
  s.push_back({P::kCLIP, "CLIPImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", se(224), M::kSizeNonSquare},
                {"resample", kBicubic, M::kRaw},
                {"do_center_crop", true, M::kRaw},
                {"crop_size", hw(224, 224), M::kSizeSquare},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kOpenaiClipMean, M::kDefaultIfNull},
                {"image_std", kOpenaiClipStd, M::kDefaultIfNull},
                {"do_convert_rgb", true, M::kRaw}},
               false,
               {"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
                "do_normalize", "image_mean", "image_std", "do_convert_rgb", "return_tensors", "data_format",
                "input_data_format"},
               "images", false, true});
  // models/vit/image_processing_vit.py
  s.push_back({P::kViT, "ViTImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", hw(224, 224), M::kSizeSquare},
                {"resample", kBilinear, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetStandardMean, M::kDefaultIfNull},
                {"image_std", kImagenetStandardStd, M::kDefaultIfNull},
                {"do_convert_rgb", nullptr, M::kRaw}},
               false,
               {"do_resize", "size", "resample", "do_rescale", "rescale_factor", "do_normalize", "image_mean",
                "image_std", "return_tensors", "data_format", "input_data_format", "do_convert_rgb"},
               "images", false, false});
  // models/deit/image_processing_deit.py
  s.push_back({P::kDeiT, "DeiTImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", hw(256, 256), M::kSizeSquare},
                {"resample", kBicubic, M::kRaw},
                {"do_center_crop", true, M::kRaw},
                {"crop_size", hw(224, 224), M::kSizeSquare},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetStandardMean, M::kDefaultIfNull},
                {"image_std", kImagenetStandardStd, M::kDefaultIfNull}},
               false,
               cat({"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
                    "do_normalize", "image_mean", "image_std"},
                   fmt),
               "images", false, false});
  // models/convnext/image_processing_convnext.py (crop_pct: None -> 224 / 256)
  s.push_back({P::kConvNext, "ConvNextImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", se(384), M::kSizeNonSquare},
                {"crop_pct", 224.0 / 256.0, M::kDefaultIfNull},
                {"resample", kBicubic, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetStandardMean, M::kDefaultIfNull},
                {"image_std", kImagenetStandardStd, M::kDefaultIfNull}},
               false,
               cat({"do_resize", "size", "crop_pct", "resample", "do_rescale", "rescale_factor", "do_normalize",
                    "image_mean", "image_std"},
                   fmt),
               "images", false, false});
  // models/siglip/image_processing_siglip.py: __init__ does NOT call get_size_dict (size kept raw).
  s.push_back({P::kSiglip, "SiglipImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", hw(224, 224), M::kDefaultIfNull},
                {"resample", kBicubic, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetStandardMean, M::kDefaultIfNull},
                {"image_std", kImagenetStandardStd, M::kDefaultIfNull},
                {"do_convert_rgb", nullptr, M::kRaw}},
               false,
               {"do_resize", "size", "resample", "do_rescale", "rescale_factor", "do_normalize", "image_mean",
                "image_std", "return_tensors", "data_format", "input_data_format", "do_convert_rgb"},
               "images", false, false});
  // models/bit/image_processing_bit.py
  s.push_back({P::kBit, "BitImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", se(224), M::kSizeNonSquare},
                {"resample", kBicubic, M::kRaw},
                {"do_center_crop", true, M::kRaw},
                {"crop_size", hw(224, 224), M::kSizeSquare},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kOpenaiClipMean, M::kDefaultIfNull},
                {"image_std", kOpenaiClipStd, M::kDefaultIfNull},
                {"do_convert_rgb", true, M::kRaw}},
               false,
               {"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
                "do_normalize", "image_mean", "image_std", "do_convert_rgb", "return_tensors", "data_format",
                "input_data_format"},
               "images", false, false});
  // models/levit/image_processing_levit.py
  s.push_back({P::kLevit, "LevitImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", se(224), M::kSizeNonSquare},
                {"resample", kBicubic, M::kRaw},
                {"do_center_crop", true, M::kRaw},
                {"crop_size", hw(224, 224), M::kSizeSquare},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetDefaultMean, M::kDefaultIfNull},
                {"image_std", kImagenetDefaultStd, M::kDefaultIfNull}},
               false,
               cat({"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
                    "do_normalize", "image_mean", "image_std"},
                   fmt),
               "images", false, false});
  // models/poolformer/image_processing_poolformer.py (crop_pct kept raw: null disables it)
  s.push_back({P::kPoolFormer, "PoolFormerImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", se(224), M::kSizeNonSquare},
                {"crop_pct", 0.9, M::kRaw},
                {"resample", kBicubic, M::kRaw},
                {"do_center_crop", true, M::kRaw},
                {"crop_size", hw(224, 224), M::kSizeSquare},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetDefaultMean, M::kDefaultIfNull},
                {"image_std", kImagenetDefaultStd, M::kDefaultIfNull}},
               false,
               cat({"do_resize", "size", "crop_pct", "resample", "do_center_crop", "crop_size", "do_rescale",
                    "rescale_factor", "do_normalize", "image_mean", "image_std"},
                   fmt),
               "images", false, false});
  // models/mobilenet_v2/image_processing_mobilenet_v2.py
  s.push_back({P::kMobileNetV2, "MobileNetV2ImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", se(256), M::kSizeNonSquare},
                {"resample", kBilinear, M::kRaw},
                {"do_center_crop", true, M::kRaw},
                {"crop_size", hw(224, 224), M::kSizeSquare},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetStandardMean, M::kDefaultIfNull},
                {"image_std", kImagenetStandardStd, M::kDefaultIfNull},
                {"do_reduce_labels", false, M::kRaw}},
               false,
               cat({"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
                    "do_normalize", "image_mean", "image_std", "do_reduce_labels"},
                   fmt),
               "images", true, false});
  // models/efficientnet/image_processing_efficientnet.py
  s.push_back({P::kEfficientNet, "EfficientNetImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", hw(346, 346), M::kSizeSquare},
                {"resample", kBicubic, M::kRaw},  // 5.0 (4.57: NEAREST)
                {"do_center_crop", false, M::kRaw},
                {"crop_size", hw(289, 289), M::kSizeSquare},
                {"rescale_factor", kRescale, M::kRaw},
                {"rescale_offset", false, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetStandardMean, M::kDefaultIfNull},
                {"image_std", kImagenetStandardStd, M::kDefaultIfNull},
                {"include_top", true, M::kRaw}},
               false,
               cat({"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
                    "rescale_offset", "do_normalize", "image_mean", "image_std", "include_top"},
                   fmt),
               "images", false, false});
  // models/beit/image_processing_beit.py (__init__ filtered: unknown keys dropped with a warning)
  s.push_back({P::kBeit, "BeitImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", hw(256, 256), M::kSizeSquare},
                {"resample", kBicubic, M::kRaw},
                {"do_center_crop", true, M::kRaw},
                {"crop_size", hw(224, 224), M::kSizeSquare},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetStandardMean, M::kDefaultIfNull},
                {"image_std", kImagenetStandardStd, M::kDefaultIfNull},
                {"do_reduce_labels", false, M::kRaw}},
               true,
               cat({"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
                    "do_normalize", "image_mean", "image_std", "do_reduce_labels"},
                   fmt),
               "images", true, false});
  // models/segformer/image_processing_segformer.py (__init__ filtered; legacy reduce_labels dropped)
  s.push_back({P::kSegformer, "SegformerImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", hw(512, 512), M::kSizeSquare},
                {"resample", kBilinear, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetDefaultMean, M::kDefaultIfNull},
                {"image_std", kImagenetDefaultStd, M::kDefaultIfNull},
                {"do_reduce_labels", false, M::kRaw}},
               true,
               cat({"do_resize", "size", "resample", "do_rescale", "rescale_factor", "do_normalize", "image_mean",
                    "image_std", "do_reduce_labels"},
                   fmt),
               "images", true, false});
  // models/dpt/image_processing_dpt.py
  s.push_back({P::kDPT, "DPTImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", hw(384, 384), M::kSizeSquare},
                {"resample", kBicubic, M::kRaw},
                {"keep_aspect_ratio", false, M::kRaw},
                {"ensure_multiple_of", 1, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetStandardMean, M::kDefaultIfNull},
                {"image_std", kImagenetStandardStd, M::kDefaultIfNull},
                {"do_pad", false, M::kRaw},
                {"size_divisor", nullptr, M::kRaw},
                {"do_reduce_labels", false, M::kRaw}},
               false,
               cat({"do_resize", "size", "keep_aspect_ratio", "ensure_multiple_of", "resample", "do_rescale",
                    "rescale_factor", "do_normalize", "image_mean", "image_std", "do_pad", "size_divisor",
                    "do_reduce_labels"},
                   fmt),
               "images", true, false});
  // models/glpn/image_processing_glpn.py
  s.push_back({P::kGLPN, "GLPNImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size_divisor", 32, M::kRaw},
                {"resample", kBilinear, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw}},
               false, cat({"do_resize", "size_divisor", "resample", "do_rescale", "rescale_factor"}, fmt),
               "images", false, false});
  // models/mobilevit/image_processing_mobilevit.py (no normalize; flips RGB -> BGR)
  s.push_back({P::kMobileViT, "MobileViTImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", se(224), M::kSizeNonSquare},
                {"resample", kBicubic, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_center_crop", true, M::kRaw},
                {"crop_size", hw(256, 256), M::kSizeSquare},
                {"do_flip_channel_order", true, M::kRaw},
                {"do_reduce_labels", false, M::kRaw}},
               false,
               cat({"do_resize", "size", "resample", "do_rescale", "rescale_factor", "do_center_crop", "crop_size",
                    "do_flip_channel_order", "do_reduce_labels"},
                   fmt),
               "images", true, false});
  // models/perceiver/image_processing_perceiver.py (crop_size evaluated before size)
  s.push_back({P::kPerceiver, "PerceiverImageProcessor",
               {{"do_center_crop", true, M::kRaw},
                {"crop_size", hw(256, 256), M::kSizeSquare},
                {"do_resize", true, M::kRaw},
                {"size", hw(224, 224), M::kSizeSquare},
                {"resample", kBicubic, M::kRaw},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetDefaultMean, M::kDefaultIfNull},
                {"image_std", kImagenetDefaultStd, M::kDefaultIfNull}},
               false,
               cat({"do_center_crop", "crop_size", "do_resize", "size", "resample", "do_rescale", "rescale_factor",
                    "do_normalize", "image_mean", "image_std"},
                   fmt),
               "images", false, false});
  // models/imagegpt/image_processing_imagegpt.py
  s.push_back({P::kImageGPT, "ImageGPTImageProcessor",
               {{"clusters", nullptr, M::kClusters},
                {"do_resize", true, M::kRaw},
                {"size", hw(256, 256), M::kSizeSquare},
                {"resample", kBilinear, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"do_color_quantize", true, M::kRaw}},
               false,
               cat({"do_resize", "size", "resample", "do_normalize", "do_color_quantize", "clusters"}, fmt),
               "images", false, false});
  // models/videomae/image_processing_videomae.py
  s.push_back({P::kVideoMAE, "VideoMAEImageProcessor",
               {{"do_resize", true, M::kRaw},
                {"size", se(224), M::kSizeNonSquare},
                {"resample", kBilinear, M::kRaw},
                {"do_center_crop", true, M::kRaw},
                {"crop_size", hw(224, 224), M::kSizeSquare},
                {"do_rescale", true, M::kRaw},
                {"rescale_factor", kRescale, M::kRaw},
                {"do_normalize", true, M::kRaw},
                {"image_mean", kImagenetStandardMean, M::kDefaultIfNull},
                {"image_std", kImagenetStandardStd, M::kDefaultIfNull}},
               false,
               cat({"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor",
                    "do_normalize", "image_mean", "image_std"},
                   fmt),
               "videos", false, false});
  return s;
}

}  // namespace

bool ClassSpec::has_init_param(const std::string& key) const {
  return std::any_of(init.begin(), init.end(), [&](const InitParam& p) { return p.name == key; });
}

const std::vector<ClassSpec>& class_specs() {
  static const std::vector<ClassSpec> specs = build_specs();
  return specs;
}

const ClassSpec* find_class_spec(const std::string& canonical_name) {
  for (const auto& s : class_specs())
    if (s.name == canonical_name) return &s;
  return nullptr;
}

ConfigError config_error(const std::string& source, const std::string& key, const std::string& problem) {
  return source.empty() ? ConfigError(key, problem) : ConfigError(source, key, problem);
}

std::string show(const json& v) {
  std::string s = python_json_dumps(v, -1);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

bool py_truthy(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return false;
    case json::value_t::boolean: return v.get<bool>();
    case json::value_t::number_integer: return v.get<int64_t>() != 0;
    case json::value_t::number_unsigned: return v.get<uint64_t>() != 0;
    case json::value_t::number_float: return v.get<double>() != 0.0;
    case json::value_t::string: return !v.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object: return !v.empty();
    default: return true;
  }
}

bool is_py_int(const json& v) { return v.is_number_integer() || v.is_boolean(); }
bool is_number(const json& v) { return v.is_number(); }  // nlohmann: booleans are not numbers
bool is_integer(const json& v) { return v.is_number_integer(); }

json get_size_dict(const json& size, bool default_to_square, const std::string& param_name, const std::string& source) {
  json d;
  if (!size.is_object()) {
    // convert_to_size_dict(size, max_size=None, default_to_square, height_width_order=True)
    if (is_py_int(size)) {
      d = default_to_square ? json{{"height", size}, {"width", size}} : json{{"shortest_edge", size}};
    } else if (size.is_array()) {
      if (size.size() < 2)
        throw config_error(source, param_name,
                           "a size list must hold [height, width], got " + show(size) + " (IndexError in transformers)");
      d = json{{"height", size[0]}, {"width", size[1]}};
    } else {
      throw config_error(source, param_name,
                         "could not convert to a size dict (expected an int, a [height, width] list or a dict), got " +
                             show(size));
    }
  } else {
    d = size;
  }
  // is_valid_size_dict: the key set must be one of VALID_SIZE_DICT_KEYS.
  std::set<std::string> keys;
  for (auto it = d.begin(); it != d.end(); ++it) keys.insert(it.key());
  static const std::vector<std::set<std::string>> valid = {
      {"height", "width"}, {"shortest_edge"}, {"shortest_edge", "longest_edge"}, {"longest_edge"},
      {"max_height", "max_width"}};
  if (std::find(valid.begin(), valid.end(), keys) == valid.end()) {
    std::string got;
    for (const auto& k : keys) got += (got.empty() ? "" : ", ") + k;
    throw config_error(source, param_name,
                       "must have one of the key sets {height, width}, {shortest_edge}, {shortest_edge, longest_edge}, "
                       "{longest_edge}, {max_height, max_width}; got {" +
                           got + "}");
  }
  return d;
}

}  // namespace pixelflow::pipelines::detail
