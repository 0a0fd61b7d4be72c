#include "ops/common/params.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "base/errors.h"

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
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw ConfigError(key_path(path, key), "integer out of range, got " + shown(v));
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    // Only a double in [-2^63, 2^63) converts to int64_t (anything else, NaN included, is UB).
    const double d = v.get<double>();
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == std::trunc(d))
      return static_cast<int64_t>(d);
  }
  throw ConfigError(key_path(path, key), "must be an integer, got " + shown(v));
}

int64_t param_side(const nlohmann::json& p, const std::string& key, const std::string& path) {
  const int64_t v = param_positive_int(p, key, path);
  if (v > kMaxSide)
    throw ConfigError(key_path(path, key), "must be at most " + std::to_string(kMaxSide) +
                                               " (a size in pixels; Pillow keeps sizes in C ints), got " +
                                               std::to_string(v));
  return v;
}

int64_t side_from_double(double v, const std::string& key, const std::string& what) {
  if (!(v >= 0 && v < static_cast<double>(kMaxSide) + 1))
    throw ConfigError(key, what + " = " + std::to_string(v) + " is not a size in pixels (0 to " +
                               std::to_string(kMaxSide) + ")");
  return static_cast<int64_t>(v);
}

void check_output_shape(const std::string& what, int64_t h, int64_t w, int64_t channels) {
  const __int128 values = static_cast<__int128>(h) * w * std::max<int64_t>(channels, 1);
  if (h > kMaxSide || w > kMaxSide || values > kMaxOutputValues)
    throw InputError(what + ": output of " + std::to_string(h) + " x " + std::to_string(w) + " pixels is too large (" +
                     (h > kMaxSide || w > kMaxSide ? "a side exceeds " + std::to_string(kMaxSide)
                                                   : "more than " + std::to_string(kMaxOutputValues) + " values") +
                     ")");
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
