// Replacing user-visible output files safely: each file is written in full to a fresh temporary
// name in its folder, then rename()d over the final name. A reader (or a process killed part way)
// therefore sees either the old complete file or the new complete one, never a torn one; an
// existing symlink at the final name is replaced itself, its target is never written; and a
// failure leaves the old file in place and no temporary behind.
//
// Several files (all outputs of one call) are staged first and renamed together at commit(), so
// that a failure while writing any of them changes none. The renames themselves are one per
// file: a crash between two of them can still leave some files new and others old (POSIX has
// no atomic multi-file rename).
//
// Temporaries are named ".<name>.<pid>.<random>.tmp" and created with
// O_CREAT | O_EXCL | O_NOFOLLOW, mode 0644 minus the umask. Only a process killed outright
// (SIGKILL, power loss) can leave one behind; it is safe to delete.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pixelflow {

class StagedFiles {
 public:
  // sync: fsync each temporary before its rename and each folder after the renames, so that the
  // new files survive a crash of the machine too (a process being killed needs no sync).
  explicit StagedFiles(bool sync = true) : sync_(sync) {}
  ~StagedFiles();  // removes the temporaries not committed
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;

  // Writes the concatenation of `pieces` (no copy is made of them) to a temporary next to
  // `path`. The folder must exist. Throws Error naming `path` (and the system's reason).
  void stage(const std::string& path, const std::vector<std::string_view>& pieces);
  // Renames every staged temporary over its final name, in staging order. A folder at any final
  // name is refused before the first rename. Throws Error naming the file whose rename failed;
  // the temporaries not yet renamed are removed (by the destructor).
  void commit();
  // The final names staged, in order (committed or not).
  std::vector<std::string> paths() const;

 private:
  struct Entry {
    std::string path, tmp;
  };
  std::vector<Entry> staged_;
  size_t committed_ = 0;  // staged_[0, committed_) are renamed
  bool sync_;
};

// `path` replaced by the concatenation of `pieces` (one StagedFiles of one file).
void atomic_write_file(const std::string& path, const std::vector<std::string_view>& pieces, bool sync = true);
inline void atomic_write_file(const std::string& path, std::string_view text, bool sync = true) {
  atomic_write_file(path, std::vector<std::string_view>{text}, sync);
}

}  // namespace pixelflow
