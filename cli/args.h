// Command-line parsing shared by the pixelflow subcommands.
#pragma once

#include <cctype>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "graph/pipeline.h"
#include "pipelines/processor_config.h"

namespace pixelflow::cli {

using nlohmann::json;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses "--flag value" and "--flag=value" forms.
class Args {
 public:
  Args(int argc, char** argv, int start) {
    for (int i = start; i < argc; ++i) args_.emplace_back(argv[i]);
  }
  bool done() const { return pos_ >= args_.size(); }
  const std::string& peek() const { return args_[pos_]; }
  std::string next() { return args_[pos_++]; }
  // If the current argument is `flag` (or `flag=...`), consumes it and its value.
  bool take(const std::string& flag, std::string* value) {
    const std::string& a = args_[pos_];
    if (a == flag) {
      if (pos_ + 1 >= args_.size()) throw UsageError(flag + " needs a value");
      *value = args_[pos_ + 1];
      pos_ += 2;
      return true;
    }
    if (a.starts_with(flag + "=")) {
      *value = a.substr(flag.size() + 1);
      ++pos_;
      return true;
    }
    return false;
  }
  bool take_flag(const std::string& flag) {
    if (args_[pos_] == flag) {
      ++pos_;
      return true;
    }
    return false;
  }

 private:
  std::vector<std::string> args_;
  size_t pos_ = 0;
};

// The Hugging Face Hub options of the commands that take --config (README, "The Hugging Face Hub"):
//   --cache-dir DIR  --force-download  --local-files-only  --token T  --subfolder S
//   --proxy URL (every scheme)  --proxies JSON ({"https": URL, ...}, requests' form)
// --revision stays with each command. Returns whether the current argument was one of them.
inline bool take_hub_option(Args& args, pipelines::LoadOptions& load) {
  std::string v;
  if (args.take("--cache-dir", &v)) {
    if (v.empty()) throw UsageError("--cache-dir needs a folder");
    load.cache_dir = v;
    return true;
  }
  if (args.take("--token", &v)) {
    load.token = v;
    return true;
  }
  if (args.take("--subfolder", &v)) {
    load.subfolder = v;
    return true;
  }
  if (args.take("--proxy", &v)) {
    load.proxies["all"] = v;
    return true;
  }
  if (args.take("--proxies", &v)) {
    json j;
    try {
      j = json::parse(v);
    } catch (const json::exception&) {
      throw UsageError("--proxies takes a JSON object such as {\"https\": \"http://proxy:3128\"}, got '" + v + "'");
    }
    if (!j.is_object()) throw UsageError("--proxies takes a JSON object of scheme to proxy URL");
    for (const auto& [k, url] : j.items()) {
      if (!url.is_string()) throw UsageError("--proxies: the proxy for '" + k + "' must be a string");
      load.proxies[k] = url.get<std::string>();
    }
    return true;
  }
  if (args.take_flag("--force-download")) {
    load.force_download = true;
    return true;
  }
  if (args.take_flag("--local-files-only")) {
    load.local_files_only = true;
    return true;
  }
  if (args.take_flag("--resume-download")) {  // the default: a partial download is continued
    load.resume_download = true;
    return true;
  }
  if (args.take_flag("--no-resume-download")) {
    load.resume_download = false;
    return true;
  }
  return false;
}

inline constexpr const char* kHubOptionsHelp = R"(Hugging Face Hub options (a model id that is neither cached nor bundled is downloaded into
the hub cache, as huggingface_hub does; see the README):
  --cache-dir DIR         the hub cache (default: $HF_HUB_CACHE, else $HF_HOME/hub, else
                          ~/.cache/huggingface/hub)
  --force-download        download even if cached
  --local-files-only      never use the network (as HF_HUB_OFFLINE=1)
  --no-resume-download    start a partial download (blobs/<etag>.*.incomplete) over instead of
                          continuing it with a Range request (--resume-download: the default)
  --token T               sent as "Authorization: Bearer T" (default: $HF_TOKEN, else the file
                          $HF_TOKEN_PATH, default $HF_HOME/token)
  --subfolder S           the folder of the repository holding preprocessor_config.json
  --proxy URL             a proxy for every request (default: https_proxy, http_proxy, no_proxy)
  --proxies JSON          proxies per scheme or host: {"https": "http://proxy:3128"}
)";

// A message on one line: line breaks become spaces.
inline std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

// A path's extension in lower case (".yaml", ".npy", "" when it has none).
inline std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// A YAML pipeline file (pipelines/PIPELINES.md) rather than a processor config.
inline bool is_yaml_file(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".yaml" || ext == ".yml";
}

// --set has the meaning of a Hugging Face call kwarg, which an explicit YAML op list has not.
inline void refuse_set_for_yaml(const json& kwargs, const std::string& yaml) {
  if (!kwargs.empty())
    throw UsageError("--set does not apply to a YAML pipeline (" + yaml + "): edit its ops, or point its "
                     "`config:` at the processor config and give `kwargs:` there");
}

// "--set KEY=JSON" into kwargs[KEY].
inline void parse_set(const std::string& arg, json& kwargs) {
  size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) throw UsageError("--set expects KEY=JSON, got '" + arg + "'");
  std::string key = arg.substr(0, eq);
  std::string text = arg.substr(eq + 1);
  kwargs[key] = json(pipelines::parse_config_json(
      text, "--set " + key, "value is not valid JSON: " + text + " (strings need quotes, e.g. '\"channels_first\"')"));
}

// A positive integer option value.
inline int parse_int_option(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    int n = std::stoi(v, &used);
    if (used != v.size() || n <= 0) throw std::invalid_argument("bad");
    return n;
  } catch (const std::exception&) {
    throw UsageError(flag + " expects a positive integer, got '" + v + "'");
  }
}

// --threads N: refused above kMaxThreads (graph/pipeline.h), every command alike.
inline int check_threads(const std::string& flag, int n) {
  if (n > kMaxThreads)
    throw UsageError(flag + " expects at most " + std::to_string(kMaxThreads) + " threads, got " + std::to_string(n));
  return n;
}

// A positive --threads N, at most kMaxThreads.
inline int parse_threads_option(const std::string& flag, const std::string& v) {
  return check_threads(flag, parse_int_option(flag, v));
}

// A pixel count for --max-image-pixels / PIXELFLOW_MAX_IMAGE_PIXELS: a non-negative integer.
inline int64_t parse_pixel_limit(const std::string& value, const std::string& what) {
  size_t used = 0;
  long long n = -1;
  try {
    n = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || n < 0)
    throw UsageError(what + " expects a pixel count (a non-negative integer, 0: no limit), got '" + value + "'");
  return n;
}

inline double parse_seconds_option(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    double d = std::stod(v, &used);
    if (used != v.size() || !(d > 0)) throw std::invalid_argument("bad");
    return d;
  } catch (const std::exception&) {
    throw UsageError(flag + " expects a positive number of seconds, got '" + v + "'");
  }
}

// Loads the tuning file for this CPU: `path` if given (it must exist), else the default
// location if present. "none" keeps the built-in defaults.
void apply_tuning(const std::string& path);

int cmd_bench(Args& args);
int cmd_tune(Args& args);

}  // namespace pixelflow::cli
