#include "pipelines/input_source.h"

#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <set>

#include "base/errors.h"
#include "base/file_io.h"

namespace pixelflow::pipelines {

namespace fs = std::filesystem;

namespace {

// The folder left out of a listing (the run's output folder), by device and inode, so that any
// spelling of it (relative, absolute, through a link) matches. Inactive when it does not exist.
class Excluded {
 public:
  explicit Excluded(const std::string& dir) {
    struct stat st;
    active_ = !dir.empty() && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    if (active_) dev_ = st.st_dev, ino_ = st.st_ino;
  }
  // Whether `dir` (a folder met while listing) is the excluded one.
  bool is(const fs::path& dir) const {
    struct stat st;
    return active_ && ::stat(dir.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
  }

 private:
  bool active_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

std::vector<std::string> list_folder(const SourceSpec& src, const Excluded& excluded) {
  std::error_code ec;
  if (!fs::is_directory(src.path, ec)) {
    if (fs::exists(src.path, ec)) throw Error(src.path + ": not a folder");
    throw Error(src.path + ": folder not found");
  }
  if (excluded.is(src.path))
    throw Error(src.path + ": is also the output folder; the inputs must be in another folder");
  std::vector<std::string> files;
  // Only regular files (symlinks followed; a FIFO, a device, a folder or a symlink loop is left
  // out, without opening it).
  auto consider = [&](const fs::directory_entry& e) {
    std::error_code entry_ec;
    if (!hidden(e.path()) && e.is_regular_file(entry_ec) && has_input_extension(e.path().string()))
      files.push_back(e.path().string());
  };
  try {
  if (src.recursive) {
    fs::recursive_directory_iterator it(src.path, fs::directory_options::skip_permission_denied), end;
    for (; it != end; ++it) {
      std::error_code entry_ec;
      const bool dir = it->is_directory(entry_ec);
      if (hidden(it->path()) || (dir && excluded.is(it->path()))) {
        if (dir) it.disable_recursion_pending();
        continue;
      }
      consider(*it);
    }
  } else {
    for (const auto& e : fs::directory_iterator(src.path)) consider(e);
  }
  } catch (const fs::filesystem_error& e) {  // unreadable folder, removed while listed, ...
    throw Error(src.path + ": cannot list the folder (" + e.code().message() + ")");
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw Error(src.path + ": no image or .npy files in this folder");
  return files;
}

// `dir` joined with `name`; an empty `dir` stands for the current folder.
std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

void glob_walk(const std::string& dir, const std::vector<std::string>& comps, size_t i,
               const Excluded& excluded, std::set<std::string>& out) {
  std::error_code ec;
  const std::string here = dir.empty() ? "." : dir;
  if (i == comps.size()) {
    if (fs::is_regular_file(here, ec)) out.insert(dir);
    return;
  }
  if (excluded.is(here)) return;
  const std::string& comp = comps[i];
  if (comp == "**") {
    glob_walk(dir, comps, i + 1, excluded, out);  // zero folders
    if (!fs::is_directory(here, ec)) return;
    for (const auto& e : fs::directory_iterator(here, fs::directory_options::skip_permission_denied, ec))
      if (!hidden(e.path()) && e.is_directory(ec) && !e.is_symlink(ec))
        glob_walk(join(dir, e.path().filename().string()), comps, i, excluded, out);
    return;
  }
  if (!is_glob_pattern(comp)) {
    const std::string next = join(dir, comp);
    if (fs::exists(next, ec)) glob_walk(next, comps, i + 1, excluded, out);
    return;
  }
  if (!fs::is_directory(here, ec)) return;
  for (const auto& e : fs::directory_iterator(here, fs::directory_options::skip_permission_denied, ec)) {
    const std::string name = e.path().filename().string();
    if (fnmatch(comp.c_str(), name.c_str(), FNM_PERIOD) == 0) glob_walk(join(dir, name), comps, i + 1, excluded, out);
  }
}

std::vector<std::string> list_glob(const SourceSpec& src, const Excluded& excluded) {
  const std::string& pattern = src.path;
  std::vector<std::string> comps;
  size_t start = 0;
  while (start <= pattern.size()) {
    size_t slash = pattern.find('/', start);
    if (slash == std::string::npos) slash = pattern.size();
    std::string c = pattern.substr(start, slash - start);
    if (!c.empty()) comps.push_back(std::move(c));
    start = slash + 1;
  }
  std::set<std::string> found;
  glob_walk(!pattern.empty() && pattern[0] == '/' ? "/" : "", comps, 0, excluded, found);
  if (found.empty()) throw Error(pattern + ": no files match this pattern");
  return {found.begin(), found.end()};
}

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::vector<std::string> list_file(const SourceSpec& src) {
  std::error_code ec;
  if (fs::is_directory(src.path, ec)) throw Error(src.path + ": is a folder, not a list file");
  if (has_input_extension(src.path) && fs::is_regular_file(src.path, ec))
    throw Error(src.path + ": is an image or .npy file, not a list file (one input path per line)");
  if (!fs::exists(src.path, ec)) throw Error(src.path + ": list file not found");
  std::istringstream f(read_regular_file(src.path));  // no FIFO or device (base/file_io.h)
  const fs::path base = fs::path(src.path).parent_path();
  std::vector<std::string> inputs;
  std::string line;
  while (std::getline(f, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    fs::path p(line);
    inputs.push_back(p.is_absolute() || base.empty() ? line : (base / p).string());
  }
  if (inputs.empty()) throw Error(src.path + ": list file names no input");
  return inputs;
}

}  // namespace

bool is_glob_pattern(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

bool has_input_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const char* const kKnown[] = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".npy"};
  for (const char* k : kKnown)
    if (ext == k) return true;
  return false;
}

SourceSpec source_from_argument(const std::string& arg, bool recursive) {
  std::error_code ec;
  SourceSpec s;
  s.path = arg;
  s.recursive = recursive;
  if (fs::is_directory(arg, ec))
    s.kind = SourceSpec::Kind::kFolder;
  else if (is_glob_pattern(arg) && !fs::exists(arg, ec))
    s.kind = SourceSpec::Kind::kGlob;
  else
    s.kind = SourceSpec::Kind::kList;
  return s;
}

std::vector<std::string> list_inputs(const SourceSpec& source, const std::string& exclude_dir) {
  const Excluded excluded(exclude_dir);
  switch (source.kind) {
    case SourceSpec::Kind::kFolder: return list_folder(source, excluded);
    case SourceSpec::Kind::kGlob: return list_glob(source, excluded);
    case SourceSpec::Kind::kList: return list_file(source);
  }
  throw Error("unknown input source kind");
}

}  // namespace pixelflow::pipelines
