#include "ops/common/params.h"

#include "graph/errors.h"

namespace pixelflow::ops {

std::string key_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

namespace {

const nlohmann::json& require(const nlohmann::json& p, const std::string& key,
                              const std::string& path) {
  if (!p.is_object() || !p.contains(key))
    throw ConfigError(key_path(path, key), "missing");
  return p.at(key);
}

std::string shown(const nlohmann::json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

}  // namespace

int64_t param_int(const nlohmann::json& p, const std::string& key, const std::string& path) {
  const auto& v = require(p, key, path);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  throw ConfigError(key_path(path, key), "must be an integer, got " + shown(v));
}

int64_t param_positive_int(const nlohmann::json& p, const std::string& key, const std::string& path) {
  int64_t v = param_int(p, key, path);
  if (v <= 0) throw ConfigError(key_path(path, key), "must be > 0, got " + std::to_string(v));
  return v;
}

double param_double(const nlohmann::json& p, const std::string& key, const std::string& path) {
  const auto& v = require(p, key, path);
  if (v.is_number()) return v.get<double>();
  throw ConfigError(key_path(path, key), "must be a number, got " + shown(v));
}

bool param_bool(const nlohmann::json& p, const std::string& key, const std::string& path) {
  const auto& v = require(p, key, path);
  if (v.is_boolean()) return v.get<bool>();
  throw ConfigError(key_path(path, key), "must be true or false, got " + shown(v));
}

bool param_bool_or(const nlohmann::json& p, const std::string& key, bool fallback) {
  if (!p.is_object() || !p.contains(key) || p.at(key).is_null()) return fallback;
  return param_bool(p, key);
}

std::string param_string(const nlohmann::json& p, const std::string& key, const std::string& path) {
  const auto& v = require(p, key, path);
  if (v.is_string()) return v.get<std::string>();
  throw ConfigError(key_path(path, key), "must be a string, got " + shown(v));
}

std::vector<double> param_double_list(const nlohmann::json& p, const std::string& key, bool* scalar,
                                      const std::string& path) {
  const auto& v = require(p, key, path);
  std::vector<double> out;
  if (v.is_number()) {
    *scalar = true;
    out.push_back(v.get<double>());
    return out;
  }
  if (!v.is_array() || v.empty())
    throw ConfigError(key_path(path, key), "must be a number or a list of numbers, got " + shown(v));
  *scalar = false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number())
      throw ConfigError(key_path(path, key) + "[" + std::to_string(i) + "]",
                        "must be a number, got " + shown(v[i]));
    out.push_back(v[i].get<double>());
  }
  return out;
}

}  // namespace pixelflow::ops
