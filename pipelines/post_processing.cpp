#include "pipelines/post_processing.h"

#include <algorithm>
#include <cstring>

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

}  // namespace pixelflow::pipelines
