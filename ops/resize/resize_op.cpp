#include "ops/resize/resize_op.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <vector>

#include "base/errors.h"
#include "base/py_float.h"
#include "ops/center_crop/center_crop.h"
#include "ops/common/params.h"
#include "ops/remap/remap.h"
#include "ops/resize/resize_coeffs.h"

namespace pixelflow::ops {

ResizeRule ResizeRule::from_params(const nlohmann::json& params) {
  ResizeRule r;
  if (params.contains("resolution_max_side")) {
    r.kind = Kind::kResolutionMaxSide;
    // 0 or less: every image becomes 1 x 1 (Idefics3 clamps both sides to 1).
    r.max_side = param_int(params, "resolution_max_side") <= 0 ? 0 : param_side(params, "resolution_max_side");
    return r;
  }
  if (params.contains("vision_encoder_max_size")) {
    r.kind = Kind::kVisionEncoder;
    r.max_side = param_side(params, "vision_encoder_max_size");
    return r;
  }
  if (params.contains("smart_resize")) {
    const auto& sr = params.at("smart_resize");
    if (!sr.is_object()) throw ConfigError("smart_resize", "must be a dict with factor, min_pixels and max_pixels, got " + sr.dump());
    r.kind = Kind::kSmartResize;
    r.multiple = param_side(sr, "factor", "smart_resize");
    r.min_pixels = param_double(sr, "min_pixels", "smart_resize");
    r.max_pixels = param_double(sr, "max_pixels", "smart_resize");
    return r;
  }
  if (params.contains("detr_resize")) {
    const auto& d = params.at("detr_resize");
    if (!d.is_object())
      throw ConfigError("detr_resize", "must be a dict with shortest_edge and longest_edge, got " + d.dump());
    r.kind = Kind::kDetr;
    r.shortest_edge = param_int(d, "shortest_edge", "detr_resize");
    if (r.shortest_edge < 0 || r.shortest_edge > kMaxSide)
      throw ConfigError("detr_resize.shortest_edge", "must be a size in pixels, got " + std::to_string(r.shortest_edge));
    if (d.contains("longest_edge") && !d.at("longest_edge").is_null())
      r.max_size = param_side(d, "longest_edge", "detr_resize");
    r.yolos = param_bool_or(d, "yolos", false);
    r.mod_size = r.yolos ? 16 : 0;
    if (d.contains("mod_size") && !d.at("mod_size").is_null()) r.mod_size = param_side(d, "mod_size", "detr_resize");
    return r;
  }
  if (params.contains("size") && params.at("size").is_object() && params.at("size").contains("max_height") &&
      params.at("size").contains("max_width")) {
    r.kind = Kind::kMaxHeightWidth;
    r.max_height = param_side(params.at("size"), "max_height", "size");
    r.max_width = param_side(params.at("size"), "max_width", "size");
    return r;
  }
  if (!params.contains("size") && params.contains("size_divisor")) {
    r.kind = Kind::kSizeDivisor;
    r.multiple = param_side(params, "size_divisor");
    return r;
  }
  if (!params.contains("size") || !params.at("size").is_object())
    throw ConfigError("size", "must be a dict with 'height' and 'width' or 'shortest_edge', got " +
                                  (params.contains("size") ? params.at("size").dump() : std::string("nothing")));
  const auto& size = params.at("size");
  if (size.contains("shortest_edge")) {
    r.kind = Kind::kShortestEdge;
    r.shortest_edge = param_side(size, "shortest_edge", "size");
    if (size.contains("longest_edge") && !size.at("longest_edge").is_null())
      r.max_size = param_side(size, "longest_edge", "size");
    return r;
  }
  if (!size.contains("height") || !size.contains("width"))
    throw ConfigError("size", "must contain either 'shortest_edge' or 'height' and 'width', got " +
                                  size.dump());
  r.height = param_side(size, "height", "size");
  r.width = param_side(size, "width", "size");
  if (param_bool_or(params, "keep_aspect_ratio", false) ||
      (params.contains("ensure_multiple_of") && !params.at("ensure_multiple_of").is_null())) {
    r.kind = Kind::kKeepAspect;
    r.keep_aspect_ratio = param_bool_or(params, "keep_aspect_ratio", false);
    r.multiple = params.contains("ensure_multiple_of") && !params.at("ensure_multiple_of").is_null()
                     ? param_side(params, "ensure_multiple_of")
                     : 1;
  }
  return r;
}

namespace {

std::string size_text(int64_t h, int64_t w) {
  std::string s = "(";  // (appended piecewise: GCC 12 warns falsely about "(" + std::string)
  s += std::to_string(h);
  s += ", ";
  s += std::to_string(w);
  s += ")";
  return s;
}

// Hugging Face divides by the input's sides (ZeroDivisionError on an empty image).
void check_divisible_input(int64_t h, int64_t w, const char* rule) {
  if (h <= 0 || w <= 0)
    throw InputError(std::string("resize (") + rule + ") from " + size_text(h, w) +
                     ": the image has no pixels (a side is 0)");
}

// An output side computed in floating point, refused unless a size in pixels.
int64_t checked_side(double v, int64_t h, int64_t w, const char* rule) {
  if (!(v >= 0 && v <= static_cast<double>(kMaxSide)))
    throw InputError(std::string("resize (") + rule + ") from " + size_text(h, w) + ": output side " +
                     std::to_string(v) + " exceeds " + std::to_string(kMaxSide) + " pixels");
  return static_cast<int64_t>(v);
}

// transformers' get_resize_output_image_size(size=int, default_to_square=False, max_size).
std::pair<int64_t, int64_t> shortest_edge_size(int64_t h, int64_t w, int64_t size,
                                               std::optional<int64_t> max_size) {
  check_divisible_input(h, w, "shortest_edge");
  const int64_t short_side = std::min(h, w), long_side = std::max(h, w);
  int64_t new_short = size;
  // int(requested_new_short * long / short): Python's true division, then truncation.
  int64_t product = 0;
  if (__builtin_mul_overflow(size, long_side, &product))
    throw InputError("resize (shortest_edge " + std::to_string(size) + ") from " + size_text(h, w) +
                     ": the output size overflows");
  int64_t new_long = checked_side(static_cast<double>(product) / static_cast<double>(short_side), h, w,
                                  "shortest_edge");
  if (max_size) {
    if (*max_size <= size)
      throw ConfigError("size.longest_edge", "max_size = " + std::to_string(*max_size) +
                                                 " must be strictly greater than the requested size for the "
                                                 "smaller edge size = " + std::to_string(size));
    if (new_long > *max_size) {
      new_short = static_cast<int64_t>(static_cast<double>(*max_size * new_short) /
                                       static_cast<double>(new_long));
      new_long = *max_size;
    }
  }
  return w <= h ? std::make_pair(new_long, new_short) : std::make_pair(new_short, new_long);
}

// Python's round(): half to even.
double round_half_even(double x) { return std::nearbyint(x); }

// DPT's constrain_to_multiple_of (for the input (h, w), named in errors).
int64_t constrain_to_multiple_of(double val, int64_t multiple, int64_t min_val, int64_t h, int64_t w) {
  double x = round_half_even(val / static_cast<double>(multiple)) * static_cast<double>(multiple);
  if (x < static_cast<double>(min_val))
    x = std::ceil(val / static_cast<double>(multiple)) * static_cast<double>(multiple);
  return checked_side(x, h, w, "keep_aspect_ratio");
}

// Qwen2-VL's smart_resize(height, width, factor, min_pixels, max_pixels), in Python's float
// arithmetic: both sides multiples of `factor`, about h * w pixels kept within the bounds.
std::pair<int64_t, int64_t> smart_resize_size(int64_t h, int64_t w, int64_t factor, double min_pixels,
                                              double max_pixels) {
  check_divisible_input(h, w, "smart_resize");
  const double ratio = static_cast<double>(std::max(h, w)) / static_cast<double>(std::min(h, w));
  if (ratio > 200) throw InputError("absolute aspect ratio must be smaller than 200, got " + python_float_repr(ratio));
  // Python: round(), math.floor and math.ceil return ints, so the products are exact integers.
  const double f = static_cast<double>(factor);
  const double hd = static_cast<double>(h), wd = static_cast<double>(w);
  const double pixels = static_cast<double>(h * w);  // exact: both sides < 2^31
  const auto side = [&](double multiples) { return checked_side(multiples, h, w, "smart_resize") * factor; };
  // Python compares the int area with an int or float bound exactly (areas stay below 2^53 here).
  const auto area = [](int64_t a, int64_t b) { return static_cast<double>(static_cast<__int128>(a) * b); };
  int64_t h_bar = side(round_half_even(hd / f)), w_bar = side(round_half_even(wd / f));
  if (area(h_bar, w_bar) > max_pixels) {
    if (max_pixels == 0)
      throw InputError("smart_resize from " + size_text(h, w) + ": max_pixels is 0 (transformers divides by it: "
                       "ZeroDivisionError)");
    if (max_pixels < 0 || pixels / max_pixels < 0)
      throw InputError("smart_resize from " + size_text(h, w) + ": max_pixels is negative (transformers takes the "
                       "square root of h * w / max_pixels: ValueError: math domain error)");
    const double beta = std::sqrt(pixels / max_pixels);
    h_bar = std::max(factor, side(std::floor(hd / beta / f)));
    w_bar = std::max(factor, side(std::floor(wd / beta / f)));
  } else if (area(h_bar, w_bar) < min_pixels) {
    const double beta = std::sqrt(min_pixels / pixels);
    h_bar = side(std::ceil(hd * beta / f));
    w_bar = side(std::ceil(wd * beta / f));
  }
  if (h_bar > kMaxSide || w_bar > kMaxSide)
    throw InputError("resize (smart_resize) from " + size_text(h, w) + ": output side exceeds " +
                     std::to_string(kMaxSide) + " pixels");
  return {h_bar, w_bar};
}

// transformers.image_transforms.get_size_with_aspect_ratio(image_size, size, max_size) (DETR,
// Conditional / Deformable DETR, RT-DETR), or Yolos's copy of it (the width < height branch
// first, then both sides floored to a multiple of mod_size). Python floats are doubles; int()
// truncates; round() is half to even; int / int is a correctly rounded true division.
std::pair<int64_t, int64_t> detr_size(int64_t h, int64_t w, int64_t size, std::optional<int64_t> max_size, bool yolos,
                                      int64_t mod_size) {
  check_divisible_input(h, w, "shortest_edge/longest_edge");
  std::optional<double> raw_size;
  if (max_size) {
    const double mn = static_cast<double>(std::min(h, w)), mx = static_cast<double>(std::max(h, w));
    if (mx / mn * static_cast<double>(size) > static_cast<double>(*max_size)) {
      raw_size = static_cast<double>(*max_size) * mn / mx;
      size = static_cast<int64_t>(std::nearbyint(*raw_size));
    }
  }
  const auto scaled = [&](int64_t num, int64_t den) {
    double v = raw_size ? *raw_size * static_cast<double>(num) / static_cast<double>(den)
                        : static_cast<double>(size * num) / static_cast<double>(den);
    return checked_side(v, h, w, "shortest_edge/longest_edge");
  };
  const bool same = (h <= w && h == size) || (w <= h && w == size);
  int64_t oh = 0, ow = 0;
  if (!yolos && same) {
    oh = h, ow = w;
  } else if (w < h) {
    ow = size, oh = scaled(h, w);
  } else if (yolos && same) {
    oh = h, ow = w;
  } else {
    oh = size, ow = scaled(w, h);
  }
  if (mod_size > 0) {
    ow -= ((ow % mod_size) + mod_size) % mod_size;  // np.mod: the sign of the divisor
    oh -= ((oh % mod_size) + mod_size) % mod_size;
  }
  return {oh, ow};
}

// DETR's get_image_size_for_max_height_width.
std::pair<int64_t, int64_t> max_height_width_size(int64_t h, int64_t w, int64_t max_h, int64_t max_w) {
  check_divisible_input(h, w, "max_height/max_width");
  const double min_scale = std::min(static_cast<double>(max_h) / static_cast<double>(h),
                                    static_cast<double>(max_w) / static_cast<double>(w));
  return {checked_side(static_cast<double>(h) * min_scale, h, w, "max_height/max_width"),
          checked_side(static_cast<double>(w) * min_scale, h, w, "max_height/max_width")};
}

// Idefics3's get_resize_output_image_size: _resize_output_size_rescale_to_max_len(h, w, max_len)
// (the long side to max_len, the other int() of the float ratio, made even by adding 1, both at
// least 1), then _resize_output_size_scale_below_upper_bound(h, w, MAX_IMAGE_SIZE = 4096).
std::pair<int64_t, int64_t> resolution_max_side_size(int64_t h, int64_t w, int64_t max_len) {
  check_divisible_input(h, w, "resolution_max_side");
  if (max_len <= 0) return {1, 1};  // both sides 0 or less, clamped to 1
  double aspect = static_cast<double>(w) / static_cast<double>(h);
  if (w >= h) {
    w = max_len;
    h = checked_side(static_cast<double>(w) / aspect, h, w, "resolution_max_side");
    if (h % 2 != 0) ++h;
  } else {
    h = max_len;
    w = checked_side(static_cast<double>(h) * aspect, h, w, "resolution_max_side");
    if (w % 2 != 0) ++w;
  }
  h = std::max<int64_t>(h, 1);
  w = std::max<int64_t>(w, 1);
  constexpr int64_t kMaxImageSize = 4096;
  aspect = static_cast<double>(w) / static_cast<double>(h);
  if (w >= h && w > kMaxImageSize) {
    w = kMaxImageSize;
    h = checked_side(static_cast<double>(w) / aspect, h, w, "resolution_max_side");
  } else if (h > w && h > kMaxImageSize) {
    h = kMaxImageSize;
    w = checked_side(static_cast<double>(h) * aspect, h, w, "resolution_max_side");
  }
  return {std::max<int64_t>(h, 1), std::max<int64_t>(w, 1)};
}

// Idefics3's resize_for_vision_encoder: math.ceil of the float quotients, int() of the ratio.
std::pair<int64_t, int64_t> vision_encoder_size(int64_t h, int64_t w, int64_t m) {
  check_divisible_input(h, w, "vision_encoder_max_size");
  const double aspect = static_cast<double>(w) / static_cast<double>(h), md = static_cast<double>(m);
  const auto ceil_to = [&](int64_t side) {
    return checked_side(std::ceil(static_cast<double>(side) / md) * md, h, w, "vision_encoder_max_size");
  };
  if (w >= h) {
    const int64_t nw = ceil_to(w);
    return {ceil_to(checked_side(static_cast<double>(nw) / aspect, h, w, "vision_encoder_max_size")), nw};
  }
  const int64_t nh = ceil_to(h);
  return {nh, ceil_to(checked_side(static_cast<double>(nh) * aspect, h, w, "vision_encoder_max_size"))};
}

}  // namespace

std::pair<int64_t, int64_t> ResizeRule::output_size(int64_t in_h, int64_t in_w) const {
  switch (kind) {
    case Kind::kExact: return {height, width};
    case Kind::kShortestEdge: return shortest_edge_size(in_h, in_w, shortest_edge, max_size);
    case Kind::kKeepAspect: {
      // transformers.models.dpt.image_processing_dpt.get_resize_output_image_size
      check_divisible_input(in_h, in_w, "keep_aspect_ratio");
      double scale_height = static_cast<double>(height) / static_cast<double>(in_h);
      double scale_width = static_cast<double>(width) / static_cast<double>(in_w);
      if (keep_aspect_ratio) {
        // scale as little as possible
        if (std::abs(1 - scale_width) < std::abs(1 - scale_height))
          scale_height = scale_width;
        else
          scale_width = scale_height;
      }
      int64_t new_h = constrain_to_multiple_of(scale_height * static_cast<double>(in_h), multiple, 0, in_h, in_w);
      int64_t new_w = constrain_to_multiple_of(scale_width * static_cast<double>(in_w), multiple, 0, in_h, in_w);
      return {new_h, new_w};
    }
    case Kind::kSizeDivisor:
      return {in_h / multiple * multiple, in_w / multiple * multiple};
    case Kind::kSmartResize: return smart_resize_size(in_h, in_w, multiple, min_pixels, max_pixels);
    case Kind::kDetr: return detr_size(in_h, in_w, shortest_edge, max_size, yolos, mod_size);
    case Kind::kMaxHeightWidth: return max_height_width_size(in_h, in_w, max_height, max_width);
    case Kind::kResolutionMaxSide: return resolution_max_side_size(in_h, in_w, max_side);
    case Kind::kVisionEncoder: return vision_encoder_size(in_h, in_w, max_side);
  }
  return {height, width};
}

ResizeOp::ResizeOp(const nlohmann::json& params, Target target)
    : rule_(ResizeRule::from_params(params)),
      filter_(resample_from_int(param_int(params, "resample"), "resample")),
      target_(target),
      pil_image_(param_bool_or(params, "pil_image", false)),
      channels_first_(param_bool_or(params, "channels_first", false)) {}

ResizeOp::ResizeOp(ResizeRule rule, Resample filter, std::optional<Crop> crop, Target target, bool pil_image,
                   bool channels_first)
    : rule_(rule), filter_(filter), crop_(crop), target_(target), pil_image_(pil_image), channels_first_(channels_first) {}

std::shared_ptr<ResizeOp> ResizeOp::with_crop(Crop crop) const {
  return std::make_shared<ResizeOp>(rule_, filter_, crop, target_, pil_image_, channels_first_);
}

std::optional<std::pair<int64_t, int64_t>> ResizeOp::output_size(int64_t in_h, int64_t in_w) const {
  try {
    return rule_.output_size(in_h, in_w);
  } catch (const Error&) {
    return std::nullopt;  // run() reports it
  }
}

Rect ResizeOp::window(int64_t out_h, int64_t out_w) const {
  return crop_ ? center_crop_window(out_h, out_w, crop_->height, crop_->width) : Rect::full(out_h, out_w);
}

TensorSpec ResizeOp::infer(const TensorSpec& in) const {
  auto [h, w] = rule_.output_size(in.shape[0], in.shape[1]);
  Shape s = in.shape;
  s[0] = crop_ ? crop_->height : h;
  s[1] = crop_ ? crop_->width : w;
  // Non-uint8 arrays come back as uint8 or float32 depending on their values (HF's
  // _rescale_for_pil_conversion); float32 is reported here. pil_image: always uint8.
  return {in.dtype == DType::kUInt8 || pil_image_ ? DType::kUInt8 : DType::kFloat32, s};
}

namespace {

// Input positions [lo, hi) that Pillow's coefficients for the outputs [o0, o1) (o0 < o1) of an
// axis resized from in_size to out_size touch. Pillow's first tap and end of taps, int(center -
// support + 0.5) and int(center + support + 0.5) clamped to the axis, never decrease with the
// output position, so the two end outputs bound the range.
std::pair<int64_t, int64_t> taps_span(int in_size, int out_size, int filter, int o0, int o1) {
  resize_detail::AxisCoeffs a;
  resize_detail::precompute_coeffs_8bpc(in_size, out_size, filter, o0, o0 + 1, a);
  const int64_t lo = a.xmin[0];
  resize_detail::precompute_coeffs_8bpc(in_size, out_size, filter, o1 - 1, o1, a);
  return {lo, int64_t(a.xmin[0]) + a.count[0]};
}

// Input positions [lo, hi) Pillow's NEAREST reads for the outputs [o0, o1); lo == hi if none.
std::pair<int64_t, int64_t> nearest_span(int in_size, int out_size, int o0, int o1) {
  std::vector<int32_t> idx;
  resize_detail::nearest_indices(in_size, out_size, o0, o1, idx);
  int64_t lo = in_size, hi = 0;
  for (int32_t i : idx)
    if (i >= 0) {
      lo = std::min<int64_t>(lo, i);
      hi = std::max<int64_t>(hi, int64_t(i) + 1);
    }
  return lo < hi ? std::make_pair(lo, hi) : std::make_pair(int64_t(0), int64_t(0));
}

}  // namespace

std::optional<Rect> ResizeOp::input_region(const TensorSpec& in) const {
  if (target_ != Target::kImage || in.dtype != DType::kUInt8 || in.shape.size() < 2) return std::nullopt;
  const int64_t in_h = in.shape[0], in_w = in.shape[1];
  constexpr int64_t kMaxSide = int64_t(1) << 31;
  if (in_h <= 0 || in_w <= 0 || in_h >= kMaxSide || in_w >= kMaxSide) return std::nullopt;
  const auto out = output_size(in_h, in_w);
  if (!out) return std::nullopt;
  const auto [out_h, out_w] = *out;
  if (out_h <= 0 || out_h >= kMaxSide || out_w <= 0 || out_w >= kMaxSide) return std::nullopt;
  const Rect inside = window(out_h, out_w).clip(out_h, out_w);  // in output coordinates
  if (inside.empty()) return Rect{0, 0, 0, 0};
  const int64_t ox0 = inside.x, ox1 = inside.x + inside.width;
  const int64_t oy0 = inside.y, oy1 = inside.y + inside.height;
  std::pair<int64_t, int64_t> cols{ox0, ox1}, rows{oy0, oy1};
  if (out_h != in_h || out_w != in_w) {  // else Image.resize copies
    const Resample filter = filter_for(in.shape.size() == 3 ? in.shape[2] : 1, in_w);
    const int f = static_cast<int>(filter);
    if (filter == Resample::kNearest) {
      cols = nearest_span(int(in_w), int(out_w), int(ox0), int(ox1));
      rows = nearest_span(int(in_h), int(out_h), int(oy0), int(oy1));
    } else {  // a pass is skipped where its axis keeps its size
      if (out_w != in_w) cols = taps_span(int(in_w), int(out_w), f, int(ox0), int(ox1));
      if (out_h != in_h) rows = taps_span(int(in_h), int(out_h), f, int(oy0), int(oy1));
    }
  }
  if (cols.first >= cols.second || rows.first >= rows.second) return Rect{0, 0, 0, 0};
  return Rect{cols.first, rows.first, cols.second - cols.first, rows.second - rows.first};
}

int64_t ResizeOp::max_input_reduction(const TensorSpec& in) const {
  if (target_ != Target::kImage || in.dtype != DType::kUInt8 || in.shape.size() < 2) return 1;
  const auto out = output_size(in.shape[0], in.shape[1]);
  if (!out || out->first <= 0 || out->second <= 0) return 1;
  return std::max<int64_t>(1, std::min(in.shape[0] / out->first, in.shape[1] / out->second));
}

namespace {

// ResizeOp::run from streamed rows (ResizeStream), output allocated as run() allocates it.
class ResizeRowConsumer final : public RowConsumer {
 public:
  ResizeRowConsumer(const TensorSpec& in, int64_t out_h, int64_t out_w, Resample filter, const Rect& window,
                    Target target)
      : stream_(in.shape[0], in.shape[1], in.shape[2], out_h, out_w, filter, window),
        shape_{window.height, window.width, in.shape[2]},
        target_(target) {}
  void begin(int64_t x, int64_t width) override { stream_.begin(x, width); }
  uint8_t* row(int64_t y) override { return stream_.row(y); }
  void rows_done(int64_t y_end) override { stream_.rows_done(y_end); }
  void finish(Sample& s, const ExecContext& ctx, bool last) override {
    Tensor out = last ? ctx.output_for(s, DType::kUInt8, shape_, target_) : ctx.new_tensor(DType::kUInt8, shape_);
    stream_.finish(out);
    (target_ == Target::kImage ? s.image : s.labels) = std::move(out);
  }

 private:
  ResizeStream stream_;
  Shape shape_;
  Target target_;
};

}  // namespace

std::unique_ptr<RowConsumer> ResizeOp::row_consumer(const TensorSpec& in) const {
  if (target_ != Target::kImage || in.dtype != DType::kUInt8 || in.shape.size() != 3) return nullptr;
  const auto out = output_size(in.shape[0], in.shape[1]);
  if (!out) return nullptr;
  const auto [out_h, out_w] = *out;
  const Rect win = window(out_h, out_w);
  if (premultiplies(in.shape[2], in.shape[0], in.shape[1], out_h, out_w)) return nullptr;
  const Resample filter = filter_for(in.shape[2], in.shape[1]);
  if (!ResizeStream::supported(in.shape[0], in.shape[1], in.shape[2], out_h, out_w, filter, win)) return nullptr;
  return std::make_unique<ResizeRowConsumer>(in, out_h, out_w, filter, win, target_);
}

namespace {

// resize_u8 of a large output in bands of rows run in parallel on the TBB pool (a single large
// image, e.g. a VLM's, otherwise runs on one core). Each band computes only its output rows and
// the input rows they need, so the bytes are resize_u8's.
void resize_u8_banded(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter, const Rect& win,
                      Tensor& out) {
  constexpr int64_t kMinBandPixels = int64_t(1) << 17;
  const int64_t threads = tbb::this_task_arena::max_concurrency();
  const int64_t bands =
      std::min<int64_t>(2 * threads, win.height * win.width / kMinBandPixels);
  if (threads < 2 || bands < 2) return resize_u8(in, out_h, out_w, filter, win, out);
  const int64_t rows = (win.height + bands - 1) / bands, c = out.dim(2);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, bands, 1), [&](const auto& r) {
    for (int64_t b = r.begin(); b < r.end(); ++b) {
      const int64_t y0 = b * rows, h = std::min(rows, win.height - y0);
      if (h <= 0) continue;
      Tensor band = Tensor::wrap(static_cast<uint8_t*>(out.raw_data()) + y0 * win.width * c, DType::kUInt8,
                                 {h, win.width, c}, out.storage());
      resize_u8(in, out_h, out_w, filter, Rect{win.x, win.y + y0, win.width, h}, band);
    }
  });
}

}  // namespace

void ResizeOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  Tensor& t = target_ == Target::kImage ? s.image : s.labels;
  const int64_t in_h = t.dim(0), in_w = t.dim(1);
  // Approximate mode: the image was decoded shrunk; the output is sized from its full size.
  int64_t size_h = in_h, size_w = in_w;
  if (target_ == Target::kImage)
    if (const auto reduced = s.attributes.take<ReducedInput>()) {
      size_h = reduced->full_height;
      size_w = reduced->full_width;
    }
  auto [out_h, out_w] = rule_.output_size(size_h, size_w);
  if (out_h <= 0 || out_w <= 0)
    throw InputError("resize to (" + std::to_string(out_h) + ", " + std::to_string(out_w) +
                     ") from (" + std::to_string(size_h) + ", " + std::to_string(size_w) +
                     "): height and width must be > 0");
  check_output_shape("resize from " + size_text(size_h, size_w), out_h, out_w, t.ndim() == 3 ? t.dim(2) : 1);
  const bool planar2d = t.ndim() == 2;
  Tensor in3 = planar2d ? t.reshape({in_h, in_w, 1}) : t;
  const int64_t c = in3.dim(2);
  const Rect win = window(out_h, out_w);
  Tensor out;
  if (pil_image_) check_pil_mode(c, in_w, channels_first_, s.source);
  if (pil_image_ && in3.dtype() != DType::kUInt8) {  // to_pil_image's uint8, then as uint8
    if (c != 1 && c != 3 && c != 4)
      throw InputError(s.source + ": resize supports 1, 3 or 4 channels, got shape " + shape_str(in3.shape()));
    const bool is_float = in3.dtype() == DType::kFloat32 || in3.dtype() == DType::kFloat64;
    in3 = to_pil_uint8(is_float ? in3 : integers_as_float64(in3, ctx.pool), s.source, nullptr, ctx.pool);
  }
  if (in3.dtype() == DType::kUInt8) {
    Shape shape = planar2d ? Shape{win.height, win.width} : Shape{win.height, win.width, c};
    out = last ? ctx.output_for(s, DType::kUInt8, shape, target_) : ctx.new_tensor(DType::kUInt8, shape);
    Tensor out3 = planar2d ? out.reshape({win.height, win.width, 1}) : out;
    if (premultiplies(c, in_h, in_w, out_h, out_w)) {  // Pillow's RGBA path: RGBa, resize, RGBA
      Tensor pre = ctx.new_tensor(DType::kUInt8, in3.shape());
      std::memcpy(pre.raw_data(), in3.raw_data(), in3.nbytes());
      premultiply_alpha(pre);
      resize_u8_banded(pre, out_h, out_w, filter_, win, out3);
      unpremultiply_alpha(out3);
    } else {
      resize_u8_banded(in3, out_h, out_w, filter_for(c, in_w), win, out3);
    }
  } else {
    const bool is_float = in3.dtype() == DType::kFloat32 || in3.dtype() == DType::kFloat64;
    const Tensor src = is_float ? in3 : integers_as_float64(in3, ctx.pool);
    ctx.check_values(src.dtype(), {out_h, out_w, c});  // the whole resized array, before any crop
    Tensor full = resize_float_hf(src, out_h, out_w, filter_, s.source, ctx.pool);
    if (crop_) {
      Tensor cropped = ctx.new_tensor(full.dtype(), {win.height, win.width, c});
      remap_hwc(full, win, false, false, cropped);
      full = cropped;
    }
    out = planar2d ? full.reshape({win.height, win.width}) : full;
  }
  t = std::move(out);
}

std::optional<OutputFloor> ResizeOp::output_floor() const {
  if (rule_.kind == ResizeRule::Kind::kExact) return OutputFloor{rule_.height, rule_.width, "size"};
  if (rule_.kind == ResizeRule::Kind::kShortestEdge && !rule_.max_size)
    return OutputFloor{rule_.shortest_edge, rule_.shortest_edge, "size.shortest_edge"};
  return std::nullopt;
}

Tensor integers_as_float64(const Tensor& in, BufferPool* pool) {
  Tensor out = Tensor::empty(DType::kFloat64, in.shape(), pool);
  for (int64_t i = 0; i < in.numel(); ++i) {
    double v = 0;
    switch (in.dtype()) {
      case DType::kBool: v = in.data<bool>()[i] ? 1 : 0; break;
      case DType::kUInt16: v = in.data<uint16_t>()[i]; break;
      case DType::kInt32: v = in.data<int32_t>()[i]; break;
      case DType::kInt64: v = static_cast<double>(in.data<int64_t>()[i]); break;
      default: break;
    }
    out.data<double>()[i] = v;
  }
  return out;
}

}  // namespace pixelflow::ops
