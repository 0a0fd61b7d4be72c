// Where a path or a model id resolves to: local file/directory, the local Hugging Face hub cache
// (same layout and environment variables as huggingface_hub), then the bundled configs, then a
// download from the Hub into that cache (pipelines/hub/hub.h) unless downloads are off.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/file_io.h"
#include "base/text.h"
#include "pipelines/hub/hub.h"
#include "pipelines/processor_config.h"

namespace pixelflow::pipelines {

namespace fs = std::filesystem;

namespace {

const char* const kConfigName = "preprocessor_config.json";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}


// huggingface_hub.utils.validate_repo_id, simplified: "name" or "namespace/name" made of
// [A-Za-z0-9_.-], no "--" or "..", no leading/trailing "-" or ".".
bool looks_like_model_id(const std::string& id) {
  if (id.empty() || id.size() > 96 * 2 + 1) return false;
  if (id.find("--") != std::string::npos || id.find("..") != std::string::npos) return false;
  const auto slash = id.find('/');
  if (slash != std::string::npos && id.find('/', slash + 1) != std::string::npos) return false;
  auto part_ok = [](const std::string& part) {
    if (part.empty() || part.size() > 96) return false;
    for (char c : part)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
    return part.front() != '-' && part.front() != '.' && part.back() != '-' && part.back() != '.';
  };
  if (slash == std::string::npos) return part_ok(id);
  return part_ok(id.substr(0, slash)) && part_ok(id.substr(slash + 1));
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string bundled_folder_name(const std::string& model_id) {
  const auto slash = model_id.find('/');
  return slash == std::string::npos ? model_id : model_id.substr(0, slash) + "__" + model_id.substr(slash + 1);
}

}  // namespace

std::string hf_hub_cache_dir() { return hub::hub_cache_dir(); }

namespace {
std::string& bundled_models_dir_override() {
  static std::string dir;
  return dir;
}
}  // namespace

void set_bundled_models_dir(const std::string& dir) { bundled_models_dir_override() = dir; }

std::string bundled_models_dir() {
  if (std::string v = env("PIXELFLOW_MODELS_DIR"); !v.empty()) return hub::expand_user(v);
  if (!bundled_models_dir_override().empty()) return bundled_models_dir_override();
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "pixelflow" / "models";
    if (fs::is_directory(installed, ec)) return installed.string();
  }
#ifdef PIXELFLOW_BUNDLED_CONFIG_DIR
  return PIXELFLOW_BUNDLED_CONFIG_DIR;
#else
  return "";
#endif
}

std::vector<std::string> bundled_model_ids() {
  std::vector<std::string> ids;
  std::error_code ec;
  const std::string dir = bundled_models_dir();
  if (dir.empty() || !fs::is_directory(dir, ec)) return ids;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_directory(ec) || !fs::is_regular_file(entry.path() / kConfigName, ec)) continue;
    std::string name = entry.path().filename().string();
    if (const auto pos = name.find("__"); pos != std::string::npos) name = name.substr(0, pos) + "/" + name.substr(pos + 2);
    ids.push_back(name);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

namespace {

// A local folder or file named `p`; nullopt when nothing by that name exists.
std::optional<std::string> resolve_local(const std::string& p, const std::string& subfolder) {
  std::error_code ec;
  const fs::path path(p);
  if (fs::is_directory(path, ec)) {
    const fs::path file = path / subfolder / kConfigName;
    if (fs::is_regular_file(file, ec)) return file.string();
    throw ConfigError(p, "directory has no " + (fs::path(subfolder) / kConfigName).relative_path().string());
  }
  if (fs::is_regular_file(path, ec)) return p;
  if (fs::exists(path, ec)) {
    const RegularFile check(p, FileRole::kConfig);  // refuses it: "not a regular file (a FIFO)", ...
    return p;                                       // (it became a regular file meanwhile)
  }
  return std::nullopt;
}

// subfolder/preprocessor_config.json as a path in the repository ("a/b/preprocessor_config.json").
std::string path_in_repo(const std::string& subfolder) {
  std::string sub = subfolder;
  while (!sub.empty() && sub.back() == '/') sub.pop_back();
  while (!sub.empty() && sub.front() == '/') sub.erase(0, 1);
  return sub.empty() ? std::string(kConfigName) : sub + "/" + kConfigName;
}

}  // namespace

std::string resolve_preprocessor_config_path(const std::string& path_or_model_id,
                                             const std::optional<std::string>& revision,
                                             const std::optional<std::string>& cache_dir, const std::string& subfolder) {
  LoadOptions o;
  o.revision = revision;
  o.cache_dir = cache_dir;
  o.subfolder = subfolder;
  o.local_files_only = true;
  return resolve_preprocessor_config_path(path_or_model_id, o);
}

std::string resolve_preprocessor_config_path(const std::string& path_or_model_id, const LoadOptions& opts) {
  const std::string& p = path_or_model_id;
  const std::string& subfolder = opts.subfolder;
  if (p.empty()) throw ConfigError("<empty path>", "expected a directory, a preprocessor_config.json file or a model id");
  if (auto local = resolve_local(p, subfolder)) return *local;
  if (!looks_like_model_id(p))
    throw ConfigError(p, "no such file or directory (and not a model id of the form \"org/name\")");

  const std::string rev = opts.revision.value_or("main");
  if (rev.empty()) throw ConfigError(p, "empty revision");
  const std::string cache = opts.cache_dir && !opts.cache_dir->empty() ? hub::expand_user(*opts.cache_dir) : hf_hub_cache_dir();
  const fs::path repo = fs::path(cache) / hub::repo_folder_name(p);
  const std::string file_in_repo = path_in_repo(subfolder);
  std::error_code ec;
  const std::string bundled = bundled_models_dir();
  if (!opts.force_download) {
    // huggingface_hub try_to_load_from_cache: refs/<revision> holds the commit hash; otherwise the
    // revision itself names a snapshot (a commit hash).
    if (fs::is_directory(repo, ec)) {
      std::string commit = rev;
      const fs::path ref = repo / "refs" / rev;
      if (rev.find("..") == std::string::npos && fs::is_regular_file(ref, ec))
        commit = trim(read_regular_file(ref.string(), kMaxConfigFileBytes, "a refs file", FileRole::kConfig));
      if (!commit.empty() && commit.find("..") == std::string::npos) {
        const fs::path file = repo / "snapshots" / commit / file_in_repo;
        if (fs::is_regular_file(file, ec)) return file.string();
      }
    }
    if (rev == "main" && !bundled.empty()) {
      const fs::path file = fs::path(bundled) / bundled_folder_name(p) / subfolder / kConfigName;
      if (fs::is_regular_file(file, ec)) return file.string();
    }
  }
  const bool offline = opts.local_files_only || hub::offline_mode();
  if (offline && !opts.force_download) {
    if (hub::cached_as_missing(cache, p, rev, file_in_repo))
      throw HubError(HubError::Kind::kEntryNotFound, p,
                     file_in_repo + " does not exist in revision \"" + rev + "\" (recorded in the cache's .no_exist, " +
                         repo.string() + ")");
    const std::string known = join(bundled_model_ids());
    throw HubError(HubError::Kind::kOffline, p,
                   "model id not found: no " + file_in_repo + " for revision \"" + rev + "\" in the Hugging Face cache (" +
                       repo.string() + ")" +
                       (rev == "main" ? " and no bundled copy in " + bundled + " (bundled: " + known + ")"
                                      : "; bundled copies are only used for the main revision") +
                       ", and downloads are off (" +
                       (opts.local_files_only ? "local_files_only" : "HF_HUB_OFFLINE is set") + ")");
  }
  hub::DownloadOptions d;
  d.connection.endpoint = opts.endpoint;
  d.connection.token = opts.token;
  d.connection.use_token = opts.use_token;
  d.connection.proxies = opts.proxies;
  d.cache_dir = cache;
  d.force_download = opts.force_download;
  d.local_files_only = opts.local_files_only;
  d.resume_download = opts.resume_download;
  return hub::download(p, file_in_repo, rev, d);
}

}  // namespace pixelflow::pipelines
