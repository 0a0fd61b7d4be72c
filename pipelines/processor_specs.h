// Internal to pipelines/: the table of the 18 supported image-processor classes (their __init__
// parameters and defaults, preprocess signature) and the Python-semantics helpers the config code
// shares (truthiness, isinstance(x, int), get_size_dict, error construction).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/errors.h"

namespace pixelflow::pipelines::detail {

enum class ProcessorId {
  kCLIP, kViT, kDeiT, kConvNext, kSiglip, kBit, kLevit, kPoolFormer, kMobileNetV2, kEfficientNet,
  kBeit, kSegformer, kDPT, kGLPN, kMobileViT, kPerceiver, kImageGPT, kVideoMAE,
};

// How one __init__ parameter turns the config value into the attribute.
enum class InitMode {
  kRaw,            // self.x = x            (JSON null stays null; the default applies only if missing)
  kDefaultIfNull,  // self.x = x if x is not None else DEFAULT
  kSizeSquare,     // get_size_dict(x if x is not None else DEFAULT, default_to_square=True)
  kSizeNonSquare,  // get_size_dict(x if x is not None else DEFAULT, default_to_square=False)
  kClusters,       // np.array(x) if x is not None else None   (to_dict: .tolist())
};

struct InitParam {
  std::string name;
  nlohmann::json default_value;
  InitMode mode;
};

struct ClassSpec {
  ProcessorId id;
  std::string name;
  std::vector<InitParam> init;                 // in the order __init__ evaluates them
  bool filtered_init;                          // @filter_out_non_signature_kwargs on __init__
  std::vector<std::string> preprocess_params;  // preprocess() keyword params, data arguments excluded
  std::string data_arg;                        // "images" (VideoMAE: "videos")
  bool segmentation_maps;                      // preprocess also takes segmentation_maps
  bool validate_kwargs_style;                  // CLIP: **kwargs + validate_kwargs() instead of the filter
  bool has_init_param(const std::string& key) const;
};

const std::vector<ClassSpec>& class_specs();
const ClassSpec* find_class_spec(const std::string& canonical_name);

// ConfigError about `key` located at `source` (where()): message "<source>: <key>: <problem>".
ConfigError config_error(const std::string& source, const std::string& key, const std::string& problem);

// Short JSON rendering of a value for error messages (long values are elided).
std::string show(const nlohmann::json& v);

bool py_truthy(const nlohmann::json& v);
bool is_py_int(const nlohmann::json& v);   // isinstance(v, int): JSON integers and booleans
bool is_number(const nlohmann::json& v);   // int or float, booleans excluded
bool is_integer(const nlohmann::json& v);  // JSON integer, booleans excluded

// transformers.image_processing_utils.get_size_dict(size, default_to_square=..., param_name=...);
// throws ConfigError (source, param_name) where it raises ValueError/IndexError.
nlohmann::json get_size_dict(const nlohmann::json& size, bool default_to_square, const std::string& param_name,
                             const std::string& source);

}  // namespace pixelflow::pipelines::detail
