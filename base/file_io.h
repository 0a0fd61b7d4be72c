// Reading the files a user names (images, .npy arrays, configs, list files), safely: only
// regular files are read (after following symlinks), a FIFO or a device is never opened in a way
// that blocks or streams forever, and no read goes past the size the file had when it was
// opened. Every refusal is one line naming the file:
//   PATH: not a regular file (a directory | a FIFO | a character device | ...)
//   PATH: cannot open file: No such file or directory
//   PATH: file too large (N bytes, the limit for a config file is M)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pixelflow {

// Which error a refusal raises: DecodeError (an input: image, array, list) or ConfigError (a
// configuration file: JSON config, YAML pipeline, tuning file). Both read "PATH: problem".
enum class FileRole { kInput, kConfig };

// A regular file open for reading; the descriptor is closed on destruction.
class RegularFile {
 public:
  // Checks the type with stat (symlinks followed) BEFORE opening, so that a FIFO is never
  // opened, opens without blocking, then checks the opened descriptor again with fstat (the
  // path may have been replaced in between).
  explicit RegularFile(const std::string& path, FileRole role = FileRole::kInput);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  const std::string& path() const { return path_; }
  // The size fstat reported at open time: reads never go past it.
  uint64_t size() const { return size_; }
  // Bytes read so far (the position of the next read).
  uint64_t position() const { return position_; }
  // Reads up to `n` bytes (fewer only at size() or when the file shrank), retrying on EINTR.
  size_t read(void* dst, size_t n);
  // Reads up to `n` bytes and appends them to `out`.
  void read_append(std::string& out, size_t n);

  // Throws the role's error, "PATH: problem".
  [[noreturn]] void fail(const std::string& problem) const;

 private:
  std::string path_;
  FileRole role_;
  int fd_ = -1;
  uint64_t size_ = 0, position_ = 0;
};

// What a non-regular file is, for messages: "a directory", "a FIFO", "a character device", ...
std::string file_type_name(unsigned mode);

// The whole regular file at `path`; refused (see above) when it is larger than `max_bytes`,
// with `what` naming the kind of file in the message ("a config file").
std::string read_regular_file(const std::string& path, uint64_t max_bytes = UINT64_MAX,
                              const std::string& what = "this file", FileRole role = FileRole::kInput);

// The limit for configuration files (JSON configs, YAML pipelines, tuning files): 64 MiB, far
// above any real one. (Inputs and list files are bounded by their size alone.)
inline constexpr uint64_t kMaxConfigFileBytes = uint64_t(64) << 20;

}  // namespace pixelflow
