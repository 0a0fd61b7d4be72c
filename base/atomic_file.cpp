#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "base/errors.h"
#include "base/posix_file.h"

namespace pixelflow {

namespace {

using posix::Fd;
using posix::io_fail;

std::string folder_of(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// 16 hex digits, unpredictable enough that another process does not pick the same name (O_EXCL
// settles the rest).
std::string random_suffix() {
  static std::atomic<uint64_t> counter{0};
  uint64_t r = 0;
  if (::getrandom(&r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r))
    r = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  r ^= counter.fetch_add(1, std::memory_order_relaxed) * 0x9e3779b97f4a7c15ull;
  static const char kHex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 0; i < 16; ++i) s[static_cast<size_t>(i)] = kHex[(r >> (4 * i)) & 15];
  return s;
}

// Creates a new temporary next to `path`; returns its name and descriptor.
std::pair<std::string, int> create_temporary(const std::string& path) {
  const std::filesystem::path p(path);
  std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..") throw Error(path + ": not a file name");
  // Leave room for the suffix within NAME_MAX (255).
  if (name.size() > 200) name.resize(200);
  for (int attempt = 0;; ++attempt) {
    const std::string tmp_name = "." + name + "." + std::to_string(::getpid()) + "." + random_suffix() + ".tmp";
    const std::string tmp = (p.parent_path() / tmp_name).string();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) return {tmp, fd};
    if (errno == EEXIST && attempt < 16) continue;
    io_fail(path, "cannot create a temporary file in its folder", errno);
  }
}

}  // namespace

StagedFiles::~StagedFiles() {
  for (size_t i = committed_; i < staged_.size(); ++i) ::unlink(staged_[i].tmp.c_str());
}

void StagedFiles::stage(const std::string& path, const std::vector<std::string_view>& pieces) {
  auto [tmp, raw_fd] = create_temporary(path);
  Fd fd(raw_fd);
  try {
    staged_.push_back({path, tmp});
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  // From here on the destructor removes `tmp` on failure.
  for (std::string_view piece : pieces) posix::write_all(fd.get(), piece.data(), piece.size(), path);
  posix::fsync_fd(fd.get(), path, sync_);
  fd.close_checked(path);
}

void StagedFiles::commit() {
  // A folder at a final name would make its rename fail half way through; find it first.
  for (size_t i = committed_; i < staged_.size(); ++i) {
    struct stat st {};
    if (::lstat(staged_[i].path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      throw Error(staged_[i].path + ": is a folder, cannot be replaced by a file");
  }
  std::vector<std::string> folders;
  for (; committed_ < staged_.size(); ++committed_) {
    const Entry& e = staged_[committed_];
    std::string folder = folder_of(e.path);
    if (std::find(folders.begin(), folders.end(), folder) == folders.end()) folders.push_back(std::move(folder));
    if (::rename(e.tmp.c_str(), e.path.c_str()) != 0) io_fail(e.path, "cannot replace it", errno);
  }
  if (sync_)
    for (const auto& f : folders) posix::fsync_dir(f);
}

std::vector<std::string> StagedFiles::paths() const {
  std::vector<std::string> out;
  for (const auto& e : staged_) out.push_back(e.path);
  return out;
}

void atomic_write_file(const std::string& path, const std::vector<std::string_view>& pieces, bool sync) {
  StagedFiles files(sync);
  files.stage(path, pieces);
  files.commit();
}

}  // namespace pixelflow
