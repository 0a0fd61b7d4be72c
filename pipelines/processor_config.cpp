// Loading (from_pretrained / from_dict / __init__ emulation), to_dict and save_pretrained for the
// supported Hugging Face image processors. See processor_config.h.
#include "pipelines/processor_config.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "base/atomic_file.h"
#include "base/file_io.h"
#include "ops/common/params.h"
#include "base/text.h"
#include "pipelines/hub/hub.h"
#include "pipelines/processors/processor.h"
#include "pipelines/processors/py_semantics.h"
#include "pipelines/py_json.h"

namespace pixelflow::pipelines {

using nlohmann::json;
using nlohmann::ordered_json;
namespace fs = std::filesystem;
using detail::config_error;
using detail::show;
using processors::InitMode;
using processors::ProcessorDecl;

namespace {

// model_type (config.json) -> slow image processor, restricted to the supported classes
// (models/auto/image_processing_auto.py IMAGE_PROCESSOR_MAPPING_NAMES, v4.57): each declaration's
// model_types.
const std::map<std::string, std::string>& model_type_map() {
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> types;
    for (const auto& d : processors::all_processors())
      for (const auto& t : d.model_types) types[t] = d.name;
    return types;
  }();
  return m;
}

std::string supported_list() { return join(supported_processor_classes()); }

// A config given as a URL to a JSON file (fetched, not cached).
bool is_url_config(const std::string& p) { return p.rfind("https://", 0) == 0 || p.rfind("http://", 0) == 0; }

std::string read_text_file(const std::string& path) {
  return read_regular_file(path, kMaxConfigFileBytes, "a config file", FileRole::kConfig);
}

ordered_json parse_json_text(const std::string& text, const std::string& source) {
  return parse_config_json(text, source, "not a valid JSON file");
}

// AutoImageProcessor's fallback: the class named by (or the model_type of) the model's config.json
// in `config_dir`; std::nullopt when there is none to read.
std::optional<std::string> class_from_model_config(const std::string& config_dir) {
  if (config_dir.empty()) return std::nullopt;
  const fs::path cfg = fs::path(config_dir) / "config.json";
  std::error_code ec;
  if (!fs::is_regular_file(cfg, ec)) return std::nullopt;
  const ordered_json model_cfg = parse_json_text(read_text_file(cfg.string()), cfg.string());
  if (!model_cfg.is_object()) return std::nullopt;
  if (auto it = model_cfg.find("image_processor_type"); it != model_cfg.end() && it->is_string()) {
    auto c = canonical_processor_class(it->get<std::string>());
    if (!c)
      throw config_error(cfg.string(), "image_processor_type",
                         "unsupported image processor class " + show(json(*it)) + "; supported: " + supported_list());
    return *c;
  }
  if (auto it = model_cfg.find("model_type"); it != model_cfg.end() && it->is_string()) {
    auto m = model_type_map().find(it->get<std::string>());
    if (m == model_type_map().end())
      throw config_error(cfg.string(), "model_type",
                         "model type " + show(json(*it)) + " does not use a supported image processor; supported: " +
                             supported_list());
    return m->second;
  }
  return std::nullopt;
}

// Picks the class the way AutoImageProcessor does (image_processor_type, else feature_extractor_type
// with FeatureExtractor -> ImageProcessor, else the model config.json next to the file).
std::string resolve_class(const ordered_json& dict, const std::string& source, const LoadOptions& opts,
                          const std::string& config_dir, std::vector<std::string>& warnings) {
  auto canonical_or_throw = [&](const std::string& name, const std::string& key) {
    auto c = canonical_processor_class(name);
    if (!c)
      throw config_error(source, key, "unsupported image processor class \"" + name + "\"; supported: " + supported_list());
    if (*c != name)
      warnings.push_back("pixelflow: " + key + " names " + name + "; using the slow (PIL backend) " + *c +
                         ", which is what pixelflow implements");
    return *c;
  };
  if (opts.processor_class) return canonical_or_throw(*opts.processor_class, "processor_class");

  auto string_key = [&](const char* key) -> std::optional<std::string> {
    auto it = dict.find(key);
    if (it == dict.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw config_error(source, key, "must be a class name string, got " + show(json(*it)));
    return it->get<std::string>();
  };
  if (auto t = string_key("image_processor_type")) return canonical_or_throw(*t, "image_processor_type");
  if (auto fe = string_key("feature_extractor_type")) {
    std::string name = *fe;
    const std::string from = "FeatureExtractor";
    if (auto pos = name.find(from); pos != std::string::npos) name.replace(pos, from.size(), "ImageProcessor");
    auto c = canonical_processor_class(name);
    if (!c)
      throw config_error(source, "feature_extractor_type",
                         "unsupported feature extractor \"" + *fe + "\" (-> \"" + name + "\"); supported: " + supported_list());
    return *c;
  }
  if (auto it = dict.find("auto_map"); it != dict.end() && it->is_object())
    throw config_error(source, "auto_map",
                       "custom (trust_remote_code) image processors are not supported; supported classes: " +
                           supported_list());
  // No type key: AutoImageProcessor falls back to the model's config.json.
  if (auto c = class_from_model_config(config_dir)) return *c;
  throw config_error(source, "image_processor_type",
                     "missing: the file has neither image_processor_type nor feature_extractor_type, and there is no "
                     "config.json with a model_type beside it to infer the class from (supported: " +
                         supported_list() + ")");
}

// np.array(clusters).tolist(): a rectangular nested list of numbers; one float anywhere makes every
// element a float. Ragged input raises in numpy 1.24 (the goldens' version), as it does here.
json normalize_clusters(const json& v, const std::string& source) {
  bool any_float = false;
  std::vector<size_t> shape;
  bool shape_set = false;
  // Walk with explicit recursion to check rectangularity and leaf types.
  std::function<void(const json&, size_t, std::vector<size_t>&)> walk = [&](const json& node, size_t depth,
                                                                             std::vector<size_t>& path_shape) {
    if (node.is_array()) {
      path_shape.push_back(node.size());
      for (const auto& child : node) walk(child, depth + 1, path_shape);
      if (node.empty()) {
        if (!shape_set) {
          shape = path_shape;
          shape_set = true;
        } else if (shape != path_shape) {
          throw config_error(source, "clusters", "must be a rectangular (n_clusters, 3) array (ragged nested lists)");
        }
      }
      path_shape.pop_back();
      return;
    }
    if (!detail::is_number(node))
      throw config_error(source, "clusters", "must hold numbers only, got " + show(node));
    if (node.is_number_float()) any_float = true;
    if (!shape_set) {
      shape = path_shape;
      shape_set = true;
    } else if (shape != path_shape) {
      throw config_error(source, "clusters", "must be a rectangular (n_clusters, 3) array (ragged nested lists)");
    }
  };
  if (!v.is_array()) throw config_error(source, "clusters", "must be a list of [r, g, b] rows, got " + show(v));
  std::vector<size_t> path;
  walk(v, 0, path);
  if (!any_float) return v;
  std::function<json(const json&)> to_float = [&](const json& node) -> json {
    if (node.is_array()) {
      json a = json::array();
      for (const auto& c : node) a.push_back(to_float(c));
      return a;
    }
    return json(node.get<double>());
  };
  return to_float(v);
}

// size / crop_size: a size dict as the class's __init__ makes it, with sides in 1..kMaxSide.
void check_size_attribute(const ProcessorDecl& decl, const std::string& key, const json& v, const std::string& source) {
  if (v.is_null()) return;  // only reachable through overrides; preprocess() then raises (see resolve_call)
  // A size that is not a get_size_dict size (Qwen2-VL's pixel counts): the class checks its own.
  if (key == "size" && decl.call.size_norm == processors::SizeNorm::kNone) return;
  // crop_size is always square; size follows the class (Siglip's raw size: non-square, as its
  // preprocess() converts it).
  bool square = key == "crop_size";
  for (const auto& p : decl.init)
    if (p.name == key && p.mode == InitMode::kSizeSquare) square = true;
  const json d = detail::get_size_dict(v, square, key, source);
  for (auto it = d.begin(); it != d.end(); ++it) {
    if (!detail::is_integer(it.value()) || it.value().get<int64_t>() < 1)
      throw config_error(source, key + "." + it.key(), "must be a positive integer, got " + show(it.value()));
    if (it.value().get<int64_t>() > ops::kMaxSide)
      throw config_error(source, key + "." + it.key(),
                         "must be at most " + std::to_string(ops::kMaxSide) +
                             " (a size in pixels; Pillow keeps sizes in C ints), got " + show(it.value()));
  }
}

// image_mean / image_std: a number or a non-empty list of numbers (std > 0), or null.
void check_mean_std_attribute(const std::string& key, const json& v, const std::string& source) {
  const bool is_std = key == "image_std";
  auto check = [&](const json& x, const std::string& path) {
    if (!detail::is_number(x)) throw config_error(source, path, "must be a number, got " + show(x));
    if (is_std && x.get<double>() <= 0.0) throw config_error(source, path, "must be > 0, got " + show(x));
  };
  if (v.is_null()) return;
  if (v.is_array()) {
    if (v.empty()) throw config_error(source, key, "must not be empty");
    for (size_t i = 0; i < v.size(); ++i) check(v[i], key + "[" + std::to_string(i) + "]");
    return;
  }
  check(v, key);
}

// The single-number parameters (null always passes: preprocess() decides).
void check_scalar_attribute(const std::string& key, const json& v, const std::string& source) {
  if (v.is_null()) return;
  if (key == "rescale_factor" && !detail::is_number(v))
    throw config_error(source, key, "must be a number, got " + show(v));
  if (key == "resample" && (!detail::is_integer(v) || v.get<int64_t>() < 0 || v.get<int64_t>() > 5))
    throw config_error(source, key,
                       "must be a PIL resampling filter 0..5 (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, "
                       "5 HAMMING), got " +
                           show(v));
  if (key == "crop_pct" && (!detail::is_number(v) || v.get<double>() <= 0.0))
    throw config_error(source, key, "must be a number > 0 (or null), got " + show(v));
  if ((key == "ensure_multiple_of" || key == "size_divisor") && (!detail::is_integer(v) || v.get<int64_t>() < 1))
    throw config_error(source, key, "must be a positive integer (or null), got " + show(v));
}

// Sanity checks pixelflow adds at load time for the keys the class knows (values that can never be
// used); HF itself only fails later, at call time, on these.
void validate_known_attribute(const ProcessorDecl& decl, const std::string& key, const json& v,
                              const std::string& source, std::vector<std::string>& warnings) {
  if (key == "size" || key == "crop_size") return check_size_attribute(decl, key, v, source);
  if (key == "image_mean" || key == "image_std") return check_mean_std_attribute(key, v, source);
  check_scalar_attribute(key, v, source);
  if (detail::is_flag_param(key) && !v.is_null() && !v.is_boolean())
    warnings.push_back(detail::truthiness_note(source, key, v));
}

// One from_dict call in progress.
struct Loading {
  const ProcessorDecl& decl;
  const std::string& source;
  ordered_json dict;                     // the config, with the size / crop_size overrides applied
  json kwargs;                           // the overrides left for after __init__
  std::set<std::string> from_overrides{};  // keys whose value came from the overrides
  json attrs = json::object();           // the instance's attributes
  bool has_type_attr = false;            // the dict set image_processor_type as an attribute

  std::string source_of(const std::string& key) const {
    return from_overrides.count(key) ? std::string("overrides") : source;
  }
};

// ImageProcessingMixin.from_dict (transformers 5.0): the kwargs the class's valid_kwargs names
// (ImagesKwargs' keys and the class's own: its preprocess() keywords) join the dict before
// __init__, so __init__ converts them as it converts the file's values (get_size_dict, Qwen2-VL's
// min_pixels / max_pixels into size, ...). The others are left for after __init__.
const std::set<std::string> kImagesKwargs = {
    "crop_size",     "data_format", "device",    "disable_grouping", "do_center_crop", "do_convert_rgb",
    "do_normalize",  "do_pad",      "do_rescale", "do_resize",       "image_mean",     "image_seq_length",
    "image_std",     "input_data_format", "pad_size", "resample",    "rescale_factor", "return_tensors", "size"};

void apply_init_overrides(Loading& l) {
  std::vector<std::string> moved;
  for (auto it = l.kwargs.begin(); it != l.kwargs.end(); ++it) {
    const std::string& k = it.key();
    const auto& pp = l.decl.preprocess_params;
    if (!kImagesKwargs.count(k) && std::find(pp.begin(), pp.end(), k) == pp.end()) continue;
    l.dict[k] = ordered_json(it.value());
    l.from_overrides.insert(k);
    moved.push_back(k);
  }
  for (const auto& k : moved) l.kwargs.erase(k);
}

// __init__(**dict), the **kwargs part: keys that are not parameters become attributes, or are
// dropped with a warning by a filtered __init__.
void set_extra_attributes(Loading& l, std::vector<std::string>& warnings) {
  std::vector<std::string> ignored;
  for (auto it = l.dict.begin(); it != l.dict.end(); ++it) {
    const std::string& key = it.key();
    if (l.decl.has_init_param(key)) continue;
    if (l.decl.filtered_init && key != "processor_class" && key != "image_processor_type" && key != "kwargs") {
      ignored.push_back(key);  // @filter_out_non_signature_kwargs(extra=INIT_SERVICE_KWARGS)
      continue;
    }
    // ImageProcessingMixin.__init__: drops feature_extractor_type and processor_class (the latter is no
    // longer saved, as in the goldens), sets every other key as an attribute.
    if (key == "feature_extractor_type" || key == "processor_class") continue;
    if (key == "image_processor_type") l.has_type_attr = true;
    l.attrs[key] = json(it.value());
  }
  if (!ignored.empty())
    warnings.push_back("The following named arguments are not valid for `" + l.decl.name +
                       ".__init__` and were ignored: '" + join(ignored, "', '") + "'");
}

// __init__(**dict), the named parameters, then what the class's __init__ does beyond them.
void bind_init_params(Loading& l) {
  for (const auto& p : l.decl.init) {
    auto it = l.dict.find(p.name);
    const bool present = it != l.dict.end();
    const json given = present ? json(*it) : json(nullptr);
    switch (p.mode) {
      case InitMode::kRaw: l.attrs[p.name] = present ? given : p.default_value; break;
      case InitMode::kDefaultIfNull: l.attrs[p.name] = given.is_null() ? p.default_value : given; break;
      case InitMode::kSizeSquare:
      case InitMode::kSizeNonSquare:
        l.attrs[p.name] = detail::get_size_dict(given.is_null() ? p.default_value : given,
                                                p.mode == InitMode::kSizeSquare, p.name, l.source_of(p.name));
        break;
      case InitMode::kClusters:
        l.attrs[p.name] = given.is_null() ? json(nullptr) : normalize_clusters(given, l.source);
        break;
    }
  }
  if (l.decl.after_init) {
    processors::InitContext init{l.attrs, [&l](const std::string& key) { return l.source_of(key); }};
    l.decl.after_init(init);
  }
}

// from_dict, second half: the other kwargs are not applied; those naming an attribute of the
// instance are dropped (transformers 5.0 pops them without setting them), the rest are unused.
void apply_attribute_overrides(Loading& l, std::vector<std::string>& unused) {
  for (auto it = l.kwargs.begin(); it != l.kwargs.end(); ++it) {
    const std::string& key = it.key();
    const bool is_attr = key == "image_processor_type" ? l.has_type_attr : l.attrs.contains(key);
    if (!is_attr) unused.push_back(key);
  }
}

// to_dict(): image_processor_type is the class; BaseImageProcessor drops _valid_processor_keys;
// some classes null keys the slow class does not have (ImageGPT; its clusters became lists above).
void to_dict(Loading& l) {
  l.attrs["image_processor_type"] = l.decl.name;
  l.attrs.erase("_valid_processor_keys");
  for (const auto& k : l.decl.to_dict_nulls)
    if (l.attrs.contains(k)) l.attrs[k] = nullptr;
}

void validate_attributes(const Loading& l, std::vector<std::string>& warnings) {
  for (const auto& p : l.decl.init)
    validate_known_attribute(l.decl, p.name, l.attrs[p.name], l.source_of(p.name), warnings);
  for (const auto& p : l.decl.init)  // validation only: HF keeps overridden values raw
    if (p.mode == InitMode::kClusters && l.from_overrides.count(p.name) && !l.attrs[p.name].is_null())
      normalize_clusters(l.attrs[p.name], "overrides");
}

ProcessorConfig from_dict_impl(const ordered_json& dict_in, const std::string& source, const LoadOptions& opts,
                               const std::string& config_dir) {
  if (!dict_in.is_object()) throw ConfigError(source, "the top level must be a JSON object, got " + show(json(dict_in)));
  if (!opts.overrides.is_object())
    throw ConfigError("overrides", "must be a JSON object of key: value pairs, got " + show(opts.overrides));

  ProcessorConfig cfg;
  cfg.source = source;
  cfg.class_name = resolve_class(dict_in, source, opts, config_dir, cfg.warnings);
  Loading l{*processors::find_processor(cfg.class_name), source, dict_in, opts.overrides};
  apply_init_overrides(l);
  set_extra_attributes(l, cfg.warnings);
  bind_init_params(l);
  apply_attribute_overrides(l, cfg.unused_kwargs);
  to_dict(l);
  validate_attributes(l, cfg.warnings);
  cfg.attributes = std::move(l.attrs);
  return cfg;
}

}  // namespace

ordered_json parse_config_json(const std::string& text, const std::string& source, const std::string& what) {
  // Python's json.loads gives up (RecursionError) around its recursion limit of 1000; deeper
  // nesting here would overflow the stack of the recursive copies and dumps further on.
  constexpr int kMaxDepth = 1000;
  const ordered_json::parser_callback_t depth_check = [&](int depth, ordered_json::parse_event_t, ordered_json&) {
    if (depth > kMaxDepth)
      throw ConfigError(source, what + ": nested deeper than " + std::to_string(kMaxDepth) + " levels");
    return true;
  };
  try {
    return ordered_json::parse(text, depth_check);
  } catch (const ordered_json::exception& e) {
    // parse_error, and out_of_range for numbers beyond double's range ("1e999", which Python
    // reads as inf; no config value can use it).
    throw ConfigError(source, what + ": " + e.what());
  }
}

const std::vector<std::string>& supported_processor_classes() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& d : processors::all_processors()) v.push_back(d.name);
    return v;
  }();
  return names;
}

std::string normalize_processor_class_name(const std::string& name) {
  std::string n = name;
  if (n.ends_with("ImageProcessorFast")) n.resize(n.size() - 4);
  else if (n.ends_with("ImageProcessorPil")) n.resize(n.size() - 3);
  else if (n.ends_with("FeatureExtractor")) n = n.substr(0, n.size() - 16) + "ImageProcessor";
  return n;
}

std::optional<std::string> canonical_processor_class(const std::string& name) {
  std::string n = normalize_processor_class_name(name);
  if (processors::find_processor(n)) return n;
  return std::nullopt;
}

std::optional<std::string> processor_class_in_config(const json& dict, const std::string& source) {
  if (!dict.is_object()) throw config_error(source, "", "must hold a JSON object");
  auto string_key = [&](const char* key) -> std::optional<std::string> {
    auto it = dict.find(key);
    if (it == dict.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw config_error(source, key, "must be a class name string, got " + show(*it));
    return it->get<std::string>();
  };
  if (auto t = string_key("image_processor_type")) return normalize_processor_class_name(*t);
  if (auto fe = string_key("feature_extractor_type")) {
    std::string name = *fe;
    const std::string from = "FeatureExtractor";
    if (auto pos = name.find(from); pos != std::string::npos) name.replace(pos, from.size(), "ImageProcessor");
    return normalize_processor_class_name(name);
  }
  return std::nullopt;
}

ProcessorConfig processor_config_from_dict(const ordered_json& dict, const std::string& source,
                                           const LoadOptions& opts) {
  return from_dict_impl(dict, source, opts, "");
}

ProcessorConfig processor_config_from_dict(const json& dict, const std::string& source, const LoadOptions& opts) {
  return from_dict_impl(ordered_json(dict), source, opts, "");
}

ProcessorConfig processor_config_from_json_text(const std::string& text, const std::string& source,
                                                const LoadOptions& opts) {
  return from_dict_impl(parse_json_text(text, source), source, opts, "");
}

ProcessorConfig load_processor_config(const std::string& path_or_model_id, const LoadOptions& opts) {
  // from_pretrained's loader kwargs are consumed here, before from_dict sees the rest.
  LoadOptions o = opts;
  std::vector<std::string> notes;
  if (o.overrides.is_object()) {
    auto take = [&](const char* key) -> std::optional<json> {
      auto it = o.overrides.find(key);
      if (it == o.overrides.end()) return std::nullopt;
      json v = *it;
      o.overrides.erase(key);
      if (v.is_null()) return std::nullopt;
      return v;
    };
    auto take_string = [&](const char* key) -> std::optional<std::string> {
      auto v = take(key);
      if (!v) return std::nullopt;
      if (!v->is_string()) throw ConfigError(std::string("overrides: ") + key, "must be a string, got " + show(*v));
      return v->get<std::string>();
    };
    if (auto r = take_string("revision"); r && !o.revision) o.revision = r;
    if (auto c = take_string("cache_dir"); c && !o.cache_dir) o.cache_dir = c;
    if (auto sub = take_string("subfolder"); sub && o.subfolder.empty()) o.subfolder = *sub;
    if (auto v = take("force_download"); v && detail::py_truthy(*v)) o.force_download = true;
    if (auto v = take("local_files_only"); v && detail::py_truthy(*v)) o.local_files_only = true;
    if (auto v = take("resume_download"); v && v->is_boolean() && !v->get<bool>()) o.resume_download = false;
    // token: a string, True (the stored token, as unset) or False (none); use_auth_token is its old name.
    for (const char* key : {"use_auth_token", "token"}) {
      auto v = take(key);
      if (!v || o.token) continue;
      if (v->is_string()) o.token = v->get<std::string>();
      else if (v->is_boolean()) o.use_token = v->get<bool>();
      else throw ConfigError(std::string("overrides: ") + key, "must be a string or a bool, got " + show(*v));
    }
    if (auto v = take("proxies"); v && o.proxies.empty()) {
      if (!v->is_object()) throw ConfigError("overrides: proxies", "must be a dict of scheme to proxy URL, got " + show(*v));
      for (const auto& [k, url] : v->items()) {
        if (!url.is_string() && !url.is_null())
          throw ConfigError("overrides: proxies." + k, "must be a string, got " + show(url));
        if (url.is_string()) o.proxies[k] = url.get<std::string>();
      }
    }
    if (auto it = o.overrides.find("use_fast"); it != o.overrides.end()) {
      if (detail::py_truthy(*it))
        notes.push_back("pixelflow: use_fast=True ignored: pixelflow implements the slow (PIL backend) processors");
      o.overrides.erase("use_fast");
    }
    for (const char* k : {"trust_remote_code", "return_unused_kwargs", "_from_auto", "_from_pipeline"})
      o.overrides.erase(k);
  }
  const ConfigText config = read_preprocessor_config(path_or_model_id, o);
  const ordered_json dict = parse_json_text(config.text, config.source);
  const bool from_url = is_url_config(path_or_model_id);
  ProcessorConfig cfg =
      from_dict_impl(dict, config.source, o, from_url ? std::string() : fs::path(config.source).parent_path().string());
  cfg.warnings.insert(cfg.warnings.end(), notes.begin(), notes.end());
  return cfg;
}

ConfigText read_preprocessor_config(const std::string& path_or_model_id, const LoadOptions& opts) {
  if (is_url_config(path_or_model_id)) {
    hub::Connection c;
    c.endpoint = opts.endpoint;
    c.token = opts.token;
    c.use_token = opts.use_token;
    c.proxies = opts.proxies;
    return {hub::fetch_url(path_or_model_id, c, kMaxConfigFileBytes), path_or_model_id};
  }
  const std::string path = resolve_preprocessor_config_path(path_or_model_id, opts);
  return {read_text_file(path), path};
}

std::string push_to_hub(const ProcessorConfig& cfg, const std::string& repo_id, const PushOptions& opts) {
  hub::CommitOptions c;
  c.connection.endpoint = opts.endpoint;
  c.connection.token = opts.token;
  c.connection.proxies = opts.proxies;
  c.private_repo = opts.private_repo;
  c.commit_message = opts.commit_message;
  c.commit_description = opts.commit_description;
  c.revision = opts.revision.empty() ? "main" : opts.revision;
  std::string sub = opts.subfolder;
  while (!sub.empty() && sub.back() == '/') sub.pop_back();
  const std::string path = sub.empty() ? "preprocessor_config.json" : sub + "/preprocessor_config.json";
  return hub::upload_file(repo_id, path, to_json_string(cfg), c).commit_url;
}

std::string to_json_string(const ProcessorConfig& cfg) { return python_json_dumps(cfg.attributes, 2) + "\n"; }

void save_pretrained(const ProcessorConfig& cfg, const std::string& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir, ec))
    throw ConfigError(dir, "provided path should be a directory, not a file");
  fs::create_directories(dir, ec);
  if (ec) throw ConfigError(dir, "cannot create directory: " + ec.message());
  const fs::path file = fs::path(dir) / "preprocessor_config.json";
  atomic_write_file(file.string(), to_json_string(cfg));  // a temporary renamed over the file
}

}  // namespace pixelflow::pipelines
