#include "ops/crop_to_patches/crop_to_patches.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/errors.h"
#include "ops/common/params.h"

namespace pixelflow::ops {

std::pair<int64_t, int64_t> optimal_tiled_canvas(int64_t height, int64_t width, int64_t tile_h, int64_t tile_w,
                                                 int64_t min_tiles, int64_t max_tiles) {
  // get_all_supported_aspect_ratios: (columns, rows) in generation order, stably sorted by count.
  std::vector<std::pair<int64_t, int64_t>> grids;
  for (int64_t c = 1; c <= max_tiles; ++c)
    for (int64_t r = 1; r <= max_tiles; ++r)
      if (c * r <= max_tiles && c * r >= min_tiles) grids.emplace_back(c, r);
  std::stable_sort(grids.begin(), grids.end(),
                   [](const auto& a, const auto& b) { return a.first * a.second < b.first * b.second; });
  if (height <= 0 || width <= 0)
    throw InputError("crop_to_patches: the image has no pixels (" + std::to_string(height) + " x " +
                     std::to_string(width) + ")");
  const double aspect = static_cast<double>(width) / static_cast<double>(height);
  const double area = static_cast<double>(width * height);
  double best_diff = std::numeric_limits<double>::infinity();
  std::pair<int64_t, int64_t> best{1, 1};
  for (const auto& g : grids) {
    const double diff = std::abs(aspect - static_cast<double>(g.first) / static_cast<double>(g.second));
    if (diff < best_diff) {
      best_diff = diff;
      best = g;
    } else if (diff == best_diff) {
      // 0.5 * tile_h * tile_w * columns * rows, left to right in float64 as Python does.
      const double half_canvas = 0.5 * static_cast<double>(tile_h) * static_cast<double>(tile_w) *
                                 static_cast<double>(g.first) * static_cast<double>(g.second);
      if (area > half_canvas) best = g;
    }
  }
  return best;
}

CropToPatchesOp::CropToPatchesOp(const nlohmann::json& params)
    : min_patches_(param_int(params, "min_patches")),
      max_patches_(param_int(params, "max_patches")),
      filter_(resample_from_int(param_int(params, "resample"), "resample")),
      thumbnail_(param_bool_or(params, "use_thumbnail", true)) {
  if (!params.contains("patch_size") || !params.at("patch_size").is_object())
    throw ConfigError("patch_size", "must be a dict with height and width");
  tile_h_ = param_side(params.at("patch_size"), "height", "patch_size");
  tile_w_ = param_side(params.at("patch_size"), "width", "patch_size");
  if (max_patches_ > 4096)
    throw ConfigError("max_patches", "must be at most 4096 tiles, got " + std::to_string(max_patches_));
}

CropToPatchesOp::Layout CropToPatchesOp::layout(int64_t h, int64_t w) const {
  const auto [columns, rows] = optimal_tiled_canvas(h, w, tile_h_, tile_w_, min_patches_, max_patches_);
  const int64_t blocks = columns * rows;
  return {columns, rows, blocks + (thumbnail_ && blocks != 1 ? 1 : 0)};
}

TensorSpec CropToPatchesOp::infer(const TensorSpec& in) const {
  if (in.shape.size() != 3)
    throw InputError("crop_to_patches needs an (height, width, channels) image, got " + shape_str(in.shape));
  const Layout l = layout(in.shape[0], in.shape[1]);
  return {in.dtype == DType::kUInt8 ? DType::kUInt8 : DType::kFloat32, {l.count, tile_h_, tile_w_, in.shape[2]}};
}

void CropToPatchesOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  const Tensor& in = s.image;
  if (in.ndim() != 3)
    throw InputError("crop_to_patches needs an (height, width, channels) image, got " + shape_str(in.shape()));
  const int64_t h = in.dim(0), w = in.dim(1), c = in.dim(2);
  const Layout l = layout(h, w);
  const int64_t canvas_h = tile_h_ * l.rows, canvas_w = tile_w_ * l.columns, blocks = l.columns * l.rows;
  check_output_shape("crop_to_patches canvas", canvas_h, canvas_w, c);
  const Shape tile_shape{tile_h_, tile_w_, c};
  if (in.dtype() == DType::kUInt8) {
    const Shape shape{l.count, tile_h_, tile_w_, c};
    Tensor out = last ? ctx.output_for(s, DType::kUInt8, shape) : ctx.new_tensor(DType::kUInt8, shape);
    // Each tile is its window of the resized canvas, computed directly.
    for (int64_t i = 0; i < blocks; ++i) {
      Tensor tile = out[i];
      resize_u8(in, canvas_h, canvas_w, filter_, Rect{(i % l.columns) * tile_w_, (i / l.columns) * tile_h_, tile_w_, tile_h_},
                tile);
    }
    if (l.count > blocks) {
      Tensor thumb = out[blocks];
      resize_u8(in, tile_h_, tile_w_, filter_, Rect::full(tile_h_, tile_w_), thumb);
    }
    s.image = std::move(out);
    return;
  }
  // Float (and integer) arrays: transformers' resize through PIL (resize_float_hf) of the canvas,
  // then the tiles; the dtype follows the values (uint8 for whole numbers).
  Tensor src = in;
  if (in.dtype() != DType::kFloat32 && in.dtype() != DType::kFloat64) {
    src = Tensor::empty(DType::kFloat64, in.shape(), ctx.pool);
    for (int64_t i = 0; i < in.numel(); ++i) {
      double v = 0;
      switch (in.dtype()) {
        case DType::kBool: v = static_cast<const uint8_t*>(in.raw_data())[i] ? 1 : 0; break;
        case DType::kUInt16: v = in.data<uint16_t>()[i]; break;
        case DType::kInt32: v = in.data<int32_t>()[i]; break;
        case DType::kInt64: v = static_cast<double>(in.data<int64_t>()[i]); break;
        default: break;
      }
      src.data<double>()[i] = v;
    }
  }
  ctx.check_values(DType::kFloat32, {canvas_h, canvas_w, c});
  const Tensor canvas = resize_float_hf(src, canvas_h, canvas_w, filter_, s.source, ctx.pool);
  const Tensor thumb = l.count > blocks ? resize_float_hf(src, tile_h_, tile_w_, filter_, s.source, ctx.pool) : Tensor();
  const DType dt = canvas.dtype();
  const Shape shape{l.count, tile_h_, tile_w_, c};
  Tensor out = last ? ctx.output_for(s, dt, shape) : ctx.new_tensor(dt, shape);
  const size_t es = dtype_size(dt), row = static_cast<size_t>(tile_w_ * c) * es;
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t x0 = (i % l.columns) * tile_w_, y0 = (i / l.columns) * tile_h_;
    for (int64_t y = 0; y < tile_h_; ++y)
      std::memcpy(static_cast<char*>(out.raw_data()) + static_cast<size_t>((i * tile_h_ + y) * tile_w_ * c) * es,
                  static_cast<const char*>(canvas.raw_data()) + static_cast<size_t>(((y0 + y) * canvas_w + x0) * c) * es,
                  row);
  }
  if (thumb.defined()) {
    if (thumb.dtype() != dt)
      throw InputError(s.source + ": crop_to_patches: the thumbnail and the tiles differ in dtype");
    std::memcpy(out[blocks].raw_data(), thumb.raw_data(), thumb.nbytes());
  }
  s.image = std::move(out);
}

}  // namespace pixelflow::ops
