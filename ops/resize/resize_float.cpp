// resize: Hugging Face's float path (image_transforms.resize through PIL): the array goes to
// uint8 as to_pil_image takes it there, is resized by resize_u8, and comes back rescaled.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/errors.h"
#include "base/py_float.h"
#include "ops/resize/resize.h"

namespace pixelflow::ops {

namespace {

// NumPy's float -> int64 conversion (astype(int)) on x86-64: out-of-range and NaN give INT64_MIN.
double numpy_astype_int(double x) {
  if (!(x > -9223372036854775808.0 && x < 9223372036854775808.0))
    return -9223372036854775808.0;
  return static_cast<double>(static_cast<int64_t>(x));
}

// _rescale_for_pil_conversion: whether the values must be rescaled by 255 (all in [0, 1] but not
// all integers) or taken as they are (all integers in [0, 255]); InputError otherwise.
template <class F>
bool needs_rescale(const F* v, int64_t n, const std::string& input_name) {
  bool allclose = true, in_0_255 = true, in_0_1 = true;  // np.allclose(image, image.astype(int))
  F lo = n ? v[0] : F(0), hi = lo;
  bool has_nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(v[i]);
    if (allclose) {
      const double b = numpy_astype_int(x);
      allclose = std::isfinite(x) && std::fabs(x - b) <= 1e-08 + 1e-05 * std::fabs(b);
    }
    in_0_255 = in_0_255 && x >= 0 && x <= 255;
    in_0_1 = in_0_1 && x >= 0 && x <= 1;
    if (std::isnan(x)) has_nan = true;
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  auto range_error = [&](const char* range) {
    const std::string l = has_nan ? "nan" : python_float_repr(static_cast<double>(lo));
    const std::string h = has_nan ? "nan" : python_float_repr(static_cast<double>(hi));
    return InputError(input_name + ": The image to be converted to a PIL image contains values "
                      "outside the range " + range + ", got [" + l + ", " + h +
                      "] which cannot be converted to uint8.");
  };
  if (allclose) {
    if (!in_0_255) throw range_error("[0, 255]");
    return false;
  }
  if (in_0_1) return true;
  throw range_error("[0, 1]");
}

template <class F>
Tensor to_uint8_impl(const Tensor& in, const std::string& input_name, bool* rescaled, BufferPool* pool) {
  const F* v = in.data<F>();
  const int64_t n = in.numel();
  const bool do_rescale = needs_rescale(v, n, input_name);
  if (rescaled) *rescaled = do_rescale;
  // to_pil_image: float32(float64(x) * 255) when rescaling, then astype(uint8) (truncation).
  Tensor u8 = Tensor::empty(DType::kUInt8, in.shape(), pool);
  uint8_t* d = u8.data<uint8_t>();
  if (do_rescale) {
    for (int64_t i = 0; i < n; ++i)
      d[i] = static_cast<uint8_t>(static_cast<float>(static_cast<double>(v[i]) * 255));
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(v[i]);
  }
  return u8;
}

Tensor resize_float_hf_impl(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                            const std::string& input_name, BufferPool* pool) {
  bool do_rescale = false;
  Tensor resized = resize_u8(to_pil_uint8(in, input_name, &do_rescale, pool), out_h, out_w, filter, pool);
  if (!do_rescale) return resized;
  // rescale(image, 1 / 255): float64 product, stored as float32.
  Tensor res = Tensor::empty(DType::kFloat32, resized.shape(), pool);
  const uint8_t* r = resized.data<uint8_t>();
  float* o = res.data<float>();
  const double scale = 1.0 / 255;
  for (int64_t i = 0; i < resized.numel(); ++i)
    o[i] = static_cast<float>(static_cast<double>(r[i]) * scale);
  return res;
}

}  // namespace

Tensor resize_float_hf(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                       const std::string& input_name, BufferPool* pool) {
  if (!in.defined() || in.ndim() != 3)
    throw InputError(input_name + ": resize expects an (H, W, C) array, got " +
                     (in.defined() ? shape_str(in.shape()) : std::string("an empty tensor")));
  if (in.dim(2) != 1 && in.dim(2) != 3)
    throw InputError(input_name + ": resize supports 1 or 3 channels, got shape " +
                     shape_str(in.shape()));
  switch (in.dtype()) {
    case DType::kUInt8: return resize_u8(in, out_h, out_w, filter, pool);
    case DType::kFloat32:
    case DType::kFloat64:
      return resize_float_hf_impl(in, out_h, out_w, filter, input_name, pool);
    default:
      throw InputError(input_name + ": resize expects a uint8, float32 or float64 array, got " +
                       dtype_name(in.dtype()));
  }
}

Tensor to_pil_uint8(const Tensor& in, const std::string& input_name, bool* rescaled, BufferPool* pool) {
  if (rescaled) *rescaled = false;
  switch (in.dtype()) {
    case DType::kUInt8: return in;
    case DType::kFloat32: return to_uint8_impl<float>(in, input_name, rescaled, pool);
    case DType::kFloat64: return to_uint8_impl<double>(in, input_name, rescaled, pool);
    default:
      throw InputError(input_name + ": resize expects a uint8, float32 or float64 array, got " +
                       dtype_name(in.dtype()));
  }
}

Resample pil_filter(int64_t channels, int64_t width, bool channels_first, Resample filter) {
  return (channels_first ? width == 1 : channels == 1) ? Resample::kNearest : filter;
}

void check_pil_mode(int64_t channels, int64_t width, bool channels_first, const std::string& input_name) {
  if (channels_first && width == 1 && channels > 1)
    throw InputError(input_name + ": Too many dimensions: 3 > 2. (transformers makes a channels-first image of width 1 "
                     "a mode P image: PIL.Image.fromarray refuses its " + std::to_string(channels) + " channels)");
}

// Pillow's Convert.c: rgbA2rgba (MULDIV255) and rgba2rgbA (255 * c / a clipped; alpha 0 and 255
// keep the colour).
void premultiply_alpha(Tensor& rgba) {
  uint8_t* p = rgba.data<uint8_t>();
  const int64_t n = rgba.numel() / 4;
  for (int64_t i = 0; i < n; ++i, p += 4) {
    const uint32_t a = p[3];
    for (int k = 0; k < 3; ++k) {
      const uint32_t t = p[k] * a + 128;
      p[k] = static_cast<uint8_t>(((t >> 8) + t) >> 8);
    }
  }
}

void unpremultiply_alpha(Tensor& rgba) {
  uint8_t* p = rgba.data<uint8_t>();
  const int64_t n = rgba.numel() / 4;
  for (int64_t i = 0; i < n; ++i, p += 4) {
    const uint32_t a = p[3];
    if (a == 0 || a == 255) continue;
    for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>(std::min<uint32_t>(255, 255 * uint32_t(p[k]) / a));
  }
}

Tensor resize_pil(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter, const std::string& input_name,
                  BufferPool* pool, bool channels_first) {
  if (!in.defined() || in.ndim() != 3)
    throw InputError(input_name + ": resize expects an (H, W, C) array, got " +
                     (in.defined() ? shape_str(in.shape()) : std::string("an empty tensor")));
  const int64_t c = in.dim(2);
  if (c != 1 && c != 3 && c != 4)
    throw InputError(input_name + ": resize supports 1, 3 or 4 channels, got shape " + shape_str(in.shape()));
  Tensor u8 = to_pil_uint8(in, input_name, nullptr, pool);
  check_pil_mode(c, in.dim(1), channels_first, input_name);
  const Resample f = pil_filter(c, in.dim(1), channels_first, filter);
  if (c != 4 || f == Resample::kNearest || (out_h == in.dim(0) && out_w == in.dim(1)))
    return resize_u8(u8, out_h, out_w, f, pool);
  Tensor pre = Tensor::empty(DType::kUInt8, u8.shape(), pool);
  std::memcpy(pre.raw_data(), u8.raw_data(), u8.nbytes());
  premultiply_alpha(pre);
  Tensor out = resize_u8(pre, out_h, out_w, f, pool);
  unpremultiply_alpha(out);
  return out;
}

}  // namespace pixelflow::ops
