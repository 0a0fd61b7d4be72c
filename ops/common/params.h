// Reading op parameters (Hugging Face keys) from JSON, with errors that name the key.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pixelflow::ops {

// `path` is the key path used in error messages, e.g. "crop_size" gives "crop_size.height".
int64_t param_positive_int(const nlohmann::json& p, const std::string& key, const std::string& path = "");

// The largest side in pixels an op accepts or computes: Pillow keeps sizes in C ints.
inline constexpr int64_t kMaxSide = 2147483647;  // 2^31 - 1
// The most values (pixels x channels) an op's output may have: 2^40, the .npy reader's limit.
inline constexpr int64_t kMaxOutputValues = int64_t(1) << 40;
// A size in pixels (size.height, shortest_edge, crop_size.width, size_divisor, ...): an integer
// in [1, kMaxSide], else ConfigError naming the key. Keeps every size computation in int64_t.
int64_t param_side(const nlohmann::json& p, const std::string& key, const std::string& path = "");
// A size computed in floating point from config values (e.g. shortest_edge / crop_pct),
// truncated as Python's int() does; ConfigError(key, "<what> = v is not a size ...") unless it
// is in [0, kMaxSide] (a double outside int64_t's range must never be converted).
int64_t side_from_double(double v, const std::string& key, const std::string& what);
// Refuses, with InputError("<what>: output of H x W pixels is too large (...)"), an output of
// h x w pixels of `channels` values when a side exceeds kMaxSide or the values kMaxOutputValues.
void check_output_shape(const std::string& what, int64_t h, int64_t w, int64_t channels);
int64_t param_int(const nlohmann::json& p, const std::string& key, const std::string& path = "");
double param_double(const nlohmann::json& p, const std::string& key, const std::string& path = "");
bool param_bool(const nlohmann::json& p, const std::string& key, const std::string& path = "");
bool param_bool_or(const nlohmann::json& p, const std::string& key, bool fallback);

// A float or a list of floats (HF's image_mean / image_std). `scalar` says which it was.
std::vector<double> param_double_list(const nlohmann::json& p, const std::string& key, bool* scalar,
                                      const std::string& path = "");

std::string key_path(const std::string& path, const std::string& key);

}  // namespace pixelflow::ops
