// Internal to pipelines/: the declaration of one supported Hugging Face image-processor class.
// Everything pixelflow knows about a class is in its declaration: the __init__ parameters and
// defaults (config loading), the preprocess() signature and checks (resolve_call), the plan of ops
// (make_plan) and the post-processing it has. Declarations live in one file per family
// (pipelines/processors/<family>.cpp) and are collected, in order, by processor_list.def.
// See pipelines/PROCESSORS.md, "Adding a processor".
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "registry/plan.h"

namespace pixelflow::pipelines::processors {

class PlanBuilder;

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

// How preprocess() passes `size` through get_size_dict.
enum class SizeNorm {
  kSquare,      // default_to_square=True
  kNonSquare,   // default_to_square=False
  kLazySquare,  // only resize() converts it (and raises): an unusable size is an error only with do_resize
  kNone,        // the class has no size (GLPN)
};
// Which size dicts resize() accepts.
enum class ResizeNeeds { kHeightWidth, kShortestOrHeightWidth, kShortestEdge, kNone };

// What a per-class check sees of the call being resolved (implemented by resolve_call).
class CallContext {
 public:
  virtual ~CallContext() = default;
  virtual const std::string& class_name() const = 0;
  virtual const nlohmann::json& val(const std::string& key) const = 0;
  virtual bool flag(const std::string& key) const = 0;
  // ConfigError about `key`, located where its value came from.
  virtual ConfigError err(const std::string& key, const std::string& problem) const = 0;
  // Throws unless val(key) is an integer in 1..kMaxSide ("must be a positive integer when <why>").
  virtual void positive_int(const std::string& key, const std::string& why) const = 0;
  // The same for dict[sub], reported as "<key>.<sub>".
  virtual void positive_int_entry(const std::string& key, const nlohmann::json& dict, const std::string& sub) const = 0;
  // image_mean / image_std: numbers (std > 0), or non-empty lists of them.
  virtual void check_mean_std(const std::string& key, bool is_std) const = 0;

  // For CallTraits::resolve_args: the keyword argument as the caller passed it (nullptr when
  // absent or None), the processor's attribute (null when it has none), and replacing a value.
  virtual const nlohmann::json* call_arg(const std::string& key) const = 0;
  virtual const nlohmann::json& attribute(const std::string& key) const = 0;
  // `from_call`: errors about the value point at the call rather than the config. A key the
  // class's preprocess does not take is a value derived for the plan (resolved params carry it).
  virtual void set(const std::string& key, nlohmann::json value, bool from_call) = 0;
};

// "{a, b}": the keys of a size dict, for error messages.
std::string keys_of(const nlohmann::json& dict);

using CallCheck = void (*)(const CallContext& call);
using ArgsHook = void (*)(CallContext& call);
using SizeCheck = void (*)(const CallContext& call, const nlohmann::json& size);
using CropCheck = void (*)(const CallContext& call, const nlohmann::json& crop, const nlohmann::json& size);

// The argument handling at the top of preprocess() (see resolve_call), as named traits and checks.
struct CallTraits {
  // Argument handling the class does first, on the raw arguments (Qwen2-VL's min_pixels /
  // max_pixels / size), before the generic steps below.
  ArgsHook resolve_args = nullptr;
  SizeNorm size_norm = SizeNorm::kSquare;
  ResizeNeeds resize_needs = ResizeNeeds::kHeightWidth;
  // validate_preprocess_arguments(do_rescale=..., do_normalize=...) is passed these.
  bool validate_rescale = true;
  bool validate_normalize = true;
  // `if data_format is not None:` guards to_channel_dimension_format (null keeps the layout).
  bool data_format_nullable = false;
  // do_normalize uses image_mean / image_std (ImageGPT normalizes on its own).
  bool normalize_uses_mean_std = true;
  // Appended to the "needs height and width" error (Siglip: an int size is a shortest edge).
  std::string size_error_hint{};
  // Replaces validate_preprocess_arguments' "size and resample must be specified" (GLPN).
  CallCheck validate_resize_args = nullptr;
  // Class checks after the generic resize checks, given the normalized size (ConvNext, DPT, ...).
  SizeCheck check_resize = nullptr;
  // Class checks after the generic center_crop checks (Perceiver).
  CropCheck check_center_crop = nullptr;
  // Class checks after rescale / normalize, before the channel formats (EfficientNet, DPT, ImageGPT).
  CallCheck check_extra = nullptr;
  // True when this call never uses data_format (ImageGPT with do_color_quantize).
  bool (*ignores_data_format)(const CallContext& call) = nullptr;
};

// What a class's __init__ does beyond binding its parameters (CLIP's use_square_size).
struct InitContext {
  nlohmann::json& attrs;                                   // the attributes so far
  std::function<std::string(const std::string&)> source_of;  // where a key's value came from
};
using InitHook = void (*)(InitContext& init);

using PlanFn = Plan (*)(PlanBuilder& b);

struct ProcessorDecl {
  std::string name{};                    // canonical slow class, e.g. "CLIPImageProcessor"
  std::vector<std::string> model_types{};  // config.json model_type values AutoImageProcessor maps to it
  std::vector<InitParam> init{};         // in the order __init__ evaluates them
  bool filtered_init = false;            // @filter_out_non_signature_kwargs on __init__
  InitHook after_init = nullptr;         // the rest of __init__
  // Keys that look meaningful but are only attributes (kept and saved) or, with filtered_init, dropped.
  std::vector<std::string> legacy_keys{};
  std::vector<std::string> to_dict_nulls{};  // to_dict() writes these as null when present (ImageGPT)
  // preprocess() keyword params, data arguments excluded; empty: the init names, then
  // return_tensors, data_format, input_data_format (filled in by all_processors()).
  std::vector<std::string> preprocess_params{};
  std::string data_arg = "images";      // VideoMAE: "videos"
  bool segmentation_maps = false;       // preprocess also takes segmentation_maps
  bool detection_annotations = false;   // preprocess also takes annotations (COCO detection; DETR family)
  bool validate_kwargs_style = false;   // CLIP: **kwargs + validate_kwargs() instead of the filter
  // preprocess() has neither **kwargs nor the filter (Qwen2-VL): an unknown keyword is a TypeError.
  bool strict_kwargs = false;
  CallTraits call{};
  PlanFn plan = nullptr;
  // _preprocess_image infers the channel layout of each image (rather than once from images[0]).
  bool infers_layout_per_image = false;
  bool semantic_segmentation = false;   // has post_process_semantic_segmentation

  bool has_init_param(const std::string& key) const;
};

// Every supported class, in the order of processor_list.def.
const std::vector<ProcessorDecl>& all_processors();
// nullptr when `canonical_name` is not a supported class.
const ProcessorDecl* find_processor(const std::string& canonical_name);

}  // namespace pixelflow::pipelines::processors
