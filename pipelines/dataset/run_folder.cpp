#include "pipelines/dataset/run_folder.h"

#include <cstdio>
#include <stdexcept>

#include "base/sha256.h"

namespace pixelflow::pipelines {

namespace {

// "/config/size/shortest_edge" -> "config.size.shortest_edge"
std::string pointer_to_dotted(const std::string& pointer) {
  std::string out;
  nlohmann::json::json_pointer p(pointer);
  std::vector<std::string> parts;
  while (!p.empty()) {
    parts.push_back(p.back());
    p.pop_back();
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  return out.empty() ? "(whole key)" : out;
}

std::string short_value(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s.size() <= 40 ? s : s.substr(0, 37) + "...";
}

// One operation of a JSON patch from `there` to `here`, as describe_difference shows it.
std::string describe_patch_op(const nlohmann::json& op, const nlohmann::json& there, const nlohmann::json& here) {
  const std::string path = op.at("path").get<std::string>();
  const std::string what = op.at("op").get<std::string>();
  std::string item = pointer_to_dotted(path);
  nlohmann::json::json_pointer ptr(path);
  if (what == "replace")
    item += " " + short_value(there.at(ptr)) + " there, " + short_value(here.at(ptr)) + " now";
  else if (what == "add")
    item += " absent there, " + short_value(here.at(ptr)) + " now";
  else if (what == "remove")
    item += " " + short_value(there.at(ptr)) + " there, absent now";
  return item;
}

}  // namespace

const char* format_name(SinkSpec::Format format) {
  return format == SinkSpec::Format::kNpy ? "npy" : "safetensors";
}

std::string make_run_key(const nlohmann::json& config, const std::vector<std::string>& inputs,
                         int64_t batch_size, SinkSpec::Format format, DType dtype) {
  if (batch_size < 1) throw std::invalid_argument("make_run_key: batch_size must be >= 1");
  if (dtype != DType::kFloat32 && dtype != DType::kFloat16 && dtype != DType::kBFloat16)
    throw std::invalid_argument(std::string("make_run_key: dtype ") + dtype_name(dtype) +
                                " is not float32, float16 or bfloat16");
  Sha256 h;
  for (const auto& in : inputs) {
    h.update(in);
    h.update("\n");
  }
  nlohmann::ordered_json key;
  key["config"] = config;
  key["inputs_sha256"] = h.hex_digest();
  key["total"] = static_cast<int64_t>(inputs.size());
  key["batch_size"] = batch_size;
  key["format"] = format_name(format);
  if (dtype != DType::kFloat32) key["dtype"] = dtype_name(dtype);
  return key.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int64_t batch_count(int64_t total, int64_t batch_size) {
  return total / batch_size + (total % batch_size != 0);
}

std::string shard_name(int64_t b, SinkSpec::Format format) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "shard-%06lld", static_cast<long long>(b));
  return std::string(buf) + (format == SinkSpec::Format::kSafetensors ? ".safetensors" : "");
}

int64_t shard_number(const std::string& name, SinkSpec::Format format) {
  static const std::string prefix = "shard-";
  if (!name.starts_with(prefix)) return -1;
  size_t i = prefix.size(), j = i;
  while (j < name.size() && j - i < 18 && name[j] >= '0' && name[j] <= '9') ++j;
  if (j - i < 6) return -1;
  const std::string rest = name.substr(j);
  if (rest != (format == SinkSpec::Format::kSafetensors ? ".safetensors" : "")) return -1;
  const int64_t n = std::stoll(name.substr(i, j - i));
  char canonical[32];  // "shard-000042", not "shard-0000042"
  std::snprintf(canonical, sizeof canonical, "shard-%06lld", static_cast<long long>(n));
  return name.compare(0, j, canonical) == 0 ? n : -1;
}

bool is_shard_name(const std::string& name) {
  return shard_number(name, SinkSpec::Format::kNpy) >= 0 || shard_number(name, SinkSpec::Format::kSafetensors) >= 0;
}

std::string run_id_of(const std::string& run_json_text) { return sha256_hex(run_json_text).substr(0, 16); }

std::string temp_name(const std::string& run_id, const std::string& name) {
  return ".pixelflow-" + run_id + "." + name + ".tmp";
}

bool is_temporary_of(const std::string& name, const std::string& run_id) {
  const std::string prefix = ".pixelflow-" + run_id + ".";
  return name.size() > prefix.size() + 4 && name.starts_with(prefix) && name.ends_with(".tmp");
}

std::string describe_difference(const nlohmann::json& there, const nlohmann::json& here) {
  nlohmann::json patch = nlohmann::json::diff(there, here);
  std::string out;
  size_t shown = 0;
  for (const auto& op : patch) {
    if (shown == 3) {
      out += "; and " + std::to_string(patch.size() - shown) + " more";
      break;
    }
    out += (out.empty() ? "" : "; ") + describe_patch_op(op, there, here);
    ++shown;
  }
  return out;
}

}  // namespace pixelflow::pipelines
