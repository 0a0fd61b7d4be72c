#include "base/posix_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/errors.h"
#include "base/sha256.h"

namespace pixelflow::posix {

void io_fail(const std::string& path, const std::string& what, int err) {
  throw Error(path + ": " + what + ": " + std::strerror(err));
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Fd::close_checked(const std::string& path) {
  int fd = std::exchange(fd_, -1);
  if (fd >= 0 && ::close(fd) != 0) io_fail(path, "cannot write", errno);
}

void write_all(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, std::min<size_t>(size, size_t(1) << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail(path, "cannot write", errno);
    }
    if (n == 0) io_fail(path, "cannot write", EIO);
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void fsync_fd(int fd, const std::string& path, bool sync) {
  if (!sync) return;
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) io_fail(path, "cannot sync", errno);
}

void fsync_dir(const std::string& dir, bool sync) {
  if (!sync) return;
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) io_fail(dir, "cannot open folder", errno);
  fsync_fd(fd.get(), dir, true);
}

void remove_partial(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::unlink(path.c_str());
}

void write_file(const std::string& path, const Pieces& pieces, bool sync) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (fd.get() < 0) io_fail(path, "cannot create", errno);
  try {
    for (std::string_view piece : pieces) write_all(fd.get(), piece.data(), piece.size(), path);
    fsync_fd(fd.get(), path, sync);
    fd.close_checked(path);
  } catch (...) {
    fd.reset();
    remove_partial(path);
    throw;
  }
}

FileDigest digest_of(const Pieces& pieces) {
  Sha256 h;
  uint64_t size = 0;
  for (std::string_view piece : pieces) {
    h.update(piece);
    size += piece.size();
  }
  return {size, h.hex_digest()};
}

namespace {

// The SHA-256 of the open file `fd`, read to its end, or "" when unreadable or longer than
// `size` (a file that grows is never read on and on).
std::string sha256_of_fd(int fd, uint64_t size) {
  Sha256 h;
  std::vector<char> buf(size_t(1) << 20);
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "";
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
    if (total > size) return "";
  }
  return total == size ? h.hex_digest() : "";
}

}  // namespace

bool file_matches(const std::string& path, uint64_t size, const std::string& sha256) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != size)
    return false;
  // Non-blocking: should a FIFO replace the file after the lstat, opening it does not wait.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const std::string actual = sha256_of_fd(fd.get(), size);
  return !actual.empty() && actual == sha256;
}

void remove_path(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throw Error(path + ": cannot remove: " + ec.message());
}

void remove_file(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) throw Error(path + ": cannot remove: " + ec.message());
}

bool truncate_back(int fd, off_t size, bool sync) {
  if (::ftruncate(fd, size) != 0) return false;
  if (sync) ::fsync(fd);
  return true;
}

bool LineReader::next(std::string& line) {
  for (;;) {
    const size_t nl = buf_.find('\n', start_);
    if (nl != std::string::npos) {
      line.assign(buf_, start_, nl - start_);
      start_ = nl + 1;
      return true;
    }
    buf_.erase(0, start_);
    start_ = 0;
    const size_t before = buf_.size();
    file_.read_append(buf_, size_t(1) << 16);
    if (buf_.size() == before) return false;
  }
}

}  // namespace pixelflow::posix
