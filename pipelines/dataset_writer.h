// DatasetWriter: the output folder of a whole-dataset run (`pixelflow run`).
//
//   DIR/run.json                    the run key (below), pretty-printed JSON
//   DIR/manifest.jsonl              one line per input, in input order, in this key order and
//                                   with Python json.dumps' separators (JSON Lines):
//     {"input": PATH, "status": "ok", "shard": NAME, "index": I}
//     {"input": PATH, "status": "error", "error": MESSAGE}
//   DIR/shards.jsonl                one compact JSON record per shard written, in batch order:
//     {"batch": B, "shard": NAME, "size": BYTES, "sha256": HEX}                (safetensors)
//     {"batch": B, "shard": NAME, "files": {"KEY.npy": {"size": BYTES, "sha256": HEX}, ...}} (npy)
//   npy:          DIR/shard-000000/KEY.npy       one folder per batch, one .npy per key
//   safetensors:  DIR/shard-000000.safetensors   one file per batch (loadable with
//                                                safetensors.torch.load_file / numpy.load_file)
//   DIR/.pixelflow-<ID>.NAME.tmp    the run's temporaries (ID: the first 16 hex digits of the
//                                   SHA-256 of run.json's bytes), gone when nothing failed
//
// Strings in manifest lines: non-UTF-8 bytes are written as \udcNN escapes (as Python's
// surrogateescape decodes them); see pipelines/dataset/manifest.h, which reads and writes the
// lines. The names of the run's files and its run key: pipelines/dataset/run_folder.h.
//
// Names. A BatchFeature key holding a stacked tensor is written under KEY (KEY.npy or tensor
// KEY); a key holding a list of per-image tensors (return_tensors=None) is written as KEY.0,
// KEY.1, ... (KEY.0.npy, ... or tensors KEY.0, ...). Two keys that would give one name are
// refused. npy keys must be valid file names. safetensors files: graph/safetensors.h.
//
// Batches. Batch b holds inputs [b * batch_size, min((b + 1) * batch_size, total)). Its manifest
// lines are those inputs in input order; "index" is the input's row in the shard (row order is
// the caller's: completion order when unordered). A batch where every input failed has no shard
// (and no record), only its "error" lines.
//
// The run key is a JSON object that must hold "total" (number of inputs, >= 0) and "batch_size"
// (>= 1), integers; every other member ("config", "inputs_sha256", ...) only identifies the run.
// The writer adds "format" ("npy" or "safetensors"). An optional "dtype", "float16" or "bfloat16"
// (absent: float32), is the type every float32 tensor of a batch is written as (converted by
// write_batch unless the caller converted it: pipelines/dataset/float_dtype.h); npy cannot hold
// bfloat16 (std::invalid_argument). make_run_key() builds the usual one.
//
// Which files are the run's. The writer only ever deletes or replaces files of a pixelflow run:
//   - A new run needs an empty (or missing) folder: a folder with files but no run.json is
//     refused with a one-line pixelflow::InputError naming DIR and one of its files, unless
//     DatasetWriterOptions::overwrite; then the run is written next to those files, which are
//     kept, and a file in the way of one of its names (run.json, manifest.jsonl, shards.jsonl,
//     one of its shard names) is refused instead, naming it.
//   - A folder whose run.json differs from the key (compared as JSON values, member order
//     ignored) holds another run's output and is refused (InputError naming DIR and the members
//     that differ), unless overwrite: then that run's files are deleted first, even for the same
//     run: manifest.jsonl, the shards its manifest and shards.jsonl name and its own shard names
//     (shard-NNNNNN for its batches), its temporaries, shards.jsonl and run.json. Other files in
//     DIR are left alone.
//   - Resuming deletes only this run's temporaries and its shards of uncommitted batches.
//
// Crash safety (invariant): batch b is committed iff manifest.jsonl holds all of its lines;
// and a batch's lines are appended only once its shard is durable under its final name and its
// record (size and SHA-256 of each file) is durable in shards.jsonl.
//   1. run.json is written to its temporary, fsync'd and renamed before anything else, so a
//      folder with shards or a manifest always has its run key.
//   2. write_batch writes the shard to its temporary (a folder for npy, a file for
//      safetensors) and fsyncs every file and the folder; appends its record to shards.jsonl and
//      fsyncs it; renames the shard to its final name and fsyncs DIR; then appends the batch's
//      lines to manifest.jsonl with one write() and fsyncs it. A failed append is truncated
//      back, so the manifest and shards.jsonl only ever grow by whole batches while this process
//      lives.
//   3. Opening an existing folder (after a crash anywhere in 1-2, or files damaged since) keeps
//      the longest prefix of whole batches whose lines are complete ('\n'-terminated), valid
//      JSON, and whose "ok" lines name the batch's shard, which must match its record (the same
//      files, each of the recorded size and SHA-256: every committed shard is read back);
//      truncates manifest.jsonl after it (a crash mid-append leaves a partial line or a partial
//      batch), deletes this run's temporaries and every shard of a later batch, then truncates
//      shards.jsonl to the records of the kept batches. So a resumed run redoes exactly the
//      uncommitted batches and those from the first damaged (truncated, missing, rewritten)
//      shard on, and its final folder is byte-for-byte that of an uninterrupted run. (A folder
//      of a version without shards.jsonl is redone from its first shard.)
// One writer at a time: it holds an exclusive flock on DIR (a second one is refused).
//
// I/O failures (folder not creatable, disk full, ...) throw pixelflow::Error, one line naming
// the path and the system's reason; a failed write_batch leaves the folder as it was (its
// temporary files, its shard, its record and any part of its lines are removed) and may be
// retried. Only if the manifest or shards.jsonl cannot even be truncated back does the writer
// refuse further batches; opening the folder again repairs it (invariant 3).
//
// Changes from the first draft of this interface: the run key must hold "total" and
// "batch_size" (make_run_key builds it); DatasetWriterOptions (overwrite, sync); num_batches(),
// batch_inputs(), read_manifest(); ManifestEntry::shard is filled in by write_batch (the
// caller's value is ignored); write_safetensors takes the metadata; safetensors_bytes() and
// read_safetensors(); shards.jsonl, checked on resume; only the run's own files are deleted
// (temporaries .pixelflow-<ID>.NAME.tmp; a non-empty folder without run.json is refused unless
// overwrite); non-UTF-8 bytes in manifest strings are escaped as \udcNN.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/batch_feature.h"
#include "graph/safetensors.h"
#include "pipelines/dataset/manifest.h"    // ManifestEntry, read_manifest
#include "pipelines/dataset/run_folder.h"  // format_name, make_run_key
#include "pipelines/pipeline_spec.h"

namespace pixelflow::pipelines {

// The safetensors reader and writer, declared here before they moved to graph/safetensors.h.
using pixelflow::read_safetensors;
using pixelflow::safetensors_bytes;
using pixelflow::write_safetensors;

struct DatasetWriterOptions {
  // Delete the files of whatever run the folder holds (same or other; only that run's files) and
  // start afresh; in a folder without run.json, write next to the files there.
  bool overwrite = false;
  // fsync files and folders at each step of the invariant. false: the folder still survives a
  // crash of the process (kill, OOM, an exception), but not of the machine (power loss).
  bool sync = true;
  // Keys whose rows are not one per input (Qwen2-VL's pixel_values: every image's patch rows one
  // after the other, located by image_grid_thw): not checked against the batch's inputs.
  std::vector<std::string> concatenated_keys;
};

// Not thread-safe: one thread (the run's serial sink) calls write_batch.
class DatasetWriter {
 public:
  // Opens (creating if missing) `out_dir`: a new folder gets run.json; a folder of the same run
  // is resumed (see the invariant above); another run's folder is refused unless overwrite.
  // Throws std::invalid_argument for a run key without valid "total"/"batch_size", whose
  // "format" disagrees with `format`, or whose "dtype" is not float16/bfloat16 or not one that
  // `format` holds.
  DatasetWriter(const std::string& out_dir, SinkSpec::Format format, const std::string& run_key,
                const DatasetWriterOptions& options = {});
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // Batches committed so far (on opening: by an earlier, interrupted run on this folder; 0 when
  // new); uncommitted leftovers have been discarded.
  int64_t completed_batches() const;
  // ceil(total / batch_size): the run is complete when completed_batches() == num_batches().
  int64_t num_batches() const;
  int64_t batch_size() const;
  int64_t total() const;
  // Inputs of batch b: min(batch_size, total - b * batch_size).
  int64_t batch_inputs(int64_t b) const;

  // Commits batch `b`, which must be completed_batches(): its tensors (empty, or every key with
  // 0 rows, when every input failed) and one entry per input of the batch, in input order. The
  // "ok" entries' indices must be 0..rows-1 in some order, rows being every key's row count.
  // Misuse (wrong b, entry count, indices) throws std::logic_error.
  void write_batch(int64_t b, const BatchFeature& batch, const std::vector<ManifestEntry>& entries);

  // "shard-000042" (npy folder) or "shard-000042.safetensors".
  std::string shard_name(int64_t b) const;
  const std::string& out_dir() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixelflow::pipelines
