// resize: public entry points, the Halide-backed 8-bit path and Hugging Face's float path.
//
// Host side of the 8-bit path: clip the window to the resized image (zeros elsewhere), compute
// Pillow's coefficients for the window's columns and rows only, lay them out for the kernels
// (taps zero-padded to the window's longest filter, starts moved inwards at the image borders),
// then run the horizontal pass over exactly the input rows the vertical pass needs and the
// vertical pass over the window's rows, skipping a pass where Pillow skips it.
#include "ops/resize/resize.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "graph/errors.h"
#include "graph/halide_runtime.h"
#include "ops/common/halide_util.h"
#include "ops/resize/resize_coeffs.h"
#include "resize_horizontal.h"
#include "resize_vertical.h"

namespace pixelflow::ops {

using namespace resize_detail;

const char* resample_name(Resample r) {
  switch (r) {
    case Resample::kNearest: return "NEAREST";
    case Resample::kLanczos: return "LANCZOS";
    case Resample::kBilinear: return "BILINEAR";
    case Resample::kBicubic: return "BICUBIC";
    case Resample::kBox: return "BOX";
    case Resample::kHamming: return "HAMMING";
  }
  return "?";
}

Resample resample_from_int(int64_t code, const std::string& key_path) {
  if (code < 0 || code > 5)
    throw ConfigError(key_path, "unknown resampling filter " + std::to_string(code) +
                                    " (valid: 0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, "
                                    "4 BOX, 5 HAMMING)");
  return static_cast<Resample>(code);
}

namespace {

// Padding the host guarantees the kernels (see halide_generators/resize): at least these
// multiples/extents, whatever the schedule knobs (rows_per_vector <= 16, column_block <= 16,
// interleave_width <= 64, vertical block <= 64 bytes).
constexpr int kRowMultiple = 16;   // horizontal pass: output rows
constexpr int kColMultiple = 16;   // horizontal pass: output columns
constexpr int kMinBytes = 64;      // any row a kernel vectorizes over

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// A growable byte buffer that never initializes (fresh pages are touched by their first real
// use only) and never shrinks.
class RawBuffer {
 public:
  uint8_t* get(size_t n) {
    if (n > cap_) {
      size_t c = std::max(n, cap_ + cap_ / 2);
      data_.reset(new uint8_t[c]);
      cap_ = c;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t cap_ = 0;
};

// Which coefficient tables a Scratch holds (they are reused while the geometry repeats, as it
// does for a batch of same-sized images).
struct AxisKey {
  int in_size = -1, out_size = -1, filter = -1, o0 = -1, o1 = -1, channels = -1;
  bool operator==(const AxisKey&) const = default;
};

// Per-thread scratch: coefficient tables and intermediate images, reused across calls.
struct Scratch {
  AxisCoeffs horiz, vert;
  AxisKey h_key, v_key;
  int h_taps = 0, v_taps = 0, nq_pad = 0;
  std::vector<int32_t> px_coeffs, px_starts;  // horizontal, per pixel
  std::vector<int32_t> h_coeffs, h_starts;    // horizontal, per byte column
  std::vector<int32_t> v_coeffs, v_starts, indices_x, indices_y;
  RawBuffer tmp, src_pad, out_pad;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// A 2-D uint8 halide buffer (p, y) over existing memory.
struct Buffer2D {
  halide_buffer_t buf{};
  halide_dimension_t dim[2];
  Buffer2D(const uint8_t* data, int width, int height, int row_stride, int row_min = 0) {
    dim[0] = {0, width, 1, 0};
    dim[1] = {row_min, height, row_stride, 0};
    buf.host = const_cast<uint8_t*>(data);
    buf.type = halide_type_of<uint8_t>();
    buf.dimensions = 2;
    buf.dim = dim;
  }
};

// A coefficient table (r, o) of int32 and its starts (o).
struct Table {
  halide_buffer_t coeffs{}, starts{};
  halide_dimension_t cdim[2], sdim[1];
  Table(std::vector<int32_t>& k, std::vector<int32_t>& s, int taps, int n) {
    cdim[0] = {0, taps, 1, 0};
    cdim[1] = {0, n, taps, 0};
    sdim[0] = {0, n, 1, 0};
    coeffs.host = reinterpret_cast<uint8_t*>(k.data());
    coeffs.type = halide_type_of<int32_t>();
    coeffs.dimensions = 2;
    coeffs.dim = cdim;
    starts.host = reinterpret_cast<uint8_t*>(s.data());
    starts.type = halide_type_of<int32_t>();
    starts.dimensions = 1;
    starts.dim = sdim;
  }
};

// Kernel layout of one axis' coefficients: `taps` (the longest filter of the range) per output,
// each filter placed so that start + taps <= in_size (moved inwards at the far border, with
// leading zeros). Returns taps.
int layout_axis(const AxisCoeffs& a, int in_size, std::vector<int32_t>& k,
                std::vector<int32_t>& start) {
  const int n = static_cast<int>(a.xmin.size());
  int taps = 1;
  for (int i = 0; i < n; ++i) taps = std::max(taps, a.count[i]);
  k.assign(static_cast<size_t>(n) * taps, 0);
  start.resize(n);
  for (int i = 0; i < n; ++i) {
    const int s = std::min(a.xmin[i], in_size - taps);
    const int shift = a.xmin[i] - s;
    start[i] = s;
    const int32_t* src = &a.k[static_cast<size_t>(i) * a.ksize];
    std::copy(src, src + a.count[i], &k[static_cast<size_t>(i) * taps + shift]);
  }
  return taps;
}

// Copies a (rows x bytes) block between row-strided memory.
void copy_rows(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride,
               int64_t rows, int64_t bytes) {
  for (int64_t y = 0; y < rows; ++y)
    std::memcpy(dst + y * dst_stride, src + y * src_stride, static_cast<size_t>(bytes));
}

// The part of the window inside the resized image, in output coordinates, and where it lands
// in the window.
struct Region {
  int ox0, ox1, oy0, oy1;  // output columns / rows
  int64_t wx, wy;          // offset inside the window
  bool empty() const { return ox0 >= ox1 || oy0 >= oy1; }
};

Region clip_window(const Window& w, int64_t out_h, int64_t out_w) {
  Region r{};
  // Computed in a way that cannot overflow for any int64 window.
  auto clip = [](int64_t start, int64_t len, int64_t size, int& lo, int& hi) {
    int64_t a = std::clamp<int64_t>(start, 0, size);
    int64_t b = start > size ? size : (len > size - start ? size : start + len);
    b = std::clamp<int64_t>(b, 0, size);
    lo = static_cast<int>(a);
    hi = static_cast<int>(std::max(a, b));
  };
  clip(w.x0, w.width, out_w, r.ox0, r.ox1);
  clip(w.y0, w.height, out_h, r.oy0, r.oy1);
  r.wx = r.ox0 - w.x0;
  r.wy = r.oy0 - w.y0;
  return r;
}

// Zeroes every window pixel outside the region.
void zero_outside(const Region& r, const Window& w, int c, uint8_t* out) {
  const int64_t row = w.width * c;
  if (r.empty()) {
    std::memset(out, 0, static_cast<size_t>(row * w.height));
    return;
  }
  const int64_t rows_in = r.oy1 - r.oy0, cols_in = r.ox1 - r.ox0;
  std::memset(out, 0, static_cast<size_t>(r.wy * row));
  const int64_t below = w.height - r.wy - rows_in;
  std::memset(out + (r.wy + rows_in) * row, 0, static_cast<size_t>(below * row));
  const int64_t left = r.wx * c, right = (w.width - r.wx - cols_in) * c;
  if (left == 0 && right == 0) return;
  for (int64_t y = r.wy; y < r.wy + rows_in; ++y) {
    std::memset(out + y * row, 0, static_cast<size_t>(left));
    std::memset(out + y * row + left + cols_in * c, 0, static_cast<size_t>(right));
  }
}

void run_nearest(const uint8_t* in, int h, int w, int c, int out_h, int out_w, const Region& r,
                 uint8_t* dst, int64_t dst_stride, Scratch& s) {
  nearest_indices(w, out_w, r.ox0, r.ox1, s.indices_x);
  nearest_indices(h, out_h, r.oy0, r.oy1, s.indices_y);
  const int cols = r.ox1 - r.ox0;
  for (int y = 0; y < r.oy1 - r.oy0; ++y) {
    uint8_t* d = dst + y * dst_stride;
    const int sy = s.indices_y[y];
    if (sy < 0) {
      std::memset(d, 0, static_cast<size_t>(cols) * c);
      continue;
    }
    const uint8_t* row = in + static_cast<int64_t>(sy) * w * c;
    for (int x = 0; x < cols; ++x) {
      const int sx = s.indices_x[x];
      for (int ch = 0; ch < c; ++ch) d[x * c + ch] = sx < 0 ? 0 : row[sx * c + ch];
    }
  }
}

// Pillow's two-pass resampling of the region into dst (row stride dst_stride).
void run_resample(const uint8_t* in, int h, int w, int c, int out_h, int out_w, int filter,
                  const Region& r, uint8_t* dst, int64_t dst_stride, Scratch& s) {
  install_halide_runtime_hooks();
  // The kernels index with int32: every buffer they see must stay below 2 GiB.
  const int64_t limit = int64_t(1) << 31;
  if (static_cast<int64_t>(h) * w * c >= limit ||
      static_cast<int64_t>(r.ox1 - r.ox0) * c * (h + kRowMultiple) >= limit ||
      static_cast<int64_t>(r.ox1 - r.ox0) * c * (r.oy1 - r.oy0) >= limit || dst_stride >= limit)
    throw InputError("resize: image too large for the resize kernels (2 GiB per buffer at most)");
  const bool need_horizontal = out_w != w;
  const bool need_vertical = out_h != h;
  const int cols = r.ox1 - r.ox0, out_rows = r.oy1 - r.oy0;
  const int nq = cols * c;  // bytes per output row of the region

  // Input rows the horizontal pass produces: those the vertical pass reads, or the region's rows.
  int ry0 = r.oy0, ry1 = r.oy1;
  if (need_vertical) {
    const AxisKey key{h, out_h, filter, r.oy0, r.oy1, 1};
    if (!(s.v_key == key)) {
      s.v_key = AxisKey{};
      precompute_coeffs_8bpc(h, out_h, filter, r.oy0, r.oy1, s.vert);
      s.v_taps = layout_axis(s.vert, h, s.v_coeffs, s.v_starts);
      s.v_key = key;
    }
    ry0 = s.v_starts.front();
    ry1 = s.v_starts.back() + s.v_taps;
  }
  const int v_taps = s.v_taps;
  const int src_rows = ry1 - ry0;

  // Source of the vertical pass (or the final result when there is none).
  const uint8_t* src = nullptr;
  int64_t src_stride = 0;
  int src_width = nq;  // columns the vertical pass may read, >= kMinBytes where it runs
  if (need_horizontal) {
    const AxisKey key{w, out_w, filter, r.ox0, r.ox1, c};
    if (!(s.h_key == key)) {
      s.h_key = AxisKey{};
      precompute_coeffs_8bpc(w, out_w, filter, r.ox0, r.ox1, s.horiz);
      const int taps = layout_axis(s.horiz, w, s.px_coeffs, s.px_starts);
      // Per-channel expansion: output column q = x * c + ch; padded columns get zero taps.
      const int nq_pad =
          static_cast<int>(std::max<int64_t>(round_up(nq, kColMultiple), kMinBytes));
      s.h_coeffs.assign(static_cast<size_t>(nq_pad) * taps, 0);
      s.h_starts.resize(nq_pad);
      for (int x = 0; x < cols; ++x)
        for (int ch = 0; ch < c; ++ch) {
          const int q = x * c + ch;
          s.h_starts[q] = s.px_starts[x] * c + ch;
          std::copy(&s.px_coeffs[static_cast<size_t>(x) * taps],
                    &s.px_coeffs[static_cast<size_t>(x + 1) * taps],
                    &s.h_coeffs[static_cast<size_t>(q) * taps]);
        }
      for (int q = nq; q < nq_pad; ++q) s.h_starts[q] = s.h_starts[nq - 1];
      s.h_taps = taps;
      s.nq_pad = nq_pad;
      s.h_key = key;
    }
    const int h_taps = s.h_taps, nq_pad = s.nq_pad;
    const std::vector<int32_t>& px_start = s.px_starts;

    // The input as (p, y); rows shorter than kMinBytes are copied into a padded buffer.
    const uint8_t* h_in = in;
    int row_bytes = w * c;
    int in_rows = h, row_offset = ry0;
    if (row_bytes < kMinBytes) {
      uint8_t* pad = s.src_pad.get(static_cast<size_t>(kMinBytes) * src_rows);
      for (int y = 0; y < src_rows; ++y) {
        std::memcpy(pad + static_cast<int64_t>(y) * kMinBytes, in + static_cast<int64_t>(y + ry0) * row_bytes,
                    row_bytes);
        std::memset(pad + static_cast<int64_t>(y) * kMinBytes + row_bytes, 0, kMinBytes - row_bytes);
      }
      h_in = pad;
      row_bytes = kMinBytes;
      in_rows = src_rows;
      row_offset = 0;
    }
    int p_min = s.h_starts[0], p_max = px_start[cols - 1] * c + (h_taps - 1) * c + c - 1;
    if (p_max - p_min + 1 < kMinBytes) {
      p_max = std::min(row_bytes - 1, p_min + kMinBytes - 1);
      p_min = std::max(0, p_max - kMinBytes + 1);
    }

    const int rows_pad = static_cast<int>(round_up(src_rows, kRowMultiple));
    uint8_t* tmp = s.tmp.get(static_cast<size_t>(nq_pad) * rows_pad);
    Buffer2D in_buf(h_in, row_bytes, in_rows, row_bytes);
    Buffer2D tmp_buf(tmp, nq_pad, rows_pad, nq_pad);  // row y = input row y + ry0
    Table table(s.h_coeffs, s.h_starts, h_taps, nq_pad);
    check_kernel(resize_horizontal(&in_buf.buf, &table.coeffs, &table.starts, h_taps, c, p_min,
                                   p_max, row_offset, &tmp_buf.buf),
                 "resize_horizontal");
    src = tmp;
    src_stride = nq_pad;
    src_width = nq_pad;
  } else {
    src = in + static_cast<int64_t>(r.ox0) * c;
    src_stride = static_cast<int64_t>(w) * c;
    src_width = static_cast<int>(src_stride - static_cast<int64_t>(r.ox0) * c);
    if (need_vertical && src_width < kMinBytes) {
      // Narrow source: copy the rows the vertical pass reads into a padded buffer.
      uint8_t* pad = s.src_pad.get(static_cast<size_t>(kMinBytes) * src_rows);
      for (int y = 0; y < src_rows; ++y) {
        std::memcpy(pad + static_cast<int64_t>(y) * kMinBytes, src + static_cast<int64_t>(y + ry0) * src_stride,
                    nq);
        std::memset(pad + static_cast<int64_t>(y) * kMinBytes + nq, 0, kMinBytes - nq);
      }
      src = pad;
      src_stride = kMinBytes;
      src_width = kMinBytes;
    } else {
      src += static_cast<int64_t>(ry0) * src_stride;
    }
  }

  if (!need_vertical) {
    copy_rows(src, src_stride, dst, dst_stride, out_rows, nq);
    return;
  }

  // Vertical pass, straight into dst when the region is wide enough.
  const bool direct = nq >= kMinBytes;
  const int v_width = direct ? nq : kMinBytes;
  uint8_t* v_dst = direct ? dst : s.out_pad.get(static_cast<size_t>(kMinBytes) * out_rows);
  const int64_t v_stride = direct ? dst_stride : kMinBytes;
  // src holds input rows [ry0, ry1): the vertical starts are input rows.
  Buffer2D src_buf(src, std::min(src_width, static_cast<int>(src_stride)), src_rows,
                   static_cast<int>(src_stride), ry0);
  Buffer2D out_buf(v_dst, v_width, out_rows, static_cast<int>(v_stride));
  Table table(s.v_coeffs, s.v_starts, v_taps, out_rows);
  check_kernel(resize_vertical(&src_buf.buf, &table.coeffs, &table.starts, v_taps, &out_buf.buf),
               "resize_vertical");
  if (!direct) copy_rows(v_dst, v_stride, dst, dst_stride, out_rows, nq);
}

}  // namespace

void resize_u8(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
               const Window& window, Tensor& out) {
  check_resize_args(in, out_h, out_w, filter, window, out, "resize");
  const int h = static_cast<int>(in.dim(0)), w = static_cast<int>(in.dim(1));
  const int c = static_cast<int>(in.dim(2));
  const uint8_t* src = in.data<uint8_t>();
  uint8_t* dst_base = out.data<uint8_t>();
  const Region r = clip_window(window, out_h, out_w);
  zero_outside(r, window, c, dst_base);
  if (r.empty()) return;
  const int64_t dst_stride = window.width * c;
  uint8_t* dst = dst_base + r.wy * dst_stride + r.wx * c;

  if (out_h == h && out_w == w) {  // Image.resize returns a copy
    copy_rows(src + (static_cast<int64_t>(r.oy0) * w + r.ox0) * c, static_cast<int64_t>(w) * c, dst,
              dst_stride, r.oy1 - r.oy0, static_cast<int64_t>(r.ox1 - r.ox0) * c);
  } else if (filter == Resample::kNearest) {
    run_nearest(src, h, w, c, static_cast<int>(out_h), static_cast<int>(out_w), r, dst, dst_stride,
                scratch());
  } else {
    run_resample(src, h, w, c, static_cast<int>(out_h), static_cast<int>(out_w),
                 static_cast<int>(filter), r, dst, dst_stride, scratch());
  }
}

Tensor resize_u8(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                 BufferPool* pool) {
  const int64_t c = in.defined() && in.ndim() == 3 ? in.dim(2) : 0;
  Tensor out = Tensor::empty(
      DType::kUInt8, {std::max<int64_t>(out_h, 0), std::max<int64_t>(out_w, 0), c}, pool);
  resize_u8(in, out_h, out_w, filter, Window::full(out_h, out_w), out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hugging Face's float path

namespace {

// Python's repr of a double: the shortest round-trip digits, positional for exponents in
// [-4, 16), scientific otherwise. (Hugging Face's f-string formats NumPy's float32 scalars through
// Python floats too, so a float32 prints as its double value.)
std::string py_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  const int exp10 = std::stoi(sci.substr(e + 1));
  const bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char ch : mant)
    if (ch != '.') digits += ch;
  std::string out = neg ? "-" : "";
  if (exp10 >= -4 && exp10 < 16) {
    if (exp10 < 0) {
      out += "0." + std::string(-exp10 - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp10 + 1) {
      out += digits + std::string(exp10 + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, exp10 + 1) + "." + digits.substr(exp10 + 1);
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += eb;
  }
  return out;
}

// NumPy's float -> int64 conversion (astype(int)) on x86-64: out-of-range and NaN give INT64_MIN.
double numpy_astype_int(double x) {
  if (!(x > -9223372036854775808.0 && x < 9223372036854775808.0))
    return -9223372036854775808.0;
  return static_cast<double>(static_cast<int64_t>(x));
}

template <class F>
Tensor resize_float_hf_impl(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                            const std::string& input_name, BufferPool* pool) {
  const F* v = in.data<F>();
  const int64_t n = in.numel();
  // _rescale_for_pil_conversion: np.allclose(image, image.astype(int)), then range checks.
  bool allclose = true, in_0_255 = true, in_0_1 = true;
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
    const std::string l = has_nan ? "nan" : py_float_repr(static_cast<double>(lo));
    const std::string h = has_nan ? "nan" : py_float_repr(static_cast<double>(hi));
    return InputError(input_name + ": The image to be converted to a PIL image contains values "
                      "outside the range " + range + ", got [" + l + ", " + h +
                      "] which cannot be converted to uint8.");
  };
  bool do_rescale;
  if (allclose) {
    if (!in_0_255) throw range_error("[0, 255]");
    do_rescale = false;
  } else if (in_0_1) {
    do_rescale = true;
  } else {
    throw range_error("[0, 1]");
  }

  // to_pil_image: float32(float64(x) * 255) when rescaling, then astype(uint8) (truncation).
  Tensor u8 = Tensor::empty(DType::kUInt8, in.shape(), pool);
  uint8_t* d = u8.data<uint8_t>();
  if (do_rescale) {
    for (int64_t i = 0; i < n; ++i)
      d[i] = static_cast<uint8_t>(static_cast<float>(static_cast<double>(v[i]) * 255));
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(v[i]);
  }
  Tensor resized = resize_u8(u8, out_h, out_w, filter, pool);
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
      return resize_float_hf_impl<float>(in, out_h, out_w, filter, input_name, pool);
    case DType::kFloat64:
      return resize_float_hf_impl<double>(in, out_h, out_w, filter, input_name, pool);
    default:
      throw InputError(input_name + ": resize expects a uint8, float32 or float64 array, got " +
                       dtype_name(in.dtype()));
  }
}

}  // namespace pixelflow::ops
