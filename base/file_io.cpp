#include "base/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "base/errors.h"

namespace pixelflow {

std::string file_type_name(unsigned mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a file";
}

RegularFile::RegularFile(const std::string& path, FileRole role) : path_(path), role_(role) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(std::string("cannot open file: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("not a regular file (" + file_type_name(st.st_mode) + ")");
  // O_NONBLOCK: should the path have become a FIFO since the stat, open does not wait for a writer.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd_ < 0) fail(std::string("cannot open file: ") + std::strerror(errno));
  // (A throwing constructor runs no destructor: the descriptor is closed before failing.)
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    fail(std::string("cannot read file: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fail("not a regular file (" + file_type_name(st.st_mode) + ")");
  }
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
  size_ = st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

void RegularFile::fail(const std::string& problem) const {
  if (role_ == FileRole::kConfig) throw ConfigError(path_, problem);
  throw DecodeError(path_, problem);
}

size_t RegularFile::read(void* dst, size_t n) {
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - position_));
  auto* p = static_cast<char*>(dst);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd_, p + got, std::min<size_t>(n - got, size_t(1) << 30));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(std::string("read error: ") + std::strerror(errno));
    }
    if (r == 0) break;  // the file shrank since it was opened
    got += static_cast<size_t>(r);
  }
  position_ += got;
  return got;
}

void RegularFile::read_append(std::string& out, size_t n) {
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - position_));
  const size_t old = out.size();
  try {
    out.resize(old + n);
  } catch (const std::bad_alloc&) {
    fail("out of memory reading " + std::to_string(n) + " bytes");
  } catch (const std::length_error&) {
    fail("out of memory reading " + std::to_string(n) + " bytes");
  }
  out.resize(old + read(out.data() + old, n));
}

std::string read_regular_file(const std::string& path, uint64_t max_bytes, const std::string& what, FileRole role) {
  RegularFile f(path, role);
  if (f.size() > max_bytes)
    f.fail("file too large (" + std::to_string(f.size()) + " bytes, the limit for " + what + " is " +
           std::to_string(max_bytes) + ")");
  std::string out;
  f.read_append(out, static_cast<size_t>(std::min<uint64_t>(f.size(), SIZE_MAX)));
  return out;
}

}  // namespace pixelflow
