#include "pipelines/processors/py_semantics.h"

#include <algorithm>
#include <set>
#include <vector>

#include "base/text.h"
#include "pipelines/py_json.h"

namespace pixelflow::pipelines::detail {

using nlohmann::json;

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

bool is_flag_param(const std::string& name) {
  return name.starts_with("do_") || name == "keep_aspect_ratio" || name == "include_top" || name == "rescale_offset" ||
         name == "crop_to_patches";
}

std::string truthiness_note(const std::string& where, const std::string& key, const json& v) {
  return "pixelflow: " + where + ": " + key + ": expected true/false, got " + show(v) + "; transformers treats it as " +
         (py_truthy(v) ? "true" : "false") + " (Python truthiness), and so does pixelflow";
}

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
    const std::string got = join(keys);
    throw config_error(source, param_name,
                       "must have one of the key sets {height, width}, {shortest_edge}, {shortest_edge, longest_edge}, "
                       "{longest_edge}, {max_height, max_width}; got {" +
                           got + "}");
  }
  return d;
}

}  // namespace pixelflow::pipelines::detail
