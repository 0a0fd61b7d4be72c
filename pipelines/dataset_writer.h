// DatasetWriter: the output folder of a whole-dataset run (`pixelflow run`).
//
//   DIR/run.json                  the run's identity (config, inputs, batch size, format)
//   DIR/shard-000000/KEY.npy      one folder per batch, one .npy per BatchFeature key (npy), or
//   DIR/shard-000000.safetensors  one file per batch (safetensors), loadable by PyTorch users
//   DIR/manifest.jsonl            one line per input, in input order:
//     {"input": PATH, "status": "ok", "shard": NAME, "index": I}
//     {"input": PATH, "status": "error", "error": MESSAGE}
//
// Batch b holds inputs [b * batch_size, (b + 1) * batch_size). A batch is committed atomically:
// shard files are written under temporary names and renamed, then its manifest lines are
// appended and flushed. A run interrupted and restarted on the same folder resumes after the
// last committed batch (completed_batches()), so no shard is redone, lost or duplicated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graph/batch_feature.h"
#include "pipelines/pipeline_spec.h"

namespace pixelflow::pipelines {

struct ManifestEntry {
  std::string input;   // the input as listed by the source
  bool ok = true;
  std::string shard;   // ok: shard name as written in the manifest
  int64_t index = -1;  // ok: row of this input in the shard
  std::string error;   // !ok: one-line message naming the input
};

class DatasetWriter {
 public:
  // Opens (creating if missing) `out_dir`. `run_key` is a JSON text identifying the run's
  // settings; a folder holding another run's output is refused with a message saying what
  // differs.
  DatasetWriter(const std::string& out_dir, SinkSpec::Format format, const std::string& run_key);
  ~DatasetWriter();

  // Batches already committed by an earlier, interrupted run on this folder (0 when new); any
  // partial trailing batch (shard files without manifest lines) has been discarded.
  int64_t completed_batches() const;

  // Commits batch `b` (must be completed_batches() + number written since): its tensors (may be
  // empty when every input failed) and one entry per input of the batch, in input order.
  void write_batch(int64_t b, const BatchFeature& batch, const std::vector<ManifestEntry>& entries);

  // "shard-000042" (npy folder) or "shard-000042.safetensors".
  std::string shard_name(int64_t b) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes `batch` as a safetensors file (little-endian; F32/F64/I64/U8/... dtypes; keys sorted;
// "__metadata__" {"format": "pt"}). Throws naming `path` on I/O failure.
void write_safetensors(const std::string& path, const BatchFeature& batch);

}  // namespace pixelflow::pipelines
