#include "pipelines/image_processor.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/errors.h"
#include "graph/kernels.h"
#include "ops/astype/astype.h"
#include "ops/common/tiling.h"
#include "ops/patchify/patchify.h"
#include "pipelines/detection_labels.h"
#include "pipelines/processor_plans.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

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
BatchFeature batch_patches(BatchFeature per_image, const std::string& key, BufferPool* pool) {
  BatchFeature out;
  std::vector<Tensor> images;
  if (per_image.contains(key)) images = per_image.list(key);
  ops::PatchBatch b = ops::collate_patches(images, pool);
  out.set(key, std::move(b.pixel_values));
  out.set("image_grid_thw", std::move(b.image_grid_thw));
  return out;
}

// The layout of the plan's output (after with_input_layout): channels first unless the final
// to_channel_dimension_format says channels_last.
bool output_channels_first(const Plan& plan, Layout input) {
  bool first = input == Layout::kChannelsFirst;
  for (const auto& op : plan.image_ops)
    if (op.name == "to_channel_dimension_format") {
      const std::string f = op.params.value("data_format", "");
      first = f == "input" ? input == Layout::kChannelsFirst : f == "channels_first";
    }
  return first;
}

std::pair<int64_t, int64_t> hw_of(const Shape& s, bool channels_first) {
  if (s.size() == 2) return {s[0], s[1]};
  if (s.size() != 3) throw InputError("pad: expected a 3-D image, got shape " + shape_str(s));
  return channels_first ? std::make_pair(s[1], s[2]) : std::make_pair(s[0], s[1]);
}

// Copies `img` (C, h, w) / (h, w, C) into the top-left corner of `dst` (C, H, W) / (H, W, C),
// zeroing the rest: rows in parallel, each written once.
void pad_copy(const Tensor& img, Tensor& dst, bool channels_first) {
  const size_t elt = dtype_size(img.dtype());
  const Shape& s = img.shape();
  const Shape& d = dst.shape();
  const bool two_d = s.size() == 2;
  const int64_t C = two_d ? 1 : (channels_first ? s[0] : s[2]);
  // Not structured bindings: the parallel loop below captures them (clang 14 refuses that).
  const std::pair<int64_t, int64_t> in_hw = hw_of(s, channels_first), out_hw = hw_of(d, channels_first);
  const int64_t h = in_hw.first, w = in_hw.second, H = out_hw.first, W = out_hw.second;
  const char* src = static_cast<const char*>(img.raw_data());
  char* out = static_cast<char*>(dst.raw_data());
  // One "row" is a row of one channel (channels first) or a row of pixels (channels last).
  const int64_t planes = (two_d || !channels_first) ? 1 : C;
  const size_t pix = (two_d || channels_first) ? elt : elt * static_cast<size_t>(C);
  const size_t in_row = pix * static_cast<size_t>(w), out_row = pix * static_cast<size_t>(W);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, planes * H, 64), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t i = r.begin(); i < r.end(); ++i) {
      const int64_t c = i / H, y = i % H;
      char* o = out + static_cast<size_t>(i) * out_row;
      if (y < h) {
        std::memcpy(o, src + (static_cast<size_t>(c * h + y)) * in_row, in_row);
        std::memset(o + in_row, 0, out_row - in_row);
      } else {
        std::memset(o, 0, out_row);
      }
    }
  });
}

// DETR's pad(): every image padded at the bottom / right to the batch's largest (or pad_size),
// with pixel_mask; stacked with return_tensors, else one array per image (unpadded ones kept as
// they are, without a copy).
BatchFeature batch_pad(BatchFeature per_image, const Plan& plan, bool stacked, bool channels_first,
                       std::vector<std::pair<int64_t, int64_t>>* resized, std::pair<int64_t, int64_t>* padded,
                       BufferPool* pool) {
  const std::string& key = plan.image_key;
  std::vector<Tensor> images = per_image.contains(key) ? per_image.list(key) : std::vector<Tensor>{};
  BatchFeature out;
  if (images.empty()) return out;
  int64_t H = 0, W = 0;
  resized->clear();
  for (const Tensor& t : images) {
    resized->push_back(hw_of(t.shape(), channels_first));
    H = std::max(H, resized->back().first);
    W = std::max(W, resized->back().second);
  }
  if (plan.pad.size) {
    for (size_t i = 0; i < images.size(); ++i)
      if ((*resized)[i].first > plan.pad.size->first || (*resized)[i].second > plan.pad.size->second)
        throw InputError("pad_size (" + std::to_string(plan.pad.size->first) + ", " +
                         std::to_string(plan.pad.size->second) + ") is smaller than image " + std::to_string(i) +
                         " after resizing (" + std::to_string((*resized)[i].first) + ", " +
                         std::to_string((*resized)[i].second) + ") (transformers raises ValueError in np.pad)");
    H = plan.pad.size->first, W = plan.pad.size->second;
  }
  *padded = {H, W};
  const auto padded_shape = [&](const Tensor& t) {
    const Shape& s = t.shape();
    if (s.size() == 2) return Shape{H, W};
    return channels_first ? Shape{s[0], H, W} : Shape{H, W, s[2]};
  };
  const int64_t n = static_cast<int64_t>(images.size());
  std::vector<Tensor> masks;
  if (stacked) {
    const Shape one = padded_shape(images[0]);
    for (size_t i = 1; i < images.size(); ++i)
      if (padded_shape(images[i]) != one || images[i].dtype() != images[0].dtype())
        throw InputError(key + ": images of " + dtype_name(images[0].dtype()) + " " + shape_str(one) + " and " +
                         dtype_name(images[i].dtype()) + " " + shape_str(padded_shape(images[i])) +
                         " after padding cannot be stacked (use return_tensors=None / --unbatched)");
    Shape shape{n};
    shape.insert(shape.end(), one.begin(), one.end());
    Tensor batch = Tensor::empty(images[0].dtype(), shape, pool);
    for (int64_t i = 0; i < n; ++i) {
      Tensor slot = batch[i];
      pad_copy(images[i], slot, channels_first);
    }
    out.set(key, std::move(batch));
  } else {
    std::vector<Tensor> list;
    for (const Tensor& t : images) {
      const auto [h, w] = hw_of(t.shape(), channels_first);
      if (h == H && w == W) {
        list.push_back(t);
        continue;
      }
      Tensor p = Tensor::empty(t.dtype(), padded_shape(t), pool);
      pad_copy(t, p, channels_first);
      list.push_back(std::move(p));
    }
    out.set(key, std::move(list));
  }
  if (plan.pad.pixel_mask) {
    Tensor mask = Tensor::empty(DType::kInt64, {n, H, W}, pool);
    int64_t* m = mask.data<int64_t>();
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n * H, 256), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t i = r.begin(); i < r.end(); ++i) {
        const auto [h, w] = (*resized)[static_cast<size_t>(i / H)];
        int64_t* row = m + i * W;
        const int64_t ones = (i % H) < h ? w : 0;
        std::fill(row, row + ones, int64_t{1});
        std::fill(row + ones, row + W, int64_t{0});
      }
    });
    if (stacked) {
      out.set("pixel_mask", std::move(mask));
    } else {
      std::vector<Tensor> rows;
      for (int64_t i = 0; i < n; ++i) rows.push_back(mask[i]);
      out.set("pixel_mask", std::move(rows));
    }
  }
  for (const auto& k : per_image.keys())
    if (k != key) out.set(k, per_image.list(k));
  return out;
}

// LLaVA-NeXT: each input's model inputs (consecutive tiles) as one (n, ...) array, padded with
// zero tiles to the batch's largest n (Plan::pad_tiles, do_pad), stacked with return_tensors.
BatchFeature group_tiles(BatchFeature per_tile, const Plan& plan, const std::vector<int64_t>& tiles_of,
                         bool stacked, BufferPool* pool) {
  const std::string& key = plan.image_key;
  const std::vector<Tensor> t = per_tile.contains(key) ? per_tile.list(key) : std::vector<Tensor>{};
  BatchFeature out;
  if (t.empty()) return out;
  int64_t most = 0;
  for (int64_t n : tiles_of) most = std::max(most, n);
  std::vector<Tensor> groups;
  size_t next = 0;
  for (int64_t n : tiles_of) {
    const int64_t rows = plan.pad_tiles ? most : n;
    const Tensor& first = t[next];
    // np.array of the tiles: one shape, dtypes promoted as NumPy does (all-zero tiles of a float
    // image come out of transformers' resize as uint8).
    DType dtype = first.dtype();
    for (int64_t k = 0; k < n; ++k) {
      const Tensor& tile = t[next + static_cast<size_t>(k)];
      const std::optional<DType> common = ops::result_type(dtype, tile.dtype());
      if (tile.shape() != first.shape() || !common)
        throw InputError(key + ": tiles of " + dtype_name(first.dtype()) + " " + shape_str(first.shape()) + " and " +
                         dtype_name(tile.dtype()) + " " + shape_str(tile.shape()) +
                         " of one image cannot be stacked (transformers' np.array raises)");
      dtype = *common;
    }
    Shape shape{rows};
    shape.insert(shape.end(), first.shape().begin(), first.shape().end());
    Tensor g = Tensor::empty(dtype, shape, pool);
    for (int64_t k = 0; k < n; ++k, ++next) {
      const Tensor& tile = t[next];
      const Tensor src = tile.dtype() == dtype ? tile : ops::astype(tile, dtype, pool);
      std::memcpy(g[k].raw_data(), src.raw_data(), src.nbytes());
    }
    if (rows > n) std::memset(g[n].raw_data(), 0, static_cast<size_t>(rows - n) * g[0].nbytes());
    groups.push_back(std::move(g));
  }
  if (!stacked) {
    out.set(key, std::move(groups));
    return out;
  }
  Shape shape{static_cast<int64_t>(groups.size())};
  shape.insert(shape.end(), groups[0].shape().begin(), groups[0].shape().end());
  for (const Tensor& g : groups)
    if (g.shape() != groups[0].shape() || g.dtype() != groups[0].dtype())
      throw InputError(key + ": images with " + std::to_string(groups[0].dim(0)) + " and " + std::to_string(g.dim(0)) +
                       " patches cannot be stacked without padding (do_pad=False; use return_tensors=None)");
  Tensor batch = Tensor::empty(groups[0].dtype(), shape, pool);
  for (size_t i = 0; i < groups.size(); ++i)
    std::memcpy(batch[static_cast<int64_t>(i)].raw_data(), groups[i].raw_data(), groups[i].nbytes());
  out.set(key, std::move(batch));
  return out;
}

// Idefics3 / SmolVLM (Batching::kFramesPerSample): the frames of each group's images as one
// (n, ...) array, with pad_tiles padded with zero frames to the batch's most (transformers' pad():
// empty images, np.zeros, whose value the stacking promotes to the frames' dtype) and
// pixel_attention_mask (1 on every pixel of a real frame); stacked (groups, frames, ...) with
// return_tensors. grid_keys' per-input arrays become one array per group.
BatchFeature group_frames(BatchFeature per_frame, const Plan& plan, const std::vector<int64_t>& tiles_of,
                          const std::vector<int64_t>& group_sizes, bool stacked, bool channels_first,
                          BufferPool* pool) {
  const std::string& key = plan.image_key;
  const std::vector<Tensor> t = per_frame.contains(key) ? per_frame.list(key) : std::vector<Tensor>{};
  BatchFeature out;
  if (t.empty()) return out;
  std::vector<int64_t> frames_of;  // each group's number of frames
  size_t input = 0;
  for (int64_t n : group_sizes) {
    int64_t f = 0;
    for (int64_t k = 0; k < n; ++k) f += tiles_of[input++];
    frames_of.push_back(f);
  }
  int64_t most = 0;
  for (int64_t f : frames_of) most = std::max(most, f);
  const Tensor& first = t[0];
  const std::pair<int64_t, int64_t> hw = hw_of(first.shape(), channels_first);
  std::vector<Tensor> groups, masks;
  size_t next = 0;
  for (size_t g = 0; g < frames_of.size(); ++g) {
    const int64_t n = frames_of[g];
    const int64_t rows = plan.pad_tiles ? most : n;
    // A group's frames must agree (their first, or the batch's first when the group has none).
    const Tensor& like = n > 0 ? t[next] : first;
    Shape shape{rows};
    shape.insert(shape.end(), like.shape().begin(), like.shape().end());
    Tensor arr = Tensor::empty(like.dtype(), shape, pool);
    for (int64_t k = 0; k < n; ++k, ++next) {
      const Tensor& f = t[next];
      if (f.shape() != like.shape() || f.dtype() != like.dtype())
        throw InputError(key + ": frames of " + dtype_name(like.dtype()) + " " + shape_str(like.shape()) + " and " +
                         dtype_name(f.dtype()) + " " + shape_str(f.shape()) + " in sample " + std::to_string(g) +
                         " cannot be stacked (images of different channel counts with do_convert_rgb=False)");
      std::memcpy(arr[k].raw_data(), f.raw_data(), f.nbytes());
    }
    if (rows > n) std::memset(arr[n].raw_data(), 0, static_cast<size_t>(rows - n) * like.nbytes());
    groups.push_back(std::move(arr));
    if (plan.pad_tiles && plan.pad.pixel_mask) {
      Tensor m = Tensor::empty(DType::kInt64, {rows, hw.first, hw.second}, pool);
      const int64_t per = hw.first * hw.second;
      std::fill(m.data<int64_t>(), m.data<int64_t>() + n * per, int64_t{1});
      std::fill(m.data<int64_t>() + n * per, m.data<int64_t>() + rows * per, int64_t{0});
      masks.push_back(std::move(m));
    }
  }
  const auto stack = [&](std::vector<Tensor> parts, const std::string& name) {
    if (!stacked) {
      out.set(name, std::move(parts));
      return;
    }
    for (const Tensor& g : parts)
      if (g.shape() != parts[0].shape() || g.dtype() != parts[0].dtype())
        throw InputError(name + ": samples of " + dtype_name(parts[0].dtype()) + " " + shape_str(parts[0].shape()) +
                         " and " + dtype_name(g.dtype()) + " " + shape_str(g.shape()) +
                         " cannot be stacked (do_pad=False, or images of different channel counts; use "
                         "return_tensors=None)");
    Shape shape{static_cast<int64_t>(parts.size())};
    shape.insert(shape.end(), parts[0].shape().begin(), parts[0].shape().end());
    Tensor batch = Tensor::empty(parts[0].dtype(), shape, pool);
    for (size_t i = 0; i < parts.size(); ++i)
      std::memcpy(batch[static_cast<int64_t>(i)].raw_data(), parts[i].raw_data(), parts[i].nbytes());
    out.set(name, std::move(batch));
  };
  stack(std::move(groups), key);
  if (!masks.empty()) stack(std::move(masks), "pixel_attention_mask");
  return out;
}

// Per-input int64 values as one array per group (Batching::kFramesPerSample's rows / cols).
std::vector<Tensor> split_per_group(const Tensor& per_input, const std::vector<int64_t>& group_sizes) {
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t n : group_sizes) {
    Tensor g = Tensor::empty(DType::kInt64, {n});
    for (int64_t k = 0; k < n; ++k) g.data<int64_t>()[k] = per_input.data<int64_t>()[at + k];
    at += n;
    out.push_back(std::move(g));
  }
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
  const auto n = static_cast<int64_t>(inputs.size());
  // Paths that keep every input (they refuse on_error=skip): row i is input i.
  const auto all_kept = [&](BatchFeature bf) {
    if (report && report->kept.empty() && report->failed.empty())
      for (int64_t i = 0; i < n; ++i) report->kept.push_back(i);
    return bf;
  };
  if (!plan_.group_sizes_key.empty() || plan_.batching == Batching::kFramesPerSample) {  // every input a group of its own
    std::vector<std::vector<ops::InputItem>> groups;
    for (auto& item : inputs) groups.push_back({std::move(item)});
    return all_kept(run_groups(std::move(groups)));
  }
  if (tile_pipeline_) return all_kept(run_tiled(std::move(inputs)));
  return run_flat(std::move(inputs), report);
}

BatchFeature PreparedCall::run_groups(std::vector<std::vector<ops::InputItem>> groups) const {
  if (plan_.video) throw InputError("groups of images are not supported for videos");
  std::vector<ops::InputItem> flat;
  Tensor sizes = Tensor::empty(DType::kInt64, {static_cast<int64_t>(groups.size())});
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto n = static_cast<int64_t>(groups[g].size());
    sizes.data<int64_t>()[g] = n;
    for (auto& item : groups[g]) {
      item.group_size = n;
      flat.push_back(std::move(item));
    }
  }
  if (flat.empty()) throw InputError("images: no image in any group");
  if (plan_.batching == Batching::kFramesPerSample) {
    std::vector<int64_t> group_sizes(sizes.data<int64_t>(), sizes.data<int64_t>() + sizes.numel());
    BatchFeature bf = run_tiled(std::move(flat), &group_sizes);
    if (!plan_.group_sizes_key.empty()) bf.set(plan_.group_sizes_key, std::move(sizes));
    return bf;
  }
  BatchFeature bf = run_flat(std::move(flat));
  if (!plan_.group_sizes_key.empty()) bf.set(plan_.group_sizes_key, std::move(sizes));
  return bf;
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

BatchFeature PreparedCall::run_tiled(std::vector<ops::InputItem> inputs, const std::vector<int64_t>* group_sizes) const {
  if (plan_.batching == Batching::kFramesPerSample && !group_sizes)
    throw InputError(plan_.processor_class + ": images are grouped per sample (PreparedCall::run_groups)");
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
  Tensor grid_rows = Tensor::empty(DType::kInt64, {static_cast<int64_t>(stacks.size())});
  Tensor grid_cols = Tensor::empty(DType::kInt64, {static_cast<int64_t>(stacks.size())});
  std::vector<ops::InputItem> tiles;
  std::vector<int64_t> tiles_of;  // each input's number of model inputs
  const auto* cutter = dynamic_cast<const ops::TileCutter*>(tile_pipeline_->image_ops().back().get());
  for (size_t i = 0; i < stacks.size(); ++i) {
    const Tensor& t = stacks[i];
    const std::string name = inputs[i].display_name();
    if (cutter) {  // windows of the stage's output (copied; the whole of it passed as it is)
      const std::vector<Rect> windows = cutter->tiles(t.shape(), inputs[i].group_size);
      counts.data<int64_t>()[i] = cutter->count(static_cast<int64_t>(windows.size()));
      const auto grid = cutter->grid(t.shape());
      grid_rows.data<int64_t>()[i] = grid ? grid->first : 0;
      grid_cols.data<int64_t>()[i] = grid ? grid->second : 0;
      tiles_of.push_back(static_cast<int64_t>(windows.size()));
      for (size_t k = 0; k < windows.size(); ++k) {
        const Rect& r = windows[k];
        const std::string tile_name = name + " (tile " + std::to_string(k) + ")";
        if (r == Rect::full(t.dim(0), t.dim(1))) {
          tiles.push_back(ops::InputItem::from_array(t, k == 0 ? name : tile_name));
          continue;
        }
        Shape shape = t.shape();
        shape[0] = r.height;
        shape[1] = r.width;
        Tensor crop = Tensor::empty(t.dtype(), shape);
        const size_t px = t.nbytes() / static_cast<size_t>(std::max<int64_t>(1, t.dim(0) * t.dim(1)));
        for (int64_t y = 0; y < r.height; ++y)
          std::memcpy(static_cast<char*>(crop.raw_data()) + static_cast<size_t>(y * r.width) * px,
                      static_cast<const char*>(t.raw_data()) + static_cast<size_t>((r.y + y) * t.dim(1) + r.x) * px,
                      static_cast<size_t>(r.width) * px);
        tiles.push_back(ops::InputItem::from_array(std::move(crop), tile_name));
      }
      continue;
    }
    counts.data<int64_t>()[i] = t.dim(0);
    tiles_of.push_back(t.dim(0));
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
  const bool grouped = plan_.batching == Batching::kTilesPerInput || plan_.batching == Batching::kFramesPerSample;
  out.stacked = opts_.return_tensors && !grouped;
  out.image_key = plan_.image_key;
  out.labels_key = plan_.labels_key;
  std::optional<Pipeline> built;
  if (!pipeline_ || layout_follows_input(plan_)) built.emplace(build_pipeline(per_tile, BuildOptions{opts_.fuse}));
  const Pipeline& p = built ? *built : *pipeline_;
  if (!p.image_ops().empty()) tile_loader.set_first_op(p.image_ops().front(), opts_.decode_region, false);
  BatchFeature bf = stacks.empty() ? BatchFeature() : p.run(tile_loader, run, out);
  if (plan_.batching == Batching::kFramesPerSample) {
    const bool channels_first = output_channels_first(with_input_layout(plan_, input_layout), input_layout);
    bf = group_frames(std::move(bf), plan_, tiles_of, *group_sizes, opts_.return_tensors, channels_first, p.pool());
  } else if (grouped) {
    bf = group_tiles(std::move(bf), plan_, tiles_of, opts_.return_tensors, p.pool());
  }
  if (!plan_.tiles_key.empty()) bf.set(plan_.tiles_key, std::move(counts));
  if (!plan_.grid_keys.first.empty() && cutter) {
    if (group_sizes) {
      bf.set(plan_.grid_keys.first, split_per_group(grid_rows, *group_sizes));
      bf.set(plan_.grid_keys.second, split_per_group(grid_cols, *group_sizes));
    } else {
      bf.set(plan_.grid_keys.first, std::move(grid_rows));
      bf.set(plan_.grid_keys.second, std::move(grid_cols));
    }
  }
  if (!plan_.input_sizes_key.empty()) {  // each input's (height, width) as loaded
    Tensor sizes = Tensor::empty(DType::kInt64, {static_cast<int64_t>(inputs.size()), 2});
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto hw = hw_of(ops::input_shape(inputs[i], plan_.load), input_layout == Layout::kChannelsFirst);
      sizes.data<int64_t>()[2 * i] = hw.first;
      sizes.data<int64_t>()[2 * i + 1] = hw.second;
    }
    bf.set(plan_.input_sizes_key, std::move(sizes));
  }
  return bf;
}

BatchFeature PreparedCall::run_flat(std::vector<ops::InputItem> inputs, RunReport* report) const {
  if (tile_pipeline_) return run_tiled(std::move(inputs));
  // Detection annotations: checked first (as transformers validates them before any image), kept
  // aside with each input's size as loaded (only needed when resizing).
  std::vector<std::shared_ptr<const nlohmann::json>> annotations;
  size_t annotated = 0;
  for (const auto& item : inputs) {
    annotations.push_back(item.annotation);
    if (item.annotation) ++annotated;
  }
  if (annotated != 0 && !plan_.annotations.accepted)
    throw ConfigError("annotations", plan_.processor_class + " does not take annotations");
  if (annotated != 0 && annotated != inputs.size())
    throw ConfigError("annotations", "The number of images (" + std::to_string(inputs.size()) + ") and annotations (" +
                                         std::to_string(annotated) + ") do not match.");
  if (annotated != 0)
    for (size_t i = 0; i < inputs.size(); ++i)
      check_detection_annotation(*annotations[i], plan_.annotations, inputs[i].display_name());
  std::vector<Shape> input_shapes;
  if (annotated != 0 && plan_.annotations.resized) {
    for (const auto& item : inputs) {
      try {
        input_shapes.push_back(ops::input_shape(item, plan_.load));
      } catch (const std::exception&) {
        input_shapes.push_back({});  // fails again, naming the input, when loaded
      }
    }
  }
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
  if ((opts_.skip_failed || annotated != 0) && !report) report = &local;
  const Layout input_layout = loader.layout();
  if (plan_.batching == Batching::kPad || annotated != 0) out.stacked = false;
  const int64_t n = loader.size();
  BatchFeature bf = p.run(loader, run, out, report);
  if (!plan_.tiles_key.empty()) {  // no tiling: the same count for every input
    const int64_t kept = report ? n - static_cast<int64_t>(report->failed.size()) : n;
    Tensor counts = Tensor::empty(DType::kInt64, {kept});
    for (int64_t i = 0; i < kept; ++i) counts.data<int64_t>()[i] = plan_.tiles_without_tile_ops;
    bf.set(plan_.tiles_key, std::move(counts));
  }
  if (plan_.batching == Batching::kPatches) return batch_patches(std::move(bf), plan_.image_key, p.pool());
  if (plan_.batching == Batching::kStack && annotated == 0) return bf;
  // Padding and / or labels: from the per-image arrays.
  const bool channels_first = output_channels_first(with_input_layout(plan_, input_layout), input_layout);
  std::vector<std::pair<int64_t, int64_t>> resized;
  std::optional<std::pair<int64_t, int64_t>> padded;
  if (plan_.batching == Batching::kPad) {
    std::pair<int64_t, int64_t> size;
    bf = batch_pad(std::move(bf), plan_, opts_.return_tensors, channels_first, &resized, &size, p.pool());
    padded = size;
  } else {
    std::vector<Tensor> images = bf.contains(plan_.image_key) ? bf.list(plan_.image_key) : std::vector<Tensor>{};
    for (const Tensor& t : images) resized.push_back(hw_of(t.shape(), channels_first));
    if (opts_.return_tensors && !images.empty()) {
      // Stack as Pipeline::run would have.
      Shape shape{static_cast<int64_t>(images.size())};
      shape.insert(shape.end(), images[0].shape().begin(), images[0].shape().end());
      for (const Tensor& t : images)
        if (t.shape() != images[0].shape() || t.dtype() != images[0].dtype())
          throw InputError(plan_.image_key + ": images of " + shape_str(images[0].shape()) + " and " +
                           shape_str(t.shape()) + " cannot be stacked (use return_tensors=None / --unbatched)");
      Tensor batch = Tensor::empty(images[0].dtype(), shape, p.pool());
      for (size_t i = 0; i < images.size(); ++i)
        std::memcpy(batch[static_cast<int64_t>(i)].raw_data(), images[i].raw_data(), images[i].nbytes());
      bf.set(plan_.image_key, std::move(batch));
    }
  }
  if (annotated != 0) {
    std::vector<DetectionLabels> labels;
    for (size_t row = 0; row < resized.size(); ++row) {
      const size_t i = static_cast<size_t>(report->kept[row]);
      std::pair<int64_t, int64_t> orig = resized[row];
      if (plan_.annotations.resized) orig = hw_of(input_shapes[i], input_layout == Layout::kChannelsFirst);
      labels.push_back(make_detection_labels(*annotations[i], plan_.annotations, orig, resized[row], padded,
                                             "annotation " + std::to_string(i)));
    }
    set_detection_labels(bf, labels);
  }
  return bf;
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
