// Internal to pipelines/: the Python semantics the config code shares (truthiness,
// isinstance(x, int), get_size_dict, error construction and short value renderings).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/errors.h"

namespace pixelflow::pipelines::detail {

// ConfigError about `key` located at `source` (where()): message "<source>: <key>: <problem>".
ConfigError config_error(const std::string& source, const std::string& key, const std::string& problem);

// Short JSON rendering of a value for error messages (long values are elided).
std::string show(const nlohmann::json& v);

bool py_truthy(const nlohmann::json& v);
bool is_py_int(const nlohmann::json& v);   // isinstance(v, int): JSON integers and booleans
bool is_number(const nlohmann::json& v);   // int or float, booleans excluded
bool is_integer(const nlohmann::json& v);  // JSON integer, booleans excluded

// The true/false parameters: do_* and keep_aspect_ratio, include_top, rescale_offset, crop_to_patches.
bool is_flag_param(const std::string& name);
// The note for a non-boolean flag value: "pixelflow: <where>: <key>: expected true/false, got ...".
std::string truthiness_note(const std::string& where, const std::string& key, const nlohmann::json& v);

// transformers.image_processing_utils.get_size_dict(size, default_to_square=..., param_name=...);
// throws ConfigError (source, param_name) where it raises ValueError/IndexError.
nlohmann::json get_size_dict(const nlohmann::json& size, bool default_to_square, const std::string& param_name,
                             const std::string& source);

}  // namespace pixelflow::pipelines::detail
