#include "pipelines/post_processing.h"

#include "graph/builder.h"
#include "graph/errors.h"

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
    if (!sizes_.empty()) s.target_size = sizes_[static_cast<size_t>(s.index)];
  }

 private:
  const Tensor& logits_;
  const std::vector<std::pair<int64_t, int64_t>>& sizes_;
};

}  // namespace

bool has_semantic_segmentation(const std::string& cls) {
  return cls == "BeitImageProcessor" || cls == "SegformerImageProcessor" || cls == "DPTImageProcessor" ||
         cls == "MobileViTImageProcessor" || cls == "MobileNetV2ImageProcessor";
}

std::vector<Tensor> post_process_semantic_segmentation(
    const ProcessorConfig& cfg, const Tensor& logits,
    const std::vector<std::pair<int64_t, int64_t>>& target_sizes, const RunOptions& run) {
  if (!has_semantic_segmentation(cfg.class_name))
    throw ConfigError("image_processor_type", cfg.class_name +
                                                  " has no post_process_semantic_segmentation (classes that do: "
                                                  "BeitImageProcessor, DPTImageProcessor, MobileNetV2ImageProcessor, "
                                                  "MobileViTImageProcessor, SegformerImageProcessor)");
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
