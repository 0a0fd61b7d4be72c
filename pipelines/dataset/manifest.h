// The manifest of a dataset run (DIR/manifest.jsonl, see pipelines/dataset_writer.h): one JSON
// line per input, in input order, in this key order and with Python json.dumps' separators:
//   {"input": PATH, "status": "ok", "shard": NAME, "index": I}
//   {"input": PATH, "status": "error", "error": MESSAGE}
//
// Strings in manifest lines: valid UTF-8 is written as is (JSON-escaped); each byte that is not
// part of valid UTF-8 (a file name in another encoding) is written as the escape \udcNN (NN its
// hex value), as Python's surrogateescape error handler decodes it, so that json.loads followed
// by os.fsencode gives the original bytes back. Reading turns them back into those bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pixelflow::pipelines {

struct ManifestEntry {
  std::string input;   // the input as listed by the source
  bool ok = true;
  std::string shard;   // ok: shard name (set by write_batch; read back by read_manifest)
  int64_t index = -1;  // ok: row of this input in the shard
  std::string error;   // !ok: one-line message naming the input
};

// The line of `e` (with '\n'), naming `shard` (e.shard is not used) when e.ok.
std::string manifest_line(const ManifestEntry& e, const std::string& shard);

// Parses one line (without its '\n'); false when it is not a well-formed entry.
bool parse_manifest_line(const std::string& line, ManifestEntry* e);

// The committed entries of DIR/manifest.jsonl (complete lines only), in input order; \udcNN
// escapes come back as the bytes 0xNN. Throws DecodeError naming the file for a line that is not
// a manifest entry.
std::vector<ManifestEntry> read_manifest(const std::string& out_dir);

}  // namespace pixelflow::pipelines
