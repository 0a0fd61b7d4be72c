// resolve_call: the argument handling each processor's preprocess() does before it looks at the
// images (fallback to the processor's attributes, get_size_dict, validate_preprocess_arguments, the
// checks inside each op), so that a graph can be built from plain values. See processor_config.h and
// PROCESSORS.md.
#include <map>
#include <set>

#include "ops/common/params.h"
#include "pipelines/processor_config.h"
#include "pipelines/processor_specs.h"

namespace pixelflow::pipelines {

using nlohmann::json;
using detail::config_error;
using detail::ProcessorId;
using detail::show;

namespace {

const char* const kCallSource = "call_kwargs";
const char* const kDefaultSource = "preprocess() default";

bool is_flag_name(const std::string& name) {
  return name.rfind("do_", 0) == 0 || name == "keep_aspect_ratio" || name == "include_top" || name == "rescale_offset";
}

enum class SizeNorm { kSquare, kNonSquare, kLazySquare, kNone };
enum class ResizeNeeds { kHeightWidth, kShortestOrHeightWidth, kShortestEdge, kNone };

struct CallTraits {
  SizeNorm size_norm;
  ResizeNeeds resize_needs;
  bool validate_rescale, validate_normalize, validate_crop;
  bool data_format_nullable;  // `if data_format is not None:` guard (Beit, Segformer, DPT)
};

CallTraits traits_for(ProcessorId id) {
  using P = ProcessorId;
  switch (id) {
    case P::kCLIP: return {SizeNorm::kNonSquare, ResizeNeeds::kShortestOrHeightWidth, true, true, true, false};
    case P::kViT: return {SizeNorm::kSquare, ResizeNeeds::kHeightWidth, true, true, false, false};
    case P::kDeiT: return {SizeNorm::kSquare, ResizeNeeds::kHeightWidth, true, true, true, false};
    case P::kConvNext: return {SizeNorm::kNonSquare, ResizeNeeds::kShortestEdge, true, true, false, false};
    case P::kSiglip: return {SizeNorm::kNonSquare, ResizeNeeds::kHeightWidth, true, true, false, false};
    case P::kBit: return {SizeNorm::kNonSquare, ResizeNeeds::kShortestOrHeightWidth, true, true, true, false};
    case P::kLevit: return {SizeNorm::kNonSquare, ResizeNeeds::kShortestOrHeightWidth, true, true, true, false};
    case P::kPoolFormer: return {SizeNorm::kNonSquare, ResizeNeeds::kShortestOrHeightWidth, true, true, true, false};
    case P::kMobileNetV2: return {SizeNorm::kNonSquare, ResizeNeeds::kShortestOrHeightWidth, true, true, true, false};
    case P::kEfficientNet: return {SizeNorm::kSquare, ResizeNeeds::kHeightWidth, true, true, true, false};
    case P::kBeit: return {SizeNorm::kSquare, ResizeNeeds::kHeightWidth, true, true, true, true};
    case P::kSegformer: return {SizeNorm::kLazySquare, ResizeNeeds::kHeightWidth, true, true, false, true};
    case P::kDPT: return {SizeNorm::kSquare, ResizeNeeds::kHeightWidth, true, true, false, true};
    case P::kGLPN: return {SizeNorm::kNone, ResizeNeeds::kNone, false, false, false, false};
    case P::kMobileViT: return {SizeNorm::kNonSquare, ResizeNeeds::kShortestOrHeightWidth, true, false, true, false};
    case P::kPerceiver: return {SizeNorm::kSquare, ResizeNeeds::kHeightWidth, true, true, true, false};
    case P::kImageGPT: return {SizeNorm::kSquare, ResizeNeeds::kHeightWidth, false, false, false, false};
    case P::kVideoMAE: return {SizeNorm::kNonSquare, ResizeNeeds::kShortestOrHeightWidth, true, true, true, false};
  }
  return {SizeNorm::kSquare, ResizeNeeds::kHeightWidth, true, true, true, false};
}

struct Value {
  json v;
  std::string source;
};

class Resolver {
 public:
  Resolver(const ProcessorConfig& cfg, const detail::ClassSpec& spec, const json& call, CallArgs& out)
      : cfg_(cfg), spec_(spec), call_(call), out_(out) {}

  void run() {
    report_unknown_kwargs();
    for (const auto& p : spec_.preprocess_params) values_[p] = initial_value(p);
    for (const auto& p : spec_.preprocess_params)
      if (is_flag_name(p)) flags_[p] = flag_of(p);
    const CallTraits t = traits_for(spec_.id);

    // get_size_dict at the top of preprocess().
    bool have_size = false;
    json size, crop;
    if (has("size")) {
      switch (t.size_norm) {
        case SizeNorm::kSquare: size = size_dict("size", true); have_size = true; break;
        case SizeNorm::kNonSquare: size = size_dict("size", false); have_size = true; break;
        case SizeNorm::kLazySquare:  // Segformer: only resize() converts it (and raises)
          try {
            size = size_dict("size", true);
            have_size = true;
          } catch (const ConfigError&) {
            if (flag("do_resize")) throw;
          }
          break;
        case SizeNorm::kNone: break;
      }
    }
    if (has("crop_size")) crop = size_dict("crop_size", true);

    // validate_preprocess_arguments(...) with the arguments this class passes.
    if (t.validate_rescale && flag("do_rescale") && val("rescale_factor").is_null())
      throw err("rescale_factor", "must be specified if do_rescale is true (transformers raises ValueError)");
    if (t.validate_normalize && flag("do_normalize")) {
      for (const char* k : {"image_mean", "image_std"})
        if (val(k).is_null())
          throw err(k, "image_mean and image_std must both be specified if do_normalize is true (transformers raises "
                       "ValueError)");
    }
    if (spec_.id == ProcessorId::kGLPN) {
      if (flag("do_resize") && (val("size_divisor").is_null() || val("resample").is_null()))
        throw err(val("size_divisor").is_null() ? "size_divisor" : "resample",
                  "size_divisor (GLPN's size) and resample must be specified if do_resize is true (transformers "
                  "raises ValueError)");
    } else if (flag("do_resize") && val("resample").is_null()) {
      throw err("resample", "size and resample must be specified if do_resize is true (transformers raises ValueError)");
    }

    // What the ops themselves need, in the order they run.
    if (flag("do_resize")) check_resize(t, size);
    if (has("do_center_crop") && flag("do_center_crop")) check_center_crop(crop, size);
    if (has("do_rescale") && flag("do_rescale")) {
      if (!detail::is_number(val("rescale_factor")))
        throw err("rescale_factor", "must be a number, got " + show(val("rescale_factor")));
    }
    if (has("do_normalize") && flag("do_normalize") && spec_.id != ProcessorId::kImageGPT) {
      check_mean_std("image_mean", false);
      check_mean_std("image_std", true);
    }
    if (spec_.id == ProcessorId::kEfficientNet && flag("include_top")) {
      if (val("image_std").is_null())
        throw err("image_std", "must be specified if include_top is true (include_top divides by image_std again)");
      check_mean_std("image_std", true);
    }
    if (spec_.id == ProcessorId::kDPT && flag("do_pad")) positive_int("size_divisor", "do_pad is true");
    if (spec_.id == ProcessorId::kImageGPT && flag("do_color_quantize")) check_clusters();
    const bool data_format_used = !(spec_.id == ProcessorId::kImageGPT && flag("do_color_quantize"));
    check_channel_format("data_format", data_format_used && !t.data_format_nullable);
    check_channel_format("input_data_format", false);

    // Output.
    json params = json::object();
    for (const auto& p : spec_.preprocess_params) {
      if (is_flag_name(p)) params[p] = flags_[p];
      else if (p == "size" && have_size) params[p] = size;
      else if (p == "crop_size") params[p] = crop;
      else params[p] = val(p);
    }
    out_.params = std::move(params);
  }

 private:
  bool has(const std::string& p) const { return values_.count(p) != 0; }
  const json& val(const std::string& p) const { return values_.at(p).v; }
  bool flag(const std::string& p) const { return flags_.at(p); }
  ConfigError err(const std::string& key, const std::string& problem) const {
    auto it = values_.find(key);
    return config_error(it == values_.end() ? cfg_.source : it->second.source, key, problem);
  }
  ConfigError err_at(const std::string& key, const std::string& path, const std::string& problem) const {
    return config_error(values_.at(key).source, path, problem);
  }

  void report_unknown_kwargs() {
    std::set<std::string> valid(spec_.preprocess_params.begin(), spec_.preprocess_params.end());
    std::vector<std::string> unknown;
    for (auto it = call_.begin(); it != call_.end(); ++it) {
      const std::string& k = it.key();
      if (k == spec_.data_arg || (spec_.segmentation_maps && k == "segmentation_maps")) {
        out_.unused_kwargs.push_back(k);  // data, not a parameter: pass it to the pipeline instead
        continue;
      }
      if (!valid.count(k)) {
        unknown.push_back(k);
        out_.unused_kwargs.push_back(k);
      }
    }
    if (unknown.empty()) return;
    if (spec_.validate_kwargs_style) {  // image_utils.validate_kwargs
      std::string names;
      for (const auto& k : unknown) names += (names.empty() ? "" : ", ") + k;
      out_.warnings.push_back("Unused or unrecognized kwargs: " + names + ".");
    } else {  // @filter_out_non_signature_kwargs() on preprocess
      std::string names;
      for (const auto& k : unknown) names += (names.empty() ? "'" : ", '") + k + "'";
      out_.warnings.push_back("The following named arguments are not valid for `" + spec_.name +
                              ".preprocess` and were ignored: " + names);
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
      out_.warnings.push_back("pixelflow: call_kwargs: " + p + ": expected true/false, got " + show(v.v) +
                              "; transformers treats it as " + (detail::py_truthy(v.v) ? "true" : "false") +
                              " (Python truthiness), and so does pixelflow");
    return detail::py_truthy(v.v);
  }

  json size_dict(const std::string& key, bool square) const {
    const Value& v = values_.at(key);
    return detail::get_size_dict(v.v, square, key, v.source);
  }

  void positive_int_entry(const std::string& key, const json& dict, const std::string& sub) const {
    const json& x = dict.at(sub);
    if (!detail::is_integer(x) || x.get<int64_t>() < 1)
      throw err_at(key, key + "." + sub, "must be a positive integer, got " + show(x));
    if (x.get<int64_t>() > ops::kMaxSide)
      throw err_at(key, key + "." + sub, "must be at most " + std::to_string(ops::kMaxSide) +
                                             " (a size in pixels; Pillow keeps sizes in C ints), got " + show(x));
  }

  void positive_int(const std::string& key, const std::string& why) const {
    const json& x = val(key);
    if (!detail::is_integer(x) || x.get<int64_t>() < 1)
      throw err(key, "must be a positive integer when " + why + ", got " + show(x));
    if (x.get<int64_t>() > ops::kMaxSide)
      throw err(key, "must be at most " + std::to_string(ops::kMaxSide) + " (a size in pixels), got " + show(x));
  }

  std::string keys_of(const json& d) const {
    std::string s;
    for (auto it = d.begin(); it != d.end(); ++it) s += (s.empty() ? "" : ", ") + it.key();
    return "{" + s + "}";
  }

  void check_resize(const CallTraits& t, const json& size) {
    // resample: PIL accepts exactly these filters.
    const json& r = val("resample");
    if (!detail::is_integer(r) || r.get<int64_t>() < 0 || r.get<int64_t>() > 5)
      throw err("resample",
                "must be a PIL resampling filter 0..5 (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING), "
                "got " +
                    show(r));
    const std::string who = spec_.name + " ";
    switch (t.resize_needs) {
      case ResizeNeeds::kHeightWidth:
        if (!size.contains("height") || !size.contains("width"))
          throw err("size", who + "resizes to (size[\"height\"], size[\"width\"]) and needs those keys, got " + keys_of(size) +
                                (spec_.id == ProcessorId::kSiglip ? " (an int size means shortest_edge here)" : ""));
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
    switch (spec_.id) {
      case ProcessorId::kConvNext: {
        const int64_t se = size["shortest_edge"].get<int64_t>();
        if (se < 384) {
          const json& c = val("crop_pct");
          if (!detail::is_number(c) || c.get<double>() <= 0.0)
            throw err("crop_pct", "must be a number > 0 when size[\"shortest_edge\"] < 384, got " + show(c));
          // int(x) < 1 is x < 1 for the x > 0 here (and a huge x must not be converted)
          if (static_cast<double>(se) / c.get<double>() < 1)
            throw err("crop_pct", "int(shortest_edge / crop_pct) must be >= 1, got crop_pct " + show(c));
        }
        break;
      }
      case ProcessorId::kPoolFormer: {
        const json& c = val("crop_pct");
        if (c.is_null()) break;
        if (!detail::is_number(c) || c.get<double>() <= 0.0)
          throw err("crop_pct", "must be a number > 0 (or null), got " + show(c));
        for (const char* k : {"shortest_edge", "height", "width"})
          if (size.contains(k) && size[k].get<double>() / c.get<double>() < 1)
            throw err("crop_pct", std::string("int(size[\"") + k + "\"] / crop_pct) must be >= 1, got crop_pct " + show(c));
        break;
      }
      case ProcessorId::kDPT: positive_int("ensure_multiple_of", "do_resize is true"); break;
      case ProcessorId::kGLPN: positive_int("size_divisor", "do_resize is true"); break;
      default: break;
    }
  }

  void check_center_crop(const json& crop, const json& size) {
    if (!crop.contains("height") || !crop.contains("width"))
      throw err("crop_size", "center_crop needs crop_size with height and width, got " + keys_of(crop));
    positive_int_entry("crop_size", crop, "height");
    positive_int_entry("crop_size", crop, "width");
    if (spec_.id == ProcessorId::kPerceiver) {
      // PerceiverImageProcessor.center_crop crops to (size / crop_size) * min(H, W).
      if (!size.contains("height") || !size.contains("width"))
        throw err("size", "PerceiverImageProcessor.center_crop uses size[\"height\"] and size[\"width\"], got " +
                              keys_of(size));
      positive_int_entry("size", size, "height");
      positive_int_entry("size", size, "width");
    }
  }

  void check_mean_std(const std::string& key, bool is_std) const {
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

  void check_clusters() const {
    const json& c = val("clusters");
    if (c.is_null())
      throw err("clusters",
                "must be set when do_color_quantize is true (this config has no clusters; transformers fails with "
                "TypeError); pass do_color_quantize=false to get pixel_values");
    bool ok = c.is_array() && !c.empty();
    if (ok)
      for (const auto& row : c) {
        if (!row.is_array() || row.size() != 3) ok = false;
        else
          for (const auto& x : row)
            if (!detail::is_number(x)) ok = false;
      }
    if (!ok) throw err("clusters", "must be an (n_clusters, 3) array of numbers with n_clusters >= 1, got " + show(c));
  }

  void check_channel_format(const std::string& key, bool null_is_error) const {
    const json& v = val(key);
    if (v.is_null()) {
      if (null_is_error)
        throw err(key, "null is not supported by " + spec_.name +
                           " (transformers raises ValueError: None is not a valid ChannelDimension); use "
                           "\"channels_first\" or \"channels_last\"");
      return;
    }
    if (!v.is_string() || (v != "channels_first" && v != "channels_last"))
      throw err(key, "must be \"channels_first\" or \"channels_last\"" + std::string(null_is_error ? "" : " (or null)") +
                         ", got " + show(v));
  }

  const ProcessorConfig& cfg_;
  const detail::ClassSpec& spec_;
  const json& call_;
  CallArgs& out_;
  std::map<std::string, Value> values_;
  std::map<std::string, bool> flags_;
};

}  // namespace

CallArgs resolve_call(const ProcessorConfig& cfg, const json& call_kwargs) {
  const detail::ClassSpec* spec = detail::find_class_spec(cfg.class_name);
  if (!spec)
    throw ConfigError("class_name", "unsupported image processor class \"" + cfg.class_name + "\"");
  if (!cfg.attributes.is_object()) throw ConfigError(cfg.source, "attributes must be a JSON object");
  const json empty = json::object();
  const json& call = call_kwargs.is_null() ? empty : call_kwargs;
  if (!call.is_object()) throw ConfigError(kCallSource, "must be a JSON object of key: value pairs, got " + show(call));
  CallArgs out;
  Resolver(cfg, *spec, call, out).run();
  return out;
}

}  // namespace pixelflow::pipelines
