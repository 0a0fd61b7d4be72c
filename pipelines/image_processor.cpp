#include "pipelines/image_processor.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/errors.h"
#include "graph/kernels.h"
#include "ops/pan_and_scan/pan_and_scan.h"
#include "ops/patchify/patchify.h"
#include "pipelines/processor_plans.h"

namespace pixelflow::pipelines {

namespace {

// data_format=None keeps the input's layout, known only once the first input is seen.
bool layout_follows_input(const Plan& plan) {
  for (const auto& op : plan.image_ops)
    if (op.name == "to_channel_dimension_format" && op.params.value("data_format", "") == "input")
      return true;
  return false;
}

Plan with_input_layout(Plan plan, Layout layout) {
  for (auto& op : plan.image_ops)
    if (op.name == "to_channel_dimension_format" && op.params.value("data_format", "") == "input")
      op.params["data_format"] = layout == Layout::kChannelsFirst ? "channels_first" : "channels_last";
  return plan;
}

// Qwen2-VL: transformers concatenates the images' patch rows and lists their grids, as arrays
// whatever return_tensors says.
BatchFeature batch_patches(BatchFeature per_image, const std::string& key) {
  BatchFeature out;
  std::vector<Tensor> images;
  if (per_image.contains(key)) images = per_image.list(key);
  ops::PatchBatch b = ops::collate_patches(images);
  out.set(key, std::move(b.pixel_values));
  out.set("image_grid_thw", std::move(b.image_grid_thw));
  return out;
}

}  // namespace

PreparedCall::PreparedCall(Plan plan, CallOptions opts) : plan_(std::move(plan)), opts_(opts) {
  ensure_tuning_loaded();
  if (!layout_follows_input(plan_))
    pipeline_ = std::make_shared<Pipeline>(build_pipeline(plan_, BuildOptions{opts_.fuse}));
  if (!plan_.tile_ops.empty()) {
    Plan tiles;
    tiles.load = plan_.load;
    tiles.image_ops = plan_.tile_ops;
    tile_pipeline_ = std::make_shared<Pipeline>(build_pipeline(tiles, BuildOptions{opts_.fuse}));
  }
}

std::string PreparedCall::describe() const {
  if (pipeline_) return pipeline_->describe();
  return build_pipeline(with_input_layout(plan_, Layout::kChannelsFirst), BuildOptions{opts_.fuse}).describe();
}

BatchFeature PreparedCall::run(std::vector<ops::InputItem> inputs, RunReport* report) const {
  if (plan_.video) {
    if (opts_.skip_failed) throw InputError("on_error=skip is not supported for videos (a video is one input)");
    return run_videos({std::move(inputs)});
  }
  return run_flat(std::move(inputs), report);
}

BatchFeature PreparedCall::run_videos(std::vector<std::vector<ops::InputItem>> videos) const {
  std::vector<int64_t> lengths;
  BatchFeature flat = run_frames(std::move(videos), &lengths);
  if (!plan_.video) return flat;
  // Regroup the frames' outputs per video: (N, T, ...) when stacked, else one (T, ...) array
  // per video.
  BatchFeature out;
  for (const auto& key : flat.keys()) {
    if (opts_.return_tensors) {
      for (int64_t len : lengths)
        if (len != lengths[0])
          throw InputError(key + ": videos of different lengths (" + std::to_string(lengths[0]) + " and " +
                           std::to_string(len) + " frames) cannot be stacked (use --unbatched)");
      const Tensor& t = flat.tensor(key);
      Shape shape{static_cast<int64_t>(lengths.size()), lengths[0]};
      shape.insert(shape.end(), t.shape().begin() + 1, t.shape().end());
      out.set(key, t.reshape(shape));
      continue;
    }
    std::vector<Tensor> per_frame = flat.list(key), per_video;
    size_t next = 0;
    for (size_t v = 0; v < lengths.size(); ++v) {
      const Tensor& first = per_frame[next];
      Shape shape{lengths[v]};
      shape.insert(shape.end(), first.shape().begin(), first.shape().end());
      Tensor video = Tensor::empty(first.dtype(), shape);
      for (int64_t t = 0; t < lengths[v]; ++t, ++next) {
        const Tensor& f = per_frame[next];
        if (f.shape() != first.shape() || f.dtype() != first.dtype())
          throw InputError("video " + std::to_string(v) + ": frames of " + dtype_name(first.dtype()) + " " +
                           shape_str(first.shape()) + " and " + dtype_name(f.dtype()) + " " + shape_str(f.shape()) +
                           " cannot be stacked");
        std::memcpy(video[t].raw_data(), f.raw_data(), f.nbytes());
      }
      per_video.push_back(std::move(video));
    }
    out.set(key, std::move(per_video));
  }
  return out;
}

BatchFeature PreparedCall::run_frames(std::vector<std::vector<ops::InputItem>> videos,
                                      std::vector<int64_t>* lengths) const {
  std::vector<ops::InputItem> frames;
  lengths->clear();
  for (auto& v : videos) {
    if (v.empty()) throw InputError("a video needs at least one frame");
    lengths->push_back(static_cast<int64_t>(v.size()));
    for (auto& f : v) frames.push_back(std::move(f));
  }
  if (opts_.skip_failed) throw InputError("on_error=skip is not supported for videos (a video is one input)");
  if (!opts_.ordered) throw InputError("ordered=false is not supported for videos (frames must keep their order)");
  return run_flat(std::move(frames));
}

BatchFeature PreparedCall::run_tiled(std::vector<ops::InputItem> inputs) const {
  if (opts_.skip_failed) throw InputError("on_error=skip is not supported for processors that cut images into tiles");
  if (!opts_.ordered) throw InputError("ordered=false is not supported for processors that cut images into tiles");
  // Stage 1: each input's tiles, (n, h, w, C) channels-last.
  ops::InputLoader loader(inputs, plan_.load);
  const Layout input_layout = loader.layout();
  RunOptions run{opts_.threads, opts_.max_in_flight};
  run.fuse_load = opts_.fuse;
  OutputOptions per_image;
  per_image.stacked = false;
  per_image.image_key = "tiles";
  if (!tile_pipeline_->image_ops().empty())
    loader.set_first_op(tile_pipeline_->image_ops().front(), opts_.decode_region, opts_.approximate);
  BatchFeature staged = tile_pipeline_->run(loader, run, per_image);
  const std::vector<Tensor> stacks = staged.contains("tiles") ? staged.list("tiles") : std::vector<Tensor>{};
  // Stage 2: the plan's chain on every tile, each an image of its own (already converted, in
  // the layout transformers inferred from the first input: the tiles keep it).
  Tensor counts = Tensor::empty(DType::kInt64, {static_cast<int64_t>(stacks.size())});
  std::vector<ops::InputItem> tiles;
  const auto* pan_and_scan = dynamic_cast<const ops::PanAndScanOp*>(tile_pipeline_->image_ops().back().get());
  for (size_t i = 0; i < stacks.size(); ++i) {
    const Tensor& t = stacks[i];
    const std::string name = inputs[i].display_name();
    if (pan_and_scan) {  // the image, then its crops (copied windows)
      const std::vector<Rect> crops = pan_and_scan->crops(t.dim(0), t.dim(1));
      counts.data<int64_t>()[i] = static_cast<int64_t>(crops.size());
      tiles.push_back(ops::InputItem::from_array(t, name));
      for (size_t k = 0; k < crops.size(); ++k) {
        const Rect& r = crops[k];
        Shape shape = t.shape();
        shape[0] = r.height;
        shape[1] = r.width;
        Tensor crop = Tensor::empty(t.dtype(), shape);
        const size_t px = t.nbytes() / static_cast<size_t>(std::max<int64_t>(1, t.dim(0) * t.dim(1)));
        for (int64_t y = 0; y < r.height; ++y)
          std::memcpy(static_cast<char*>(crop.raw_data()) + static_cast<size_t>(y * r.width) * px,
                      static_cast<const char*>(t.raw_data()) + static_cast<size_t>((r.y + y) * t.dim(1) + r.x) * px,
                      static_cast<size_t>(r.width) * px);
        tiles.push_back(ops::InputItem::from_array(std::move(crop), name + " (crop " + std::to_string(k) + ")"));
      }
      continue;
    }
    counts.data<int64_t>()[i] = t.dim(0);
    for (int64_t k = 0; k < t.dim(0); ++k)
      tiles.push_back(ops::InputItem::from_array(t[k], name + " (tile " + std::to_string(k) + ")"));
  }
  Plan per_tile = plan_;
  per_tile.tile_ops.clear();
  per_tile.load = LoadSpec{};
  per_tile.load.input_data_format = Layout::kChannelsLast;
  per_tile.load.max_pixels = plan_.load.max_pixels;
  if (layout_follows_input(per_tile)) per_tile = with_input_layout(std::move(per_tile), input_layout);
  ops::InputLoader tile_loader(std::move(tiles), per_tile.load);
  OutputOptions out;
  out.stacked = opts_.return_tensors;
  out.image_key = plan_.image_key;
  out.labels_key = plan_.labels_key;
  std::optional<Pipeline> built;
  if (!pipeline_ || layout_follows_input(plan_)) built.emplace(build_pipeline(per_tile, BuildOptions{opts_.fuse}));
  const Pipeline& p = built ? *built : *pipeline_;
  if (!p.image_ops().empty()) tile_loader.set_first_op(p.image_ops().front(), opts_.decode_region, false);
  BatchFeature bf = stacks.empty() ? BatchFeature() : p.run(tile_loader, run, out);
  if (!plan_.tiles_key.empty()) bf.set(plan_.tiles_key, std::move(counts));
  return bf;
}

BatchFeature PreparedCall::run_flat(std::vector<ops::InputItem> inputs, RunReport* report) const {
  if (tile_pipeline_) return run_tiled(std::move(inputs));
  LoadSpec load = plan_.load;
  if (opts_.skip_failed && !load.input_data_format && !load.infer_layout_per_input) {
    // The layout HF infers from images[0]: with on_error=skip, from the first input whose header
    // can be read (the unreadable ones fail in the graph, with the same message, and are left out
    // of the batch: whatever the failure, it must not end the run).
    for (const auto& item : inputs) {
      try {
        load.input_data_format = ops::infer_input_layout(item, load);
        break;
      } catch (const std::exception&) {
      }
    }
    if (!load.input_data_format) load.infer_layout_per_input = true;  // every input fails anyway
  }
  ops::InputLoader loader(std::move(inputs), load);
  RunOptions run{opts_.threads, opts_.max_in_flight};
  run.fuse_load = opts_.fuse;  // e.g. JPEG rows streamed into the first resize (same bytes)
  run.skip_failed = opts_.skip_failed;
  run.ordered = opts_.ordered;
  OutputOptions out;
  // Patch batches are built from the per-image arrays (below), with or without return_tensors.
  out.stacked = opts_.return_tensors && plan_.batching == Batching::kStack;
  out.image_key = plan_.image_key;
  out.labels_key = plan_.labels_key;
  std::optional<Pipeline> built;
  if (!pipeline_) built.emplace(build_pipeline(with_input_layout(plan_, loader.layout()), BuildOptions{opts_.fuse}));
  const Pipeline& p = pipeline_ ? *pipeline_ : *built;
  if (!p.image_ops().empty()) loader.set_first_op(p.image_ops().front(), opts_.decode_region, opts_.approximate);
  RunReport local;
  if (opts_.skip_failed && !report) report = &local;
  const int64_t n = loader.size();
  BatchFeature bf = p.run(loader, run, out, report);
  if (!plan_.tiles_key.empty()) {  // no tiling: the same count for every input
    const int64_t kept = report ? n - static_cast<int64_t>(report->failed.size()) : n;
    Tensor counts = Tensor::empty(DType::kInt64, {kept});
    for (int64_t i = 0; i < kept; ++i) counts.data<int64_t>()[i] = plan_.tiles_without_tile_ops;
    bf.set(plan_.tiles_key, std::move(counts));
  }
  return plan_.batching == Batching::kStack ? bf : batch_patches(std::move(bf), plan_.image_key);
}

ImageProcessor ImageProcessor::from_pretrained(const std::string& path_or_model_id, const LoadOptions& opts) {
  return ImageProcessor(load_processor_config(path_or_model_id, opts));
}

Plan ImageProcessor::plan(const nlohmann::json& call_kwargs, const CallOptions& opts, CallArgs* args) const {
  CallArgs resolved = resolve_call(cfg_, call_kwargs);
  PlanOptions plan_opts;
  plan_opts.load_image = opts.load_image;
  Plan p = make_plan(cfg_.class_name, resolved.params, plan_opts);
  p.load.max_pixels = opts.max_image_pixels;
  p.warnings.insert(p.warnings.end(), resolved.warnings.begin(), resolved.warnings.end());
  if (args) *args = std::move(resolved);
  return p;
}

PreparedCall ImageProcessor::prepare(const nlohmann::json& call_kwargs, const CallOptions& opts,
                                     CallArgs* args) const {
  return PreparedCall(plan(call_kwargs, opts, args), opts);
}

BatchFeature ImageProcessor::operator()(std::vector<ops::InputItem> inputs, const nlohmann::json& call_kwargs,
                                        const CallOptions& opts) const {
  return prepare(call_kwargs, opts).run(std::move(inputs));
}

}  // namespace pixelflow::pipelines
