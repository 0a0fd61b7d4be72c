// resolve_call: the argument handling each processor's preprocess() does before it looks at the
// images (fallback to the processor's attributes, get_size_dict, validate_preprocess_arguments, the
// checks inside each op), so that a graph can be built from plain values. See processor_config.h and
// PROCESSORS.md.
#include <map>
#include <set>

#include "base/text.h"
#include "ops/common/params.h"
#include "pipelines/processor_config.h"
#include "pipelines/processors/processor.h"
#include "pipelines/processors/py_semantics.h"

namespace pixelflow::pipelines {

using nlohmann::json;
using detail::config_error;
using detail::show;
using processors::CallTraits;
using processors::keys_of;
using processors::ProcessorDecl;
using processors::ResizeNeeds;
using processors::SizeNorm;

namespace {

const char* const kCallSource = "call_kwargs";
const char* const kDefaultSource = "preprocess() default";

struct Value {
  json v;
  std::string source;
};

class Resolver : public processors::CallContext {
 public:
  Resolver(const ProcessorConfig& cfg, const ProcessorDecl& decl, const json& call, CallArgs& out)
      : cfg_(cfg), decl_(decl), t_(decl.call), call_(call), out_(out) {}

  void run() {
    report_unknown_kwargs();
    for (const auto& p : decl_.preprocess_params) values_[p] = initial_value(p);
    if (t_.resolve_args) t_.resolve_args(*this);
    for (const auto& p : decl_.preprocess_params)
      if (detail::is_flag_param(p)) flags_[p] = flag_of(p);
    normalize_sizes();
    validate_preprocess_arguments();
    check_ops();
    check_channel_format("data_format", !(t_.ignores_data_format && t_.ignores_data_format(*this)) &&
                                            !t_.data_format_nullable);
    check_channel_format("input_data_format", false);
    write_params();
  }

  // CallContext, for the checks of the declarations.
  const std::string& class_name() const override { return decl_.name; }
  const json& val(const std::string& p) const override { return values_.at(p).v; }
  bool flag(const std::string& p) const override { return flags_.at(p); }
  ConfigError err(const std::string& key, const std::string& problem) const override {
    auto it = values_.find(key);
    return config_error(it == values_.end() ? cfg_.source : it->second.source, key, problem);
  }

  const json* call_arg(const std::string& key) const override {
    auto it = call_.find(key);
    return it == call_.end() || it->is_null() ? nullptr : &*it;
  }
  const json& attribute(const std::string& key) const override {
    static const json null;
    return cfg_.attributes.contains(key) ? cfg_.attributes.at(key) : null;
  }
  void set(const std::string& key, json value, bool from_call) override {
    values_[key] = {std::move(value), from_call ? kCallSource : cfg_.source};
  }

  void positive_int_entry(const std::string& key, const json& dict, const std::string& sub) const override {
    const json& x = dict.at(sub);
    if (!detail::is_integer(x) || x.get<int64_t>() < 1)
      throw err_at(key, key + "." + sub, "must be a positive integer, got " + show(x));
    if (x.get<int64_t>() > ops::kMaxSide)
      throw err_at(key, key + "." + sub, "must be at most " + std::to_string(ops::kMaxSide) +
                                             " (a size in pixels; Pillow keeps sizes in C ints), got " + show(x));
  }

  void positive_int(const std::string& key, const std::string& why) const override {
    const json& x = val(key);
    if (!detail::is_integer(x) || x.get<int64_t>() < 1)
      throw err(key, "must be a positive integer when " + why + ", got " + show(x));
    if (x.get<int64_t>() > ops::kMaxSide)
      throw err(key, "must be at most " + std::to_string(ops::kMaxSide) + " (a size in pixels), got " + show(x));
  }

  void check_mean_std(const std::string& key, bool is_std) const override {
    const json& v = val(key);
    auto check = [&](const json& x, const std::string& path) {
      if (!detail::is_number(x)) throw err_at(key, path, "must be a number, got " + show(x));
      if (is_std && x.get<double>() <= 0.0) throw err_at(key, path, "must be > 0, got " + show(x));
    };
    if (v.is_array()) {
      if (v.empty()) throw err(key, "must not be empty");
      for (size_t i = 0; i < v.size(); ++i) check(v[i], key + "[" + std::to_string(i) + "]");
    } else {
      check(v, key);
    }
  }

 private:
  bool has(const std::string& p) const { return values_.count(p) != 0; }
  ConfigError err_at(const std::string& key, const std::string& path, const std::string& problem) const {
    return config_error(values_.at(key).source, path, problem);
  }

  // get_size_dict at the top of preprocess().
  void normalize_sizes() {
    if (has("size")) {
      switch (t_.size_norm) {
        case SizeNorm::kSquare: size_ = size_dict("size", true); have_size_ = true; break;
        case SizeNorm::kNonSquare: size_ = size_dict("size", false); have_size_ = true; break;
        case SizeNorm::kLazySquare:  // Segformer: only resize() converts it (and raises)
          try {
            size_ = size_dict("size", true);
            have_size_ = true;
          } catch (const ConfigError&) {
            if (flag("do_resize")) throw;
          }
          break;
        case SizeNorm::kNone: break;
      }
    }
    if (has("crop_size")) crop_ = size_dict("crop_size", true);
  }

  // validate_preprocess_arguments(...) with the arguments this class passes.
  void validate_preprocess_arguments() const {
    if (t_.validate_rescale && flag("do_rescale") && val("rescale_factor").is_null())
      throw err("rescale_factor", "must be specified if do_rescale is true (transformers raises ValueError)");
    if (t_.validate_normalize && flag("do_normalize")) {
      for (const char* k : {"image_mean", "image_std"})
        if (val(k).is_null())
          throw err(k, "image_mean and image_std must both be specified if do_normalize is true (transformers raises "
                       "ValueError)");
    }
    if (t_.validate_resize_args) {
      t_.validate_resize_args(*this);
    } else if (flag("do_resize") && val("resample").is_null()) {
      throw err("resample", "size and resample must be specified if do_resize is true (transformers raises ValueError)");
    }
  }

  // What the ops themselves need, in the order they run.
  void check_ops() const {
    if (flag("do_resize")) check_resize();
    if (has("do_center_crop") && flag("do_center_crop")) check_center_crop();
    if (has("do_rescale") && flag("do_rescale")) {
      if (!detail::is_number(val("rescale_factor")))
        throw err("rescale_factor", "must be a number, got " + show(val("rescale_factor")));
    }
    if (has("do_normalize") && flag("do_normalize") && t_.normalize_uses_mean_std) {
      check_mean_std("image_mean", false);
      check_mean_std("image_std", true);
    }
    if (t_.check_extra) t_.check_extra(*this);
  }

  void write_params() {
    json params = json::object();
    for (const auto& p : decl_.preprocess_params) {
      if (detail::is_flag_param(p)) params[p] = flags_[p];
      else if (p == "size" && have_size_) params[p] = size_;
      else if (p == "crop_size") params[p] = crop_;
      else params[p] = val(p);
    }
    // Values a resolve_args hook derived under names preprocess does not take (the plan reads them).
    for (const auto& [key, v] : values_)
      if (!params.contains(key)) params[key] = v.v;
    out_.params = std::move(params);
  }

  void report_unknown_kwargs() {
    std::set<std::string> valid(decl_.preprocess_params.begin(), decl_.preprocess_params.end());
    std::vector<std::string> unknown;
    for (auto it = call_.begin(); it != call_.end(); ++it) {
      const std::string& k = it.key();
      if (k == decl_.data_arg || (decl_.segmentation_maps && k == "segmentation_maps") ||
          (decl_.detection_annotations && k == "annotations")) {
        out_.unused_kwargs.push_back(k);  // data, not a parameter: pass it to the pipeline instead
        continue;
      }
      if (!valid.count(k)) {
        unknown.push_back(k);
        out_.unused_kwargs.push_back(k);
      }
    }
    if (unknown.empty()) return;
    if (decl_.strict_kwargs)
      throw config_error(kCallSource, unknown[0],
                         decl_.name + ".preprocess() got an unexpected keyword argument '" + unknown[0] +
                             "' (transformers raises TypeError)");
    if (decl_.validate_kwargs_style) {  // image_utils.validate_kwargs
      out_.warnings.push_back("Unused or unrecognized kwargs: " + join(unknown) + ".");
    } else {  // @filter_out_non_signature_kwargs() on preprocess
      out_.warnings.push_back("The following named arguments are not valid for `" + decl_.name +
                              ".preprocess` and were ignored: '" + join(unknown, "', '") + "'");
    }
  }

  Value initial_value(const std::string& p) const {
    // data_format / input_data_format / return_tensors come from the signature: an explicit None is
    // kept. Everything else is `x if x is not None else self.x`.
    const bool signature_only = p == "data_format" || p == "input_data_format" || p == "return_tensors";
    auto it = call_.find(p);
    if (signature_only) {
      if (it != call_.end()) return {*it, kCallSource};
      return {p == "data_format" ? json("channels_first") : json(nullptr), kDefaultSource};
    }
    if (it != call_.end() && !it->is_null()) return {*it, kCallSource};
    return {cfg_.attributes.contains(p) ? cfg_.attributes.at(p) : json(nullptr), cfg_.source};
  }

  bool flag_of(const std::string& p) {
    const Value& v = values_.at(p);
    if (!v.v.is_null() && !v.v.is_boolean() && v.source == kCallSource)
      out_.warnings.push_back(detail::truthiness_note(kCallSource, p, v.v));
    return detail::py_truthy(v.v);
  }

  json size_dict(const std::string& key, bool square) const {
    const Value& v = values_.at(key);
    return detail::get_size_dict(v.v, square, key, v.source);
  }

  // resample: PIL accepts exactly these filters; then the size keys resize() indexes.
  void check_resize() const {
    const json& r = val("resample");
    if (!detail::is_integer(r) || r.get<int64_t>() < 0 || r.get<int64_t>() > 5)
      throw err("resample",
                "must be a PIL resampling filter 0..5 (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING), "
                "got " +
                    show(r));
    const std::string who = decl_.name + " ";
    const json& size = size_;
    switch (t_.resize_needs) {
      case ResizeNeeds::kHeightWidth:
        if (!size.contains("height") || !size.contains("width"))
          throw err("size", who + "resizes to (size[\"height\"], size[\"width\"]) and needs those keys, got " +
                                keys_of(size) + t_.size_error_hint);
        positive_int_entry("size", size, "height");
        positive_int_entry("size", size, "width");
        break;
      case ResizeNeeds::kShortestOrHeightWidth:
        if (size.contains("shortest_edge")) {
          positive_int_entry("size", size, "shortest_edge");
        } else if (size.contains("height") && size.contains("width")) {
          positive_int_entry("size", size, "height");
          positive_int_entry("size", size, "width");
        } else {
          throw err("size", who + "needs size with shortest_edge, or height and width, got " + keys_of(size));
        }
        break;
      case ResizeNeeds::kShortestEdge:
        if (!size.contains("shortest_edge"))
          throw err("size", who + "needs size[\"shortest_edge\"], got " + keys_of(size));
        positive_int_entry("size", size, "shortest_edge");
        break;
      case ResizeNeeds::kNone: break;
    }
    if (t_.check_resize) t_.check_resize(*this, size);
  }

  void check_center_crop() const {
    if (!crop_.contains("height") || !crop_.contains("width"))
      throw err("crop_size", "center_crop needs crop_size with height and width, got " + keys_of(crop_));
    positive_int_entry("crop_size", crop_, "height");
    positive_int_entry("crop_size", crop_, "width");
    if (t_.check_center_crop) t_.check_center_crop(*this, crop_, size_);
  }

  void check_channel_format(const std::string& key, bool null_is_error) const {
    const json& v = val(key);
    if (v.is_null()) {
      if (null_is_error)
        throw err(key, "null is not supported by " + decl_.name +
                           " (transformers raises ValueError: None is not a valid ChannelDimension); use "
                           "\"channels_first\" or \"channels_last\"");
      return;
    }
    if (!v.is_string() || (v != "channels_first" && v != "channels_last"))
      throw err(key, "must be \"channels_first\" or \"channels_last\"" + std::string(null_is_error ? "" : " (or null)") +
                         ", got " + show(v));
  }

  const ProcessorConfig& cfg_;
  const ProcessorDecl& decl_;
  const CallTraits& t_;
  const json& call_;
  CallArgs& out_;
  std::map<std::string, Value> values_;
  std::map<std::string, bool> flags_;
  json size_, crop_;        // the size dicts after get_size_dict
  bool have_size_ = false;  // size_ holds the normalized size (else `size` is written as given)
};

}  // namespace

CallArgs resolve_call(const ProcessorConfig& cfg, const json& call_kwargs) {
  const ProcessorDecl* decl = processors::find_processor(cfg.class_name);
  if (!decl)
    throw ConfigError("class_name", "unsupported image processor class \"" + cfg.class_name + "\"");
  if (!cfg.attributes.is_object()) throw ConfigError(cfg.source, "attributes must be a JSON object");
  const json empty = json::object();
  const json& call = call_kwargs.is_null() ? empty : call_kwargs;
  if (!call.is_object()) throw ConfigError(kCallSource, "must be a JSON object of key: value pairs, got " + show(call));
  CallArgs out;
  Resolver(cfg, *decl, call, out).run();
  return out;
}

}  // namespace pixelflow::pipelines
