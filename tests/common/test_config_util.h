// Helpers shared by the config tests (tests/test_config*.cpp).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "pipelines/processor_config.h"

namespace pixelflow::test_config {

inline std::string data_dir() { return PIXELFLOW_TEST_DATA_DIR; }
// The bundled configs in the source tree (tests/data/../../pipelines/models).
inline std::string models_dir() {
  return (std::filesystem::path(PIXELFLOW_TEST_DATA_DIR) / ".." / ".." / "pipelines" / "models").lexically_normal().string();
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The JSON objects of a JSON Lines file (blank lines skipped); empty when it cannot be read.
inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pixelflow_cfg_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Sets (or unsets, with nullopt) an environment variable for the lifetime of the guard.
class EnvGuard {
 public:
  EnvGuard(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value->c_str(), 1);
    else unsetenv(name);
  }
  ~EnvGuard() {
    if (old_) setenv(name_.c_str(), old_->c_str(), 1);
    else unsetenv(name_.c_str());
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};


// A config parsed from JSON text, as if read from cfg.json.
inline pipelines::ProcessorConfig from_text(const std::string& text, const pipelines::LoadOptions& opts = {}) {
  return pipelines::processor_config_from_json_text(text, "cfg.json", opts);
}

// The message of the ConfigError f raises, or "<no ConfigError>".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no ConfigError>";
}

inline nlohmann::json hw(int h, int w) { return {{"height", h}, {"width", w}}; }
inline nlohmann::json se(int s) { return {{"shortest_edge", s}}; }

}  // namespace pixelflow::test_config
