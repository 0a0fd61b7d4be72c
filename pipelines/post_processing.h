// Post-processing of model outputs, as the processors' post_process_* methods, run as graph
// nodes (one sample per batch item).
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "graph/pipeline.h"
#include "pipelines/processor_config.h"

namespace pixelflow::pipelines {

// Processor classes that have post_process_semantic_segmentation.
bool has_semantic_segmentation(const std::string& processor_class);

// processor.post_process_semantic_segmentation(outputs, target_sizes): logits (N, num_labels,
// h, w) float32; target_sizes empty (None) or one (H, W) per item. Returns one int64 map per
// item. Throws ConfigError when the class has no such method, InputError on bad logits/sizes.
std::vector<Tensor> post_process_semantic_segmentation(
    const ProcessorConfig& cfg, const Tensor& logits,
    const std::vector<std::pair<int64_t, int64_t>>& target_sizes, const RunOptions& run = {});

}  // namespace pixelflow::pipelines
