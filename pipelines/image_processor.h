// ImageProcessor: the C++ counterpart of a Hugging Face image processor object.
//
//   auto proc = ImageProcessor::from_pretrained("openai/clip-vit-base-patch32");
//   BatchFeature out = proc({InputItem::file("cat.jpg")});
//   const Tensor& pixel_values = out["pixel_values"];   // float32 (1, 3, 224, 224)
//
// A call resolves its kwargs as preprocess() does, turns the processor's preprocess chain into a
// plan of logical ops, builds the (fused) graph and runs it. prepare() keeps the built graph and
// its buffer pool for repeated calls with the same arguments (data loaders, benchmarks).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/batch_feature.h"
#include "registry/builder.h"
#include "graph/pipeline.h"
#include "registry/plan.h"
#include "ops/load_input/load_input.h"
#include "pipelines/processor_config.h"

namespace pixelflow::pipelines {

struct CallOptions {
  bool return_tensors = true;  // false: like return_tensors=None, one array per image
  bool load_image = false;     // decode like transformers.image_utils.load_image
  bool fuse = true;            // false: one graph node per logical op (same bytes, slower)
  int threads = 0;             // 0: all cores
  int max_in_flight = 0;       // 0: 2 x threads + 2
  // Decode JPEGs only on the region the first op reads (e.g. the source window of a fused
  // resize+center_crop): same bytes, faster. false: decode every pixel.
  bool decode_region = true;
  // APPROXIMATE, breaks bit-exactness; off unless asked for, never implied by anything else.
  // JPEGs are decoded shrunk 2, 4 or 8 times in the DCT domain (libjpeg scale_denom, like PIL's
  // Image.draft / libvips shrink-on-load) when the first op is a resize whose output stays at
  // most that small on both sides, then resized by the same Pillow resampler to the same output
  // shape. Other formats and arrays are unaffected. See bench/README.md for speed and error.
  bool approximate = false;
  // on_error=skip: inputs that fail are left out of the batch and listed in the RunReport
  // passed to PreparedCall::run (required then); the rest keep their order. Images only.
  bool skip_failed = false;
  // false: a batch's rows in completion order (RunOptions::ordered); pass a RunReport to
  // PreparedCall::run to learn which input each row holds. Images only (not videos).
  bool ordered = true;
  // Decompression-bomb limit (LoadSpec::max_pixels): inputs with more pixels are refused from
  // their header, before allocation; <= 0: no limit. The default is where Pillow raises
  // DecompressionBombError (2 * PIL.Image.MAX_IMAGE_PIXELS).
  int64_t max_image_pixels = 178956970;
};

// A call with fixed arguments, ready to run on batches.
class PreparedCall {
 public:
  PreparedCall(Plan plan, CallOptions opts);
  const Plan& plan() const { return plan_; }
  const CallOptions& options() const { return opts_; }
  // "load -> resize+center_crop -> center_crop+rescale+..." as built.
  std::string describe() const;
  // Images (segmentation maps ride along in InputItem::labels_*). For a video processor the
  // inputs are the frames of ONE video, as Hugging Face reads a flat list of images.
  BatchFeature run(std::vector<ops::InputItem> inputs, RunReport* report = nullptr) const;
  // Videos, each a list of frames: pixel_values (N, T, C, H, W) for a video processor; an image
  // processor treats all frames as one flat batch (HF flattens nested lists).
  BatchFeature run_videos(std::vector<std::vector<ops::InputItem>> videos) const;
  // The frames of all videos as one flat batch, not regrouped (the Python package regroups the
  // per-frame arrays of return_tensors=None into one list per video, as transformers returns them);
  // `lengths` (required) receives each video's number of frames. run_videos is this, regrouped.
  BatchFeature run_frames(std::vector<std::vector<ops::InputItem>> videos, std::vector<int64_t>* lengths) const;
  // Images in groups, one per sample of a model's batch (transformers' nested lists: several
  // images in one prompt). Each image's InputItem::group_size becomes its group's size (ops read
  // it: LLaVA-OneVision pads grouped images to squares instead of tiling them); with
  // Plan::group_sizes_key, an int64 array of the groups' sizes is added. run() passes every input
  // as a group of its own to such plans.
  BatchFeature run_groups(std::vector<std::vector<ops::InputItem>> groups) const;

 private:
  BatchFeature run_flat(std::vector<ops::InputItem> inputs, RunReport* report = nullptr) const;
  // Tiling plans: the tile ops per input, then the plan's chain per tile (Plan::tile_ops).
  // `group_sizes`: run_groups' groups (Batching::kFramesPerSample needs them).
  BatchFeature run_tiled(std::vector<ops::InputItem> inputs, const std::vector<int64_t>* group_sizes = nullptr) const;

  Plan plan_;
  CallOptions opts_;
  std::shared_ptr<Pipeline> pipeline_;  // null when the layout depends on the inputs
  std::shared_ptr<Pipeline> tile_pipeline_;  // Plan::tile_ops, when the plan has them
};

class ImageProcessor {
 public:
  explicit ImageProcessor(ProcessorConfig cfg) : cfg_(std::move(cfg)) {}
  static ImageProcessor from_pretrained(const std::string& path_or_model_id, const LoadOptions& opts = {});

  const ProcessorConfig& config() const { return cfg_; }
  const std::string& class_name() const { return cfg_.class_name; }

  // Resolves `call_kwargs` (HF's preprocess() keyword arguments) into a plan; `args` receives the
  // resolved arguments, unused kwargs and warnings.
  Plan plan(const nlohmann::json& call_kwargs = nlohmann::json::object(), const CallOptions& opts = {},
            CallArgs* args = nullptr) const;
  PreparedCall prepare(const nlohmann::json& call_kwargs = nlohmann::json::object(),
                       const CallOptions& opts = {}, CallArgs* args = nullptr) const;
  BatchFeature operator()(std::vector<ops::InputItem> inputs,
                          const nlohmann::json& call_kwargs = nlohmann::json::object(),
                          const CallOptions& opts = {}) const;

 private:
  ProcessorConfig cfg_;
};

}  // namespace pixelflow::pipelines
