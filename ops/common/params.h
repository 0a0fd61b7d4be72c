// Reading op parameters (Hugging Face keys) from JSON, with errors that name the key.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pixelflow::ops {

// `path` is the key path used in error messages, e.g. "crop_size" gives "crop_size.height".
int64_t param_positive_int(const nlohmann::json& p, const std::string& key, const std::string& path = "");
int64_t param_int(const nlohmann::json& p, const std::string& key, const std::string& path = "");
double param_double(const nlohmann::json& p, const std::string& key, const std::string& path = "");
bool param_bool(const nlohmann::json& p, const std::string& key, const std::string& path = "");
bool param_bool_or(const nlohmann::json& p, const std::string& key, bool fallback);
std::string param_string(const nlohmann::json& p, const std::string& key, const std::string& path = "");

// A float or a list of floats (HF's image_mean / image_std). `scalar` says which it was.
std::vector<double> param_double_list(const nlohmann::json& p, const std::string& key, bool* scalar,
                                      const std::string& path = "");

std::string key_path(const std::string& path, const std::string& key);

}  // namespace pixelflow::ops
