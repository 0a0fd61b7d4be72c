// Pillow's resampling geometry (see resize_coeffs.h). Every expression keeps Pillow's operand
// order and types: the coefficients must come out bit-identical.
#include "ops/resize/resize_coeffs.h"

#include <algorithm>
#include <cassert>
#include <climits>
#include <cmath>
#include <string>

#include "base/errors.h"

namespace pixelflow::ops::resize_detail {

namespace {

constexpr double kPi = 3.14159265358979323846;  // M_PI

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

double hamming_filter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * kPi;
  // Pillow writes the window's constants as float literals (0.54f, 0.46f): they enter the
  // double expression with their float values.
  return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc_filter(double x) {
  if (x == 0.0) return 1.0;
  x = x * kPi;
  return std::sin(x) / x;
}

double lanczos_filter(double x) {
  if (-3.0 <= x && x < 3.0) return sinc_filter(x) * sinc_filter(x / 3);
  return 0.0;
}

const Kernel kKernels[6] = {
    {nullptr, 0.0},          // 0 NEAREST: no convolution kernel
    {lanczos_filter, 3.0},   // 1 LANCZOS
    {bilinear_filter, 1.0},  // 2 BILINEAR
    {bicubic_filter, 2.0},   // 3 BICUBIC
    {box_filter, 0.5},       // 4 BOX
    {hamming_filter, 1.0},   // 5 HAMMING
};

// Pillow's scale: (double)(in1 - in0) / outSize with a float box (0, in_size).
double axis_scale(int in_size, int out_size) {
  float in0 = 0.0f, in1 = static_cast<float>(in_size);
  return static_cast<double>(in1 - in0) / out_size;
}

}  // namespace

const Kernel& kernel_for(int filter) {
  assert(filter >= 1 && filter <= 5);
  return kKernels[filter];
}

void precompute_coeffs_8bpc(int in_size, int out_size, int filter, int o0, int o1,
                            AxisCoeffs& out) {
  assert(in_size >= 1 && out_size >= 1 && 0 <= o0 && o0 <= o1 && o1 <= out_size);
  const Kernel& kernel = kernel_for(filter);
  const double in0 = static_cast<double>(0.0f);
  const double scale = axis_scale(in_size, out_size);
  double filterscale = scale;
  if (filterscale < 1.0) filterscale = 1.0;
  const double support = kernel.support * filterscale;
  const int ksize = static_cast<int>(std::ceil(support)) * 2 + 1;

  const int n = o1 - o0;
  out.ksize = ksize;
  out.xmin.resize(n);
  out.count.resize(n);
  out.k.assign(static_cast<size_t>(n) * ksize, 0);
  std::vector<double> w(ksize);
  for (int i = 0; i < n; ++i) {
    const int xx = o0 + i;
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    double ww = 0.0;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      double v = kernel.fn((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) w[x] /= ww;
    }
    int32_t* k = &out.k[static_cast<size_t>(i) * ksize];
    for (int x = 0; x < xmax; ++x) {
      // normalize_coeffs_8bpc: round half away from zero by truncating +-0.5.
      if (w[x] < 0) {
        k[x] = static_cast<int32_t>(-0.5 + w[x] * (1 << kPrecisionBits));
      } else {
        k[x] = static_cast<int32_t>(0.5 + w[x] * (1 << kPrecisionBits));
      }
    }
    out.xmin[i] = xmin;
    out.count[i] = xmax;
  }
}

void nearest_indices(int in_size, int out_size, int o0, int o1, std::vector<int32_t>& out) {
  assert(in_size >= 1 && out_size >= 1 && 0 <= o0 && o0 <= o1 && o1 <= out_size);
  // _imaging.c: a = (double)(box1 - box0) / size (float box), origin box0 + a * 0.5, then
  // Geometry.c's ImagingScaleAffine adds `a` once per output position (no multiplication).
  float box0 = 0.0f, box1 = static_cast<float>(in_size);
  const double a = static_cast<double>(box1 - box0) / out_size;
  double pos = static_cast<double>(box0) + a * 0.5;
  out.resize(o1 - o0);
  for (int x = 0; x < o1; ++x) {
    if (x >= o0) {
      int idx = pos < 0.0 ? -1 : static_cast<int>(pos);  // COORD()
      out[x - o0] = (idx >= 0 && idx < in_size) ? idx : -1;
    }
    pos += a;
  }
}

void check_resize_args(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                       const Rect& window, const Tensor& out, const char* who) {
  const std::string op = who;
  const int code = static_cast<int>(filter);
  if (code < 0 || code > 5)
    throw InputError(op + ": unknown resample filter " + std::to_string(code) +
                     " (valid: 0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING)");
  if (!in.defined() || in.dtype() != DType::kUInt8 || in.ndim() != 3)
    throw InputError(op + ": input must be an (H, W, C) uint8 array, got " +
                     (in.defined() ? std::string(dtype_name(in.dtype())) + " " +
                                         shape_str(in.shape())
                                   : std::string("an empty tensor")));
  const int64_t h = in.dim(0), w = in.dim(1), c = in.dim(2);
  if (c != 1 && c != 3 && c != 4)
    throw InputError(op + ": input must have 1, 3 or 4 channels, got shape " +
                     shape_str(in.shape()));
  if (h < 1 || w < 1 || h > INT_MAX || w > INT_MAX)
    throw InputError(op + ": input size " + std::to_string(w) + "x" + std::to_string(h) +
                     " is out of range");
  if (out_h < 1 || out_w < 1)
    throw InputError(op + ": height and width must be > 0, got " + std::to_string(out_w) + "x" +
                     std::to_string(out_h));
  if (out_h > INT_MAX || out_w > INT_MAX)
    throw InputError(op + ": output size " + std::to_string(out_w) + "x" + std::to_string(out_h) +
                     " is out of range");
  if (code != 0) {
    // Pillow refuses (MemoryError) when an axis' coefficient table would exceed INT_MAX bytes.
    auto table_bytes = [&](int64_t in_size, int64_t out_size) {
      double filterscale = std::max(1.0, static_cast<double>(in_size) / out_size);
      double ksize = std::ceil(kernel_for(code).support * filterscale) * 2 + 1;
      return static_cast<double>(out_size) * ksize * 8;
    };
    if (table_bytes(w, out_w) > INT_MAX || table_bytes(h, out_h) > INT_MAX)
      throw InputError(op + ": resizing " + std::to_string(w) + "x" + std::to_string(h) +
                       " to " + std::to_string(out_w) + "x" + std::to_string(out_h) +
                       " needs too many filter coefficients");
  }
  if (window.width < 0 || window.height < 0)
    throw InputError(op + ": window size must be >= 0, got " + std::to_string(window.width) +
                     "x" + std::to_string(window.height));
  const Shape want{window.height, window.width, c};
  if (!out.defined() || out.dtype() != DType::kUInt8 || out.shape() != want)
    throw InputError(op + ": output must be a uint8 array of shape " + shape_str(want) +
                     ", got " +
                     (out.defined() ? std::string(dtype_name(out.dtype())) + " " +
                                          shape_str(out.shape())
                                    : std::string("an empty tensor")));
}

}  // namespace pixelflow::ops::resize_detail
