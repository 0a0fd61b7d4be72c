// Low-level POSIX file I/O for files pixelflow writes and reads back in place (the folders of
// pipelines/dataset_writer.h; base/atomic_file.h's temporaries). No tensors here: bytes only.
// Every failure is a pixelflow::Error of one line naming the path and the system's reason:
//   PATH: cannot write: No space left on device
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/file_io.h"

namespace pixelflow::posix {

// Throws Error("PATH: WHAT: strerror(err)").
[[noreturn]] void io_fail(const std::string& path, const std::string& what, int err);

// A file descriptor, closed on destruction (errors ignored: see close_checked).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset();
  // close() reporting its error (NFS and some others report write-back failures here).
  void close_checked(const std::string& path);

 private:
  int fd_ = -1;
};

// The bytes of a file in pieces, written one after the other without being copied.
using Pieces = std::vector<std::string_view>;

// Writes all of data[0, size) (write() may do less than asked; EINTR is retried).
void write_all(int fd, const void* data, size_t size, const std::string& path);

// fsync; `sync` false makes it a no-op. A file that does not support syncing (EINVAL, EROFS: a
// pipe, a special file) has nothing to wait for and is not an error.
void fsync_fd(int fd, const std::string& path, bool sync = true);
// fsync of a folder (so that the names created, renamed or removed in it are durable).
void fsync_dir(const std::string& dir, bool sync = true);

// Removes `path` if it is a regular file we may have created (never a device such as /dev/full
// given as an output path).
void remove_partial(const std::string& path);

// Writes the pieces to `path` (created or truncated; a symlink there is refused, never followed),
// fsyncs (when `sync`) and closes it. On failure the partial file is removed.
void write_file(const std::string& path, const Pieces& pieces, bool sync);

// The size and SHA-256 (64 lowercase hex digits) of some bytes.
struct FileDigest {
  uint64_t size = 0;
  std::string sha256;
};
FileDigest digest_of(const Pieces& pieces);
// Whether `path` is a regular file (not a link) of `size` bytes whose SHA-256 is `sha256`; never
// waits on a FIFO put in its place, never reads past `size`. Unreadable counts as different.
bool file_matches(const std::string& path, uint64_t size, const std::string& sha256);

// Removes `path` and, for a folder, everything in it; nothing when it is missing.
void remove_path(const std::string& path);
// Removes a file (or an empty folder) if present.
void remove_file(const std::string& path);
// Takes a failed append back (ftruncate to `size`, then fsync when `sync`); false when even that
// fails.
bool truncate_back(int fd, off_t size, bool sync);

// The complete ('\n'-terminated) lines of a file, read through RegularFile: something at its
// name that is not a regular file (a FIFO, a device, a folder) is refused with one line naming it
// (DecodeError), never read from (or waited on), and no read goes past the size the file had when
// opened. A last line without '\n' (an append cut short) is not returned.
class LineReader {
 public:
  explicit LineReader(const std::string& path) : file_(path) {}
  // The next line, without its '\n'; false at the end.
  bool next(std::string& line);

 private:
  RegularFile file_;
  std::string buf_;
  size_t start_ = 0;
};

}  // namespace pixelflow::posix
