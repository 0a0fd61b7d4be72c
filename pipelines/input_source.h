// Input sources of a whole-dataset run: the list of inputs a SourceSpec names.
//
//   folder  the files in a directory (optionally its sub-directories too) whose extension is
//           one pixelflow reads (.jpg .jpeg .png .webp .bmp .npy, any case), sorted by path;
//           hidden files and folders (name starting with '.') are skipped, and so are other
//           files (a README or manifest next to the images)
//   glob    a pattern: '*', '?' and '[...]' match within one path component (not a leading
//           '.'), a component "**" matches any number of folders (zero included); the regular
//           files it matches, sorted by path
//   list    a text file with one path per line, in order; relative paths are relative to the
//           list file's folder; blank lines and lines starting with '#' are ignored
//
// Paths come back as the source spells them (a relative folder or pattern gives relative
// paths). A missing folder or list file, or a source with no input, is an Error whose one-line
// message names it.
#pragma once

#include <string>
#include <vector>

#include "pipelines/pipeline_spec.h"

namespace pixelflow::pipelines {

// `exclude_dir` (the run's output folder): a folder or glob source lists nothing in it or under
// it when it lies inside the source's folder, so that a run does not take its own shards (or an
// earlier run's) as inputs; a folder source that is `exclude_dir` itself is an Error. Any
// spelling of the folder matches (compared by device and inode); no effect when it does not
// exist (yet), nor on list files (their paths are explicit).
std::vector<std::string> list_inputs(const SourceSpec& source, const std::string& exclude_dir = {});

// The source a command-line argument names: a folder (non-recursive), a glob pattern when it
// holds '*', '?' or '[' and is not an existing file, else a list file.
SourceSpec source_from_argument(const std::string& arg, bool recursive = false);

// True when `pattern` holds a glob wildcard ('*', '?' or '[').
bool is_glob_pattern(const std::string& pattern);

// Whether the file name's extension is one the folder source lists.
bool has_input_extension(const std::string& path);

}  // namespace pixelflow::pipelines
