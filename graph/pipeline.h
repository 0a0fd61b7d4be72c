// Pipeline: a physical chain of ops run as a oneTBB flow graph.
//
//   input_node (sample ids) -> limiter_node (bound on samples in flight)
//     -> load -> op_1 -> ... -> op_k          (function_nodes, unlimited concurrency)
//     -> sequencer_node (restores input order) -> sink (serial: packs the BatchFeature)
//     -> limiter's decrementer
//
// Fused load (RunOptions::fuse_load, on by default): the load node offers the first op to the
// loader (Loader::load_through), which may apply it while producing the sample, e.g. by
// streaming decoded rows into it (Op::row_consumer), so that the decoded image is never
// materialized; op_1's node then passes that sample on. Same bytes.
//
// A node that fails on a sample records the error in the sample and passes it on; the sink
// reports the first failing input in input order, so the outcome does not depend on thread
// timing. Halide's parallel loops run on the same TBB arena.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "graph/batch_feature.h"
#include "graph/op.h"

namespace pixelflow {

// Produces sample `s.index` of a batch (decodes a file, reads an array, ...): fills s.source,
// s.image (channels-last) and, when the pipeline has a label chain, s.labels.
class Loader {
 public:
  virtual ~Loader() = default;
  virtual int64_t size() const = 0;
  virtual void load(Sample& s, const ExecContext& ctx) const = 0;
  // Loads sample s and, where the loader can do both in one pass, applies `first` (the
  // pipeline's first image op; `last`: it is also the final one) to it as first.run() would,
  // and returns true. Otherwise (the default) s is loaded as by load(), `first` has not run,
  // and it returns false.
  virtual bool load_through(Sample& s, [[maybe_unused]] const Op& first, const ExecContext& ctx,
                            [[maybe_unused]] bool last) const {
    load(s, ctx);
    return false;
  }
};

// The most worker threads a caller may ask for (RunOptions::threads, --threads, YAML `threads`):
// 256, the number oneTBB guarantees it can create on any machine. The front ends refuse more.
// Pipeline::run never asks oneTBB for more threads than the machine has (oneTBB would ignore the
// request and print a warning): a larger `threads` only raises the in-flight bound.
inline constexpr int kMaxThreads = 256;

// Runs body(begin, end) over chunks of [0, n), each of at least `grain` items (but the last),
// in parallel on the oneTBB arena that Pipeline::run uses for `threads` (0: all cores), so that
// work between calls (e.g. converting a batch's outputs) keeps to the same threads.
void parallel_chunks(int threads, int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

struct RunOptions {
  int threads = 0;        // 0: all cores; at most kMaxThreads (see there)
  int max_in_flight = 0;  // 0: 2 x threads + 2
  bool fuse_load = true;  // let the loader apply the first image op while loading (load_through)
  // on_error=skip: an input that fails (corrupt file, absurd size, ...) is left out of the batch
  // and reported in RunReport::failed instead of failing the run; the others keep their order.
  bool skip_failed = false;
  // false: samples go to the sink as they complete, without the sequencer, so a slow image does
  // not hold back the release of later ones (the in-flight bound); a batch's rows then come in
  // completion order and RunReport::kept says which input each row holds. Same bytes per input.
  bool ordered = true;
};

// An input left out of a batch (RunOptions::skip_failed).
struct InputFailure {
  int64_t index = 0;    // position in the call's inputs
  std::string source;   // file name or "input 3"
  std::string message;  // one line, naming the input
};

struct RunReport {
  std::vector<InputFailure> failed;  // in input order
  std::vector<int64_t> kept;         // input index of each row of the batch, in order
};

struct OutputOptions {
  bool stacked = true;  // one (N, ...) tensor per key (return_tensors="np"), else a list per image
  std::string image_key = "pixel_values";
  std::string labels_key = "labels";
};

class Pipeline {
 public:
  Pipeline(std::vector<OpPtr> image_ops, std::vector<OpPtr> label_ops = {});

  const std::vector<OpPtr>& image_ops() const { return image_ops_; }
  // The most values one array of a sample may hold (ExecContext::max_values; 0, the default:
  // no limit). build_pipeline sets 4 x the plan's pixel limit (at least its default).
  void set_max_sample_values(int64_t n) { max_values_ = n; }
  int64_t max_sample_values() const { return max_values_; }
  const std::vector<OpPtr>& label_ops() const { return label_ops_; }
  // The pool the pipeline's outputs come from (for batch outputs assembled after run()).
  BufferPool* pool() const { return pool_.get(); }
  // "load -> resize+center_crop -> rescale+normalize+to_channel_dimension_format"
  std::string describe() const;

  // Runs every sample of `loader` through the graph. Throws the first failing input's error
  // (in input order) with the input named in the message, unless run.skip_failed: then failed
  // inputs are left out of the batch and listed in `report` (required then). Outputs that
  // cannot be stacked with the batch's still fail the whole call (a pipeline problem, not an
  // input's).
  BatchFeature run(const Loader& loader, const RunOptions& run = {}, const OutputOptions& out = {},
                   RunReport* report = nullptr) const;

  // Runs one sample on the calling thread, without the flow graph (reference path for tests
  // and for debugging).
  void run_sample(Sample& s, const Loader& loader) const;

 private:
  std::vector<OpPtr> image_ops_;
  std::vector<OpPtr> label_ops_;
  std::shared_ptr<BufferPool> pool_;
  int64_t max_values_ = 0;
};

// The message of an exception, prefixed with the input it concerns unless it names it already.
std::string describe_error(const std::exception_ptr& e, const std::string& source);

}  // namespace pixelflow
