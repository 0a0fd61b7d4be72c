#include "pipelines/post_processing.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/post_process_object_detection/post_process_object_detection.h"
#include "ops/post_process_semantic_segmentation/post_process_semantic_segmentation.h"
#include "registry/builder.h"
#include "base/errors.h"
#include "base/text.h"
#include "graph/npy.h"
#include "pipelines/processors/processor.h"

namespace pixelflow::pipelines {

namespace {

// Yields item i of the logits batch with its target size.
class LogitsLoader final : public Loader {
 public:
  LogitsLoader(const Tensor& logits, const std::vector<std::pair<int64_t, int64_t>>& sizes)
      : logits_(logits), sizes_(sizes) {}
  int64_t size() const override { return logits_.dim(0); }
  void load(Sample& s, const ExecContext&) const override {
    s.source = "logits[" + std::to_string(s.index) + "]";
    s.image = logits_[s.index];
    if (!sizes_.empty()) s.attributes.set(ops::ItemTargetSize{sizes_[static_cast<size_t>(s.index)]});
  }

 private:
  const Tensor& logits_;
  const std::vector<std::pair<int64_t, int64_t>>& sizes_;
};

// Yields item i of a detection batch: its logits (Q, C), boxes and box scale.
class DetectionLoader final : public Loader {
 public:
  DetectionLoader(const Tensor& logits, const Tensor& boxes, const std::vector<ops::ItemBoxScale>& scales)
      : logits_(logits), boxes_(boxes), scales_(scales) {}
  int64_t size() const override { return logits_.dim(0); }
  void load(Sample& s, const ExecContext&) const override {
    s.source = "logits[" + std::to_string(s.index) + "]";
    s.image = logits_[s.index];
    s.attributes.set(ops::ItemPredBoxes{boxes_[s.index]});
    if (!scales_.empty()) s.attributes.set(scales_[static_cast<size_t>(s.index)]);
  }

 private:
  const Tensor& logits_;
  const Tensor& boxes_;
  const std::vector<ops::ItemBoxScale>& scales_;
};

// Yields the logits file files[offset + i] as item i.
class LogitsFileLoader final : public Loader {
 public:
  LogitsFileLoader(const std::vector<std::string>& files, size_t offset, size_t count, BufferPool* pool)
      : files_(files), offset_(offset), count_(count), pool_(pool) {}
  int64_t size() const override { return static_cast<int64_t>(count_); }
  void load(Sample& s, const ExecContext&) const override {
    s.source = files_[offset_ + static_cast<size_t>(s.index)];
    s.image = load_logits_npy(s.source, pool_);
  }

 private:
  const std::vector<std::string>& files_;
  size_t offset_, count_;
  BufferPool* pool_;
};

// The classes with post_process_semantic_segmentation, sorted by name.
std::vector<std::string> semantic_segmentation_classes() {
  std::vector<std::string> names;
  for (const auto& d : processors::all_processors())
    if (d.semantic_segmentation) names.push_back(d.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Tensor load_logits_npy(const std::string& path, BufferPool* pool) {
  Tensor t = load_npy(path, pool);
  if (t.ndim() == 4 && t.dim(0) == 1) t = t[0];
  if (t.ndim() == 4)
    throw InputError(path + ": holds logits for " + std::to_string(t.dim(0)) +
                     " images, shape " + shape_str(t.shape()) +
                     "; each input file must hold one image's logits, (num_labels, height, width) or "
                     "(1, num_labels, height, width)");
  if (t.ndim() != 3)
    throw InputError(path + ": logits must be (num_labels, height, width) or (1, num_labels, height, width), got shape " +
                     shape_str(t.shape()));
  if (t.dtype() != DType::kFloat32 && t.dtype() != DType::kFloat64)
    throw InputError(path + ": logits must be float32 (or float64), got " + dtype_name(t.dtype()));
  if (t.numel() == 0)
    throw InputError(path + ": empty logits, shape " + shape_str(t.shape()));
  return t;
}

std::string post_process_output_key(const std::vector<OpSpec>& ops) {
  if (ops.empty()) throw std::invalid_argument("post_process_output_key: no ops");
  const std::string prefix = "post_process_";
  const std::string& name = ops.back().name;
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

PostProcessLoader::PostProcessLoader(const std::vector<OpSpec>& ops, std::vector<std::string> files,
                                     PostProcessLoaderOptions opts)
    : pipeline_(build_ops(ops)),
      files_(std::move(files)),
      opts_(opts),
      key_(post_process_output_key(ops)),
      pool_(std::make_shared<BufferPool>()) {
  if (opts_.batch_size <= 0) throw std::invalid_argument("PostProcessLoader: batch_size must be positive");
  const auto n = static_cast<int64_t>(files_.size());
  batches_ = (n + opts_.batch_size - 1) / opts_.batch_size;
  next_ = std::clamp<int64_t>(opts_.start_batch, 0, batches_);
  launch();
}

PostProcessLoader::~PostProcessLoader() {
  if (pending_.valid()) pending_.wait();
}

void PostProcessLoader::launch() {
  if (failed_ || next_ >= batches_) return;
  const int64_t b = next_++;
  pending_ = std::async(std::launch::async, [this, b] { return compute(b); });
}

std::optional<Batch> PostProcessLoader::next() {
  if (!pending_.valid()) return std::nullopt;
  Batch batch;
  try {
    batch = pending_.get();
  } catch (...) {
    failed_ = true;
    throw;
  }
  launch();
  return batch;
}

Batch PostProcessLoader::compute(int64_t b) const {
  const auto begin = static_cast<size_t>(b * opts_.batch_size);
  const size_t count = std::min(files_.size() - begin, static_cast<size_t>(opts_.batch_size));
  Batch batch;
  batch.index = b;
  for (size_t i = 0; i < count; ++i) {
    batch.inputs.push_back(files_[begin + i]);
    batch.positions.push_back(static_cast<int64_t>(begin + i));
  }
  LogitsFileLoader loader(files_, begin, count, pool_.get());
  RunOptions run;
  run.threads = opts_.threads;
  run.max_in_flight = opts_.max_in_flight;
  run.skip_failed = opts_.on_error == OnError::kSkip;
  OutputOptions out;
  out.stacked = false;
  out.image_key = key_;
  RunReport report;
  BatchFeature results = pipeline_.run(loader, run, out, &report);
  batch.kept = report.kept;
  batch.failed = report.failed;
  if (batch.kept.empty()) return batch;  // every input failed: no tensors
  std::vector<Tensor> rows = results.list(key_);
  bool same = true;
  for (const Tensor& t : rows) same = same && t.shape() == rows.front().shape() && t.dtype() == rows.front().dtype();
  if (!same) {
    batch.features.set(key_, std::move(rows));
    return batch;
  }
  Shape shape = rows.front().shape();
  shape.insert(shape.begin(), static_cast<int64_t>(rows.size()));
  Tensor stacked = Tensor::empty(rows.front().dtype(), shape, pool_.get());
  char* dst = static_cast<char*>(stacked.raw_data());
  for (const Tensor& t : rows) {
    std::memcpy(dst, t.raw_data(), t.nbytes());
    dst += t.nbytes();
  }
  batch.features.set(key_, std::move(stacked));
  return batch;
}

bool has_semantic_segmentation(const std::string& cls) {
  const processors::ProcessorDecl* d = processors::find_processor(cls);
  return d && d->semantic_segmentation;
}

std::vector<Tensor> post_process_semantic_segmentation(
    const ProcessorConfig& cfg, const Tensor& logits,
    const std::vector<std::pair<int64_t, int64_t>>& target_sizes, const RunOptions& run) {
  if (!has_semantic_segmentation(cfg.class_name))
    throw ConfigError("image_processor_type", cfg.class_name +
                                                  " has no post_process_semantic_segmentation (classes that do: " +
                                                  join(semantic_segmentation_classes()) + ")");
  if (logits.ndim() != 4)
    throw InputError("logits must be (batch, num_labels, height, width), got shape " + shape_str(logits.shape()));
  if (!target_sizes.empty() && static_cast<int64_t>(target_sizes.size()) != logits.dim(0))
    throw InputError("Make sure that you pass in as many target sizes as the batch dimension of the logits (got " +
                     std::to_string(target_sizes.size()) + " target sizes for a batch of " +
                     std::to_string(logits.dim(0)) + ")");
  if (logits.dim(0) == 0) return {};
  Pipeline pipeline(build_ops({{"post_process_semantic_segmentation", nlohmann::json::object()}}));
  LogitsLoader loader(logits, target_sizes);
  OutputOptions out;
  out.stacked = false;
  out.image_key = "semantic_segmentation";
  return pipeline.run(loader, run, out).list("semantic_segmentation");
}

const std::vector<std::string>& object_detection_classes() {
  static const std::vector<std::string> names = {"ConditionalDetrImageProcessor", "DeformableDetrImageProcessor",
                                                 "DetrImageProcessor", "RTDetrImageProcessor", "YolosImageProcessor"};
  return names;
}

bool has_object_detection(const std::string& processor_class) {
  const std::string n = normalize_processor_class_name(processor_class);
  const auto& names = object_detection_classes();
  return std::find(names.begin(), names.end(), n) != names.end();
}

std::vector<DetectionResult> post_process_object_detection(const std::string& processor_class, const Tensor& logits,
                                                           const Tensor& pred_boxes, const DetectionOptions& opts,
                                                           const RunOptions& run) {
  const std::string cls = normalize_processor_class_name(processor_class);
  if (!has_object_detection(cls))
    throw ConfigError("image_processor_type", processor_class + " has no post_process_object_detection (classes that do: " +
                                                  join(object_detection_classes()) + ")");
  const bool takes_top_k = cls == "ConditionalDetrImageProcessor" || cls == "DeformableDetrImageProcessor";
  const bool rt_detr = cls == "RTDetrImageProcessor";
  if (opts.top_k && !takes_top_k)
    throw ConfigError("top_k", cls + ".post_process_object_detection takes no top_k (ConditionalDetrImageProcessor and "
                                     "DeformableDetrImageProcessor do)");
  if (opts.use_focal_loss && !rt_detr)
    throw ConfigError("use_focal_loss", cls + ".post_process_object_detection takes no use_focal_loss "
                                              "(RTDetrImageProcessor does)");
  for (const auto& [t, what] : {std::pair<const Tensor*, const char*>{&logits, "logits"}, {&pred_boxes, "pred_boxes"}})
    if (t->dtype() != DType::kFloat32 && t->dtype() != DType::kFloat64)
      throw InputError(std::string(what) + " must be float32 (or float64), got " + dtype_name(t->dtype()));
  if (logits.ndim() != 3)
    throw InputError("logits must be (batch_size, num_queries, num_classes), got shape " + shape_str(logits.shape()));
  if (pred_boxes.ndim() != 3 || pred_boxes.dim(2) != 4 || pred_boxes.dim(0) != logits.dim(0) ||
      pred_boxes.dim(1) != logits.dim(1))
    throw InputError("pred_boxes must be (batch_size, num_queries, 4) = (" + std::to_string(logits.dim(0)) + ", " +
                     std::to_string(logits.dim(1)) + ", 4) as the logits " + shape_str(logits.shape()) + ", got " +
                     shape_str(pred_boxes.shape()));
  const int64_t n = logits.dim(0);
  std::vector<ops::ItemBoxScale> scales;
  DType scale_dtype = DType::kFloat32;
  if (opts.target_sizes) {
    const auto& sizes = *opts.target_sizes;
    if (static_cast<int64_t>(sizes.size()) != n)
      throw InputError("Make sure that you pass in as many target sizes as the batch dimension of the logits (got " +
                       std::to_string(sizes.size()) + " target sizes for a batch of " + std::to_string(n) + ")");
    if (opts.target_sizes_dtype) {
      scale_dtype = *opts.target_sizes_dtype;
    } else if (rt_detr) {
      scale_dtype = DType::kInt64;
      for (const auto& hw : sizes)
        if (hw.first != std::floor(hw.first) || hw.second != std::floor(hw.second)) scale_dtype = DType::kFloat32;
    }
    if (scale_dtype != DType::kFloat32 && scale_dtype != DType::kFloat64 && scale_dtype != DType::kInt64 &&
        scale_dtype != DType::kInt32)
      throw InputError(std::string("target_sizes: unsupported dtype ") + dtype_name(scale_dtype));
    for (const auto& hw : sizes) scales.push_back({hw.first, hw.second, scale_dtype});
  }
  // Conditional/Deformable DETR: prob.view(batch_size, -1) refuses an empty batch (-1 is ambiguous).
  if (takes_top_k && n == 0)
    throw InputError("logits of shape " + shape_str(logits.shape()) + " hold an empty batch (torch: cannot reshape a "
                     "tensor of 0 elements into (0, -1))");
  // DETR, YOLOS, RT-DETR without focal loss: max over the classes but the last, even for no query.
  if ((!takes_top_k && !(rt_detr && opts.use_focal_loss.value_or(true))) && logits.dim(2) < 2)
    throw InputError("logits have " + std::to_string(logits.dim(2)) + " classes; with the last (\"no object\") "
                     "class dropped none is left (torch: max() over an empty dimension)");
  if (n == 0) return {};

  nlohmann::json params = {{"threshold", opts.threshold}};
  Tensor scored = logits;
  if (takes_top_k) {
    params["scoring"] = "sigmoid_top_k";
    params["top_k"] = opts.top_k.value_or(100);
    if (opts.top_k && *opts.top_k < 0)
      throw InputError("top_k must be >= 0, got " + std::to_string(*opts.top_k) +
                       " (torch.topk: selected index k out of range)");
  } else if (rt_detr && opts.use_focal_loss.value_or(true)) {
    params["scoring"] = "sigmoid_top_k";
    params["top_k"] = nullptr;  // k = num_queries
  } else if (rt_detr) {
    params["scoring"] = "max";  // softmax(logits) without dim: torch takes dim 0 for 3-D inputs
    scored = ops::softmax_over_batch(logits);
  } else {
    params["scoring"] = "softmax";
  }
  Pipeline pipeline(build_ops({{"post_process_object_detection", params}}));
  DetectionLoader loader(scored, pred_boxes, scales);
  OutputOptions out;
  out.stacked = false;
  out.image_key = "detections";
  const std::vector<Tensor> tables = pipeline.run(loader, run, out).list("detections");

  const DType box_dtype =
      pred_boxes.dtype() == DType::kFloat64 || (opts.target_sizes && scale_dtype == DType::kFloat64) ? DType::kFloat64
                                                                                                      : DType::kFloat32;
  std::vector<DetectionResult> results;
  for (const Tensor& t : tables) {
    const int64_t k = t.dim(0);
    const double* row = t.data<double>();
    DetectionResult r{Tensor::empty(logits.dtype(), {k}), Tensor::empty(DType::kInt64, {k}),
                      Tensor::empty(box_dtype, {k, 4})};
    for (int64_t i = 0; i < k; ++i) {
      const double* d = row + i * 6;
      if (logits.dtype() == DType::kFloat32) r.scores.data<float>()[i] = static_cast<float>(d[0]);
      else r.scores.data<double>()[i] = d[0];
      r.labels.data<int64_t>()[i] = static_cast<int64_t>(d[1]);
      for (int64_t c = 0; c < 4; ++c) {
        if (box_dtype == DType::kFloat32) r.boxes.data<float>()[i * 4 + c] = static_cast<float>(d[2 + c]);
        else r.boxes.data<double>()[i * 4 + c] = d[2 + c];
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace pixelflow::pipelines
