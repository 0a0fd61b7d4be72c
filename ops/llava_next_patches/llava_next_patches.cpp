#include "ops/llava_next_patches/llava_next_patches.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/errors.h"
#include "ops/common/params.h"

namespace pixelflow::ops {

std::pair<int64_t, int64_t> select_best_resolution(int64_t h, int64_t w,
                                                   const std::vector<std::pair<int64_t, int64_t>>& resolutions) {
  std::pair<int64_t, int64_t> best{0, 0};
  int64_t max_effective = 0;
  double min_wasted = std::numeric_limits<double>::infinity();
  bool found = false;
  for (const auto& r : resolutions) {
    const int64_t rh = r.first, rw = r.second;
    const double scale = std::min(static_cast<double>(rw) / static_cast<double>(w),
                                  static_cast<double>(rh) / static_cast<double>(h));
    const auto dw = static_cast<int64_t>(static_cast<double>(w) * scale);
    const auto dh = static_cast<int64_t>(static_cast<double>(h) * scale);
    const int64_t effective = std::min(dw * dh, w * h);
    const double wasted = static_cast<double>(rw * rh - effective);
    if (effective > max_effective || (effective == max_effective && wasted < min_wasted)) {
      max_effective = effective;
      min_wasted = wasted;
      best = r;
      found = true;
    }
  }
  if (!found)
    throw InputError("llava_next_patches: no resolution of image_grid_pinpoints fits an image of " + std::to_string(h) +
                     " x " + std::to_string(w) + " (transformers fails on best_fit None)");
  return best;
}

std::pair<int64_t, int64_t> patch_output_size(int64_t h, int64_t w, int64_t target_h, int64_t target_w) {
  const double scale_w = static_cast<double>(target_w) / static_cast<double>(w);
  const double scale_h = static_cast<double>(target_h) / static_cast<double>(h);
  if (scale_w < scale_h)
    return {std::min(static_cast<int64_t>(std::ceil(static_cast<double>(h) * scale_w)), target_h), target_w};
  return {target_h, std::min(static_cast<int64_t>(std::ceil(static_cast<double>(w) * scale_h)), target_w)};
}

PatchCanvas patch_canvas(int64_t h, int64_t w, int64_t c, bool channels_first,
                         const std::vector<std::pair<int64_t, int64_t>>& resolutions, const std::string& source) {
  const auto [best_h, best_w] = select_best_resolution(h, w, resolutions);
  const auto [nh, nw] = patch_output_size(h, w, best_h, best_w);
  const int64_t pad_h = best_h - nh, pad_w = best_w - nw;
  // _pad_for_patching's pad() infers the layout of the resized array, (nh, nw, c) or, for
  // channels-first inputs, (c, nh, nw): channels first when its first side is 1 or 3, else
  // channels last when its last is, else it raises. Read the wrong way round, it pads the other
  // two axes.
  const int64_t first = channels_first ? c : nh, last = channels_first ? nw : c;
  const auto one_or_three = [](int64_t v) { return v == 1 || v == 3; };
  const std::string at = source.empty() ? std::string() : source + ": ";
  const std::string resized = std::to_string(nh) + " x " + std::to_string(nw) + " x " + std::to_string(c);
  if (!one_or_three(first) && !one_or_three(last))
    throw InputError(at + "llava_next_patches: Unable to infer channel dimension format of the " + resized +
                     " resized image (transformers' pad in _pad_for_patching raises)");
  const bool read_first = one_or_three(first);
  if (read_first == channels_first) return {best_h, best_w, pad_h / 2, pad_w / 2, nh, nw};
  // Misread: the padding of one side lands on the channels, that of the other on the wrong side.
  if ((channels_first ? pad_h : pad_w) != 0)
    throw InputError(at + "llava_next_patches: transformers' _pad_for_patching reads the " + resized +
                     " resized image with the wrong layout and pads its channels: its patches get another channel "
                     "count than its base image (transformers' np.array of them raises ValueError)");
  if (channels_first) return {nh + pad_w, nw, pad_w / 2, 0, nh, nw};  // (c, nh, nw) read as (H, W, C)
  return {nh, nw + pad_h, 0, pad_h / 2, nh, nw};                       // (nh, nw, c) read as (C, H, W)
}

LlavaNextPatchesOp::LlavaNextPatchesOp(const nlohmann::json& params)
    : patch_(param_side(params, "patch_size")),
      filter_(resample_from_int(param_int(params, "resample"), "resample")) {
  const nlohmann::json base = params.contains("base_size") ? params.at("base_size") : nlohmann::json();
  if (base.is_array()) {
    if (base.size() != 2) throw ConfigError("base_size", "must be a side or a [height, width] pair, got " + base.dump());
    nlohmann::json hw = {{"height", base[0]}, {"width", base[1]}};
    base_h_ = param_side(hw, "height", "base_size");
    base_w_ = param_side(hw, "width", "base_size");
  } else {
    base_h_ = base_w_ = param_side(params, "base_size");
  }
  if (params.contains("grouped_pad_color")) grouped_pad_color_ = params.at("grouped_pad_color");
  const auto& g = params.contains("image_grid_pinpoints") ? params.at("image_grid_pinpoints") : nlohmann::json();
  if (!g.is_array() || g.empty())
    throw ConfigError("image_grid_pinpoints", "must be a non-empty list of [height, width] pairs, got " + g.dump());
  for (size_t i = 0; i < g.size(); ++i) {
    const std::string path = "image_grid_pinpoints[" + std::to_string(i) + "]";
    if (!g[i].is_array() || g[i].size() != 2)
      throw ConfigError(path, "must be a [height, width] pair, got " + g[i].dump());
    nlohmann::json hw = {{"height", g[i][0]}, {"width", g[i][1]}};
    resolutions_.emplace_back(param_side(hw, "height", path), param_side(hw, "width", path));
  }
}

TensorSpec LlavaNextPatchesOp::infer(const TensorSpec& in) const {
  if (in.shape.size() != 3)
    throw InputError("llava_next_patches needs an (height, width, channels) image, got " + shape_str(in.shape));
  const PatchCanvas cv = patch_canvas(in.shape[0], in.shape[1], in.shape[2], false, resolutions_, "");
  return {in.dtype == DType::kUInt8 ? DType::kUInt8 : DType::kFloat32,
          {cv.h + base_h_, cv.w + base_w_, in.shape[2]}};
}

namespace {

Tensor resized(const Tensor& in, int64_t h, int64_t w, Resample f, const std::string& name, BufferPool* pool) {
  if (in.dtype() == DType::kUInt8) return resize_u8(in, h, w, f, pool);
  return resize_float_hf(in, h, w, f, name, pool);
}

template <class T>
void fill_square(Tensor& out, const Tensor& in, const std::vector<int64_t>& color, int64_t top, int64_t left) {
  const int64_t S = out.dim(0), c = out.dim(2), h = in.dim(0), w = in.dim(1);
  T* o = out.data<T>();
  for (int64_t i = 0; i < S * S; ++i)
    for (int64_t k = 0; k < c; ++k) o[i * c + k] = static_cast<T>(color[static_cast<size_t>(k)]);
  for (int64_t y = 0; y < h; ++y)
    std::memcpy(o + ((top + y) * S + left) * c, in.data<T>() + y * w * c, static_cast<size_t>(w * c) * sizeof(T));
}

}  // namespace

void LlavaNextPatchesOp::pad_to_square(Sample& s, const ExecContext& ctx, bool last) const {
  const Tensor& in = s.image;
  const int64_t h = in.dim(0), w = in.dim(1), c = in.dim(2);
  // The color is computed (from image_mean) before pad_to_square looks at the image.
  if (!grouped_pad_color_.is_array())
    throw InputError(s.source + ": pad_to_square: the background color comes from image_mean, which must be a list "
                     "of numbers for images passed several to a sample (transformers: '" +
                     std::string(grouped_pad_color_.is_number_float() ? "float" : "int") + "' object is not iterable)");
  if (h == w) return;  // as it is
  std::vector<int64_t> color;
  for (const auto& v : grouped_pad_color_) {
    color.push_back(v.get<int64_t>());
    if (in.dtype() == DType::kUInt8 && (color.back() < 0 || color.back() > 255))
      throw InputError(s.source + ": pad_to_square: Python integer " + std::to_string(color.back()) +
                       " out of bounds for uint8 (the background color int(x * 255) of image_mean; transformers "
                       "raises OverflowError)");
  }
  if (static_cast<int64_t>(color.size()) != c)
    throw InputError(s.source + ": pad_to_square: background_color must have no more than " + std::to_string(c) +
                     " elements to match the number of channels (image_mean has " + std::to_string(color.size()) + ")");
  const int64_t S = std::max(h, w);
  check_output_shape("pad_to_square", S, S, c);
  const Shape shape{S, S, c};
  Tensor out = last ? ctx.output_for(s, in.dtype(), shape) : ctx.new_tensor(in.dtype(), shape);
  const int64_t top = w > h ? (S - h) / 2 : 0, left = w > h ? 0 : (S - w) / 2;
  switch (in.dtype()) {
    case DType::kUInt8: fill_square<uint8_t>(out, in, color, top, left); break;
    case DType::kFloat32: fill_square<float>(out, in, color, top, left); break;
    default: fill_square<double>(out, in, color, top, left); break;
  }
  s.image = std::move(out);
}

void LlavaNextPatchesOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  if (s.image.ndim() != 3)
    throw InputError("llava_next_patches needs an (height, width, channels) image, got " + shape_str(s.image.shape()));
  // Integer arrays: Hugging Face's resize and pad take their values as they are (exact in float64).
  if (s.image.dtype() != DType::kUInt8 && s.image.dtype() != DType::kFloat32 && s.image.dtype() != DType::kFloat64)
    s.image = integers_as_float64(s.image, ctx.pool);
  const Tensor& in = s.image;
  const InputGroup* group = s.attributes.get<InputGroup>();
  if (!grouped_pad_color_.is_null() && group && group->size > 1) {
    pad_to_square(s, ctx, last);
    return;
  }
  const int64_t h = in.dim(0), w = in.dim(1), c = in.dim(2);
  const PatchCanvas cv =
      patch_canvas(h, w, c, s.attributes.get<ChannelsFirstInput>() != nullptr, resolutions_, s.source);
  const int64_t nh = cv.image_h, nw = cv.image_w, best_h = cv.h, best_w = cv.w;
  check_output_shape("llava_next_patches canvas", best_h + base_h_, best_w + base_w_, c);
  const Tensor grid = resized(in, nh, nw, filter_, s.source, ctx.pool);
  const Tensor base = resized(in, base_h_, base_w_, filter_, s.source, ctx.pool);
  if (grid.dtype() != base.dtype())
    throw InputError(s.source + ": llava_next_patches: the resized images differ in dtype");
  const Shape shape{best_h + base_h_, best_w + base_w_, c};
  Tensor out = last ? ctx.output_for(s, grid.dtype(), shape) : ctx.new_tensor(grid.dtype(), shape);
  std::memset(out.raw_data(), 0, out.nbytes());
  const size_t px = dtype_size(grid.dtype()) * static_cast<size_t>(c);
  const int64_t W = shape[1];
  const int64_t top = cv.top, left = cv.left;
  for (int64_t y = 0; y < nh; ++y)
    std::memcpy(static_cast<char*>(out.raw_data()) + static_cast<size_t>((top + y) * W + left) * px,
                static_cast<const char*>(grid.raw_data()) + static_cast<size_t>(y * nw) * px, static_cast<size_t>(nw) * px);
  for (int64_t y = 0; y < base_h_; ++y)
    std::memcpy(static_cast<char*>(out.raw_data()) + static_cast<size_t>((best_h + y) * W + best_w) * px,
                static_cast<const char*>(base.raw_data()) + static_cast<size_t>(y * base_w_) * px,
                static_cast<size_t>(base_w_) * px);
  s.image = std::move(out);
}

std::vector<Rect> LlavaNextPatchesOp::tiles(const Shape& out, int64_t group_size) const {
  if (!grouped_pad_color_.is_null() && group_size > 1) return {Rect::full(out.at(0), out.at(1))};
  const int64_t best_h = out.at(0) - base_h_, best_w = out.at(1) - base_w_;
  std::vector<Rect> t{Rect{best_w, best_h, base_w_, base_h_}};
  for (int64_t y = 0; y < best_h; y += patch_)
    for (int64_t x = 0; x < best_w; x += patch_)
      t.push_back(Rect{x, y, std::min(patch_, best_w - x), std::min(patch_, best_h - y)});
  return t;
}

}  // namespace pixelflow::ops
