// Throughput measurement of a prepared call on a set of images: the engine behind
// `pixelflow bench` and `pixelflow tune`.
#pragma once

#include <string>
#include <vector>

#include "pipelines/image_processor.h"

namespace pixelflow::pipelines {

enum class BenchSource { kDecoded, kEncoded };

// Inputs held in memory: the encoded files and, for kDecoded, the arrays the processor would
// work on after decoding (its convert_rgb applied), so that timing starts at the pixels.
struct BenchInputs {
  std::vector<std::string> names;
  std::vector<std::string> encoded;
  std::vector<Tensor> decoded;
};

// Every image file in `dir` (sorted by name; .npy and non-image files are skipped). Throws
// Error when there is none.
BenchInputs load_bench_inputs(const std::string& dir, BenchSource source, const Plan& plan);

struct ThroughputOptions {
  BenchSource source = BenchSource::kDecoded;
  int batch_size = 32;
  double seconds = 3.0;     // timed part
  int warmup_batches = 2;
};

struct ThroughputResult {
  double images_per_s = 0;
  double cpu_seconds_per_image = 0;  // process CPU time per image (all threads)
  int64_t images = 0;
  int64_t batches = 0;
  double seconds = 0;
  // Peak resident memory of the process (MB) after the warm-up and at the end: equal when the
  // steady state allocates nothing new (buffers come from the pool).
  double peak_rss_mb_after_warmup = 0;
  double peak_rss_mb = 0;
};

// Runs batches (cycling through the inputs) until `seconds` have passed after the warm-up.
// Each batch's outputs are released before the next one, so pooled buffers are reused.
ThroughputResult measure_throughput(const PreparedCall& call, const BenchInputs& inputs,
                                    const ThroughputOptions& opts);

}  // namespace pixelflow::pipelines
