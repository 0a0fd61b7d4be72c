// Post-processing of model outputs, as the processors' post_process_* methods, run as graph
// nodes (one sample per batch item).
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graph/pipeline.h"
#include "pipelines/data_loader.h"
#include "pipelines/pipeline_spec.h"
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

// ---- object detection (the DETR family) ------------------------------------------------------

// Processor classes that have post_process_object_detection, sorted: ConditionalDetrImageProcessor,
// DeformableDetrImageProcessor, DetrImageProcessor, RTDetrImageProcessor, YolosImageProcessor.
// They need not be declared processors (pixelflow may not preprocess for them).
const std::vector<std::string>& object_detection_classes();
// Whether `processor_class` (normalized: "...Fast", "...Pil" accepted) is one of them.
bool has_object_detection(const std::string& processor_class);

// The arguments of post_process_object_detection(outputs, threshold, target_sizes, ...) other
// than the outputs.
struct DetectionOptions {
  double threshold = 0.5;
  // (height, width) per batch item; nullopt: None (boxes stay relative, in [0, 1]).
  std::optional<std::vector<std::pair<double, double>>> target_sizes;
  // The dtype of the target_sizes tensor torch scales by (ops::ItemBoxScale): unset, what the
  // class builds from a list: float32 (torch.Tensor(list)); RTDetrImageProcessor's
  // torch.as_tensor(list) gives int64 for whole numbers, float32 otherwise. kFloat64 (a float64
  // tensor) makes the boxes float64, as torch's type promotion does.
  std::optional<DType> target_sizes_dtype;
  // ConditionalDetrImageProcessor, DeformableDetrImageProcessor only (default 100).
  std::optional<int64_t> top_k;
  // RTDetrImageProcessor only (default true).
  std::optional<bool> use_focal_loss;
};

// One image's detections, in transformers' order: scores (k,) in the logits' dtype (float32),
// labels int64 (k,), boxes (k, 4) (x0, y0, x1, y1) in the boxes' dtype promoted with the target
// sizes' (float32).
struct DetectionResult {
  Tensor scores, labels, boxes;
};

// processor.post_process_object_detection(outputs, threshold, target_sizes[, top_k |
// use_focal_loss]) of `processor_class`: logits (N, Q, C) and pred_boxes (N, Q, 4) (cx, cy, w,
// h), float32 or float64. Runs one graph node per image (op post_process_object_detection).
// Throws ConfigError (key image_processor_type) when the class has no such method, ConfigError
// (top_k / use_focal_loss) for an argument the class's method does not take, InputError on bad
// shapes, dtypes or target sizes (the message of transformers' ValueError for a count mismatch).
std::vector<DetectionResult> post_process_object_detection(const std::string& processor_class, const Tensor& logits,
                                                           const Tensor& pred_boxes,
                                                           const DetectionOptions& opts = {},
                                                           const RunOptions& run = {});

// One image's logits from a .npy file, for post-processing runs: the file holds float32 or
// float64 (num_labels, height, width), or (1, num_labels, height, width) (a batch of one, as a
// model returns it), which comes back as (num_labels, height, width). A file that cannot be read,
// another rank, a batch of several images or another dtype is a DecodeError/InputError whose
// one-line message starts with `path`.
Tensor load_logits_npy(const std::string& path, BufferPool* pool = nullptr);

// The output key of a post-processing chain: its last op's name without "post_process_"
// ("semantic_segmentation").
std::string post_process_output_key(const std::vector<OpSpec>& ops);

struct PostProcessLoaderOptions {
  int64_t batch_size = 32;
  int threads = 0;          // workers per batch (0: all cores)
  int max_in_flight = 0;    // items in flight (0: 2 x threads + 2)
  OnError on_error = OnError::kFail;
  int64_t start_batch = 0;  // first batch computed (resume); earlier ones are not
};

// Batches of a post-processing chain (PipelineSpec::post_process) over files of model outputs,
// as DataLoader gives batches of a preprocessing call (same Batch, same error policy), for
// `pixelflow run` with a post_process pipeline. Each input is one .npy file read by
// load_logits_npy; the items of batch b (inputs [b * batch_size, ...)) run through the ops as a
// flow graph, and the results go under post_process_output_key(ops): one stacked (B, H, W)
// tensor when every result of the batch has the same shape, else a list (one tensor per row).
// Batch b + 1 is computed while the caller holds batch b.
// on_error=fail: next() delivers the batches before the first failing input, then throws its
// Error ("PATH: reason"); skip: failed inputs are left out and listed in Batch::failed.
class PostProcessLoader {
 public:
  PostProcessLoader(const std::vector<OpSpec>& ops, std::vector<std::string> files,
                    PostProcessLoaderOptions opts = {});
  ~PostProcessLoader();
  PostProcessLoader(const PostProcessLoader&) = delete;
  PostProcessLoader& operator=(const PostProcessLoader&) = delete;

  std::optional<Batch> next();
  const std::string& output_key() const { return key_; }
  int64_t num_batches() const { return batches_; }

 private:
  Batch compute(int64_t b) const;
  void launch();

  Pipeline pipeline_;
  std::vector<std::string> files_;
  PostProcessLoaderOptions opts_;
  std::string key_;
  int64_t batches_ = 0, next_ = 0;
  bool failed_ = false;
  std::shared_ptr<BufferPool> pool_;
  std::future<Batch> pending_;
};

}  // namespace pixelflow::pipelines
