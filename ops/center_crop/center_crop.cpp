#include "ops/center_crop/center_crop.h"

#include <cstring>

#include "base/errors.h"
#include "ops/common/params.h"
#include "ops/remap/remap.h"

namespace pixelflow::ops {

namespace {
int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }
}  // namespace

Rect center_crop_window(int64_t in_h, int64_t in_w, int64_t crop_h, int64_t crop_w) {
  return Rect{floor_div2(in_w - crop_w), floor_div2(in_h - crop_h), crop_w, crop_h};
}

Tensor crop_reference(const Tensor& in, const Rect& win, BufferPool* pool) {
  const int64_t h = in.dim(0), w = in.dim(1);
  const int64_t c = in.ndim() == 3 ? in.dim(2) : 1;
  const size_t px = static_cast<size_t>(c) * dtype_size(in.dtype());
  Shape shape = in.ndim() == 3 ? Shape{win.height, win.width, c} : Shape{win.height, win.width};
  Tensor out = Tensor::zeros(in.dtype(), shape, pool);
  const char* src = static_cast<const char*>(in.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t i = 0; i < win.height; ++i) {
    int64_t y = win.y + i;
    if (y < 0 || y >= h) continue;
    int64_t j0 = std::max<int64_t>(0, -win.x);
    int64_t j1 = std::min<int64_t>(win.width, w - win.x);
    if (j1 <= j0) continue;
    std::memcpy(dst + (i * win.width + j0) * px, src + (y * w + win.x + j0) * px,
                static_cast<size_t>(j1 - j0) * px);
  }
  return out;
}

CenterCropOp::CenterCropOp(const nlohmann::json& params, Target target) : target_(target) {
  if (!params.contains("crop_size") || !params.at("crop_size").is_object())
    throw ConfigError("crop_size", "must be a dict with 'height' and 'width'");
  const auto& size = params.at("crop_size");
  if (!size.contains("height") || !size.contains("width"))
    throw ConfigError("crop_size", "The size dictionary must have keys 'height' and 'width'. Got " +
                                       size.dump());
  height_ = param_side(size, "height", "crop_size");
  width_ = param_side(size, "width", "crop_size");
  if (params.contains("size") && !params.at("size").is_null()) {
    const auto& rel = params.at("size");
    relative_ = true;
    ratio_h_ = static_cast<double>(param_side(rel, "height", "size")) / static_cast<double>(height_);
    ratio_w_ = static_cast<double>(param_side(rel, "width", "size")) / static_cast<double>(width_);
  }
}

std::pair<int64_t, int64_t> CenterCropOp::crop_size(int64_t in_h, int64_t in_w) const {
  if (!relative_) return {height_, width_};
  const double m = static_cast<double>(std::min(in_h, in_w));
  const double h = ratio_h_ * m, w = ratio_w_ * m;
  if (!(h >= 0 && h <= static_cast<double>(kMaxSide) && w >= 0 && w <= static_cast<double>(kMaxSide)))
    throw InputError("center_crop of (" + std::to_string(in_h) + ", " + std::to_string(in_w) +
                     "): crop size exceeds " + std::to_string(kMaxSide) + " pixels");
  return {static_cast<int64_t>(h), static_cast<int64_t>(w)};
}

TensorSpec CenterCropOp::infer(const TensorSpec& in) const {
  auto [h, w] = crop_size(in.shape[0], in.shape[1]);
  Shape s = in.shape;
  s[0] = h;
  s[1] = w;
  return {in.dtype, s};
}

void CenterCropOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  Tensor& t = target_ == Target::kImage ? s.image : s.labels;
  auto [h, w] = crop_size(t.dim(0), t.dim(1));
  check_output_shape("center_crop", h, w, t.ndim() == 3 ? t.dim(2) : 1);
  Rect win = center_crop_window(t.dim(0), t.dim(1), h, w);
  TensorSpec spec = infer({t.dtype(), t.shape()});
  Tensor out = last ? ctx.output_for(s, spec.dtype, spec.shape, target_)
                    : ctx.new_tensor(spec.dtype, spec.shape);
  remap_hwc(t, win, /*flip_channels=*/false, /*channels_first_out=*/false, out);
  t = std::move(out);
}

}  // namespace pixelflow::ops
