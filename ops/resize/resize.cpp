// resize: public entry points, the Halide-backed 8-bit path and Hugging Face's float path.
//
// Host side of the 8-bit path: clip the window to the resized image (zeros elsewhere), compute
// Pillow's coefficients for the window's columns and rows only, lay them out for the kernels
// (taps zero-padded to the window's longest filter, starts moved inwards at the image borders),
// then run the horizontal pass over exactly the input rows the vertical pass needs and the
// vertical pass over the window's rows, skipping a pass where Pillow skips it.
//
// ResizeStream runs the same passes with the same tables (plan_passes, horizontal_pass,
// vertical_pass): the horizontal pass once per strip of input rows, on a strip buffer holding
// only the columns the producer decoded (the kernel's x0 is made relative to them and its
// clamped reads stay inside them), into the same intermediate rows.
#include "ops/resize/resize.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "base/errors.h"
#include "graph/halide_runtime.h"
#include "ops/common/halide_util.h"
#include "ops/resize/resize_coeffs.h"
#include "ops/resize/resize_kernels.h"

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

using resize_kernels::dot_product_allowed;
using resize_kernels::horizontal_kernel;
using resize_kernels::vertical_kernel;

// What the host guarantees the kernels (see halide_generators/resize), whatever their schedule
// knobs (rows_per_block <= 16 dividing 16, column_block <= 16, tile_vector <= 64, vertical
// block <= 64 bytes).
constexpr int kRowMultiple = 16;  // horizontal pass: output rows
constexpr int kColMultiple = 16;  // horizontal pass: output columns (bytes)
constexpr int kMinTile = 16;      // horizontal pass: tile pixels
constexpr int kMinBytes = 64;     // vertical pass: bytes per row
// Streaming: input rows per strip of the horizontal pass, a multiple of kRowMultiple. 32 rows
// of a 640-pixel RGB image are 60 KB: the strip stays in L2 between the decoder writing it and
// the kernel reading it.
constexpr int kStripRows = 32;
static_assert(kStripRows % kRowMultiple == 0);
// Streaming: strip rows start 8 bytes past a 64-byte boundary. libjpeg-turbo's SIMD colour
// conversion (jdcolext-sse2/avx2) writes a row whose start is 16- or 32-byte aligned with
// non-temporal stores, which send it to memory past the caches: the horizontal pass would then
// read every decoded row back from DRAM (measured: 8 % of W3's throughput). Misaligned rows are
// written through the cache, where the kernel finds them.
constexpr int kStripSkew = 8;

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

// Which geometry an axis' tables were made for (they are reused while it repeats, as it does for
// a batch of same-sized images).
struct AxisKey {
  int in_size = -1, out_size = -1, filter = -1, o0 = -1, o1 = -1, outputs = -1;
  bool operator==(const AxisKey&) const = default;
};

// The kernel tables of one axis (see halide_generators/resize): for every output, `taps` int32
// coefficients from input index start (windows moved inwards at the far border, with leading
// zeros). For the horizontal pass (`digits`), also the same coefficients as byte
// digits in `groups` groups of 4 taps from start4, a multiple of 4
// (digits[(o * groups + g) * 12 + 4 * d + e] is digit d of tap 4 g + e); these windows may end
// past the axis (the kernel clamps those reads; their coefficients are zero).
struct AxisTables {
  AxisKey key;
  bool digits = false;
  AxisCoeffs pillow;
  int taps = 0, groups = 0;
  bool digits_ok = false;  // every coefficient has a byte split
  std::vector<int32_t> coeffs, starts, starts4;
  std::vector<int8_t> digit_table;
  int first = 0, last = 0;  // input indexes read: [first, last)
};

// Splits k into balanced bytes, k = d0 + 2^8 d1 + 2^16 d2 with every d in [-128, 127]; false when
// k is out of that range.
bool byte_digits(int32_t k, int8_t d[3]) {
  int64_t v = k;
  for (int i = 0; i < 2; ++i) {
    const int64_t lo = ((v + 128) & 255) - 128;
    d[i] = static_cast<int8_t>(lo);
    v = (v - lo) / 256;
  }
  if (v < -128 || v > 127) return false;
  d[2] = static_cast<int8_t>(v);
  return true;
}

int floor4(int v) { return v >= 0 ? v / 4 * 4 : -((-v + 3) / 4 * 4); }

// Pillow's coefficients of outputs [o0, o1) laid out for the kernels, for `outputs` >= o1 - o0
// outputs (the extra ones have zero coefficients and read where the last real one does).
void make_tables(int in_size, int out_size, int filter, int o0, int o1, int outputs,
                 bool digits, AxisTables& t) {
  const AxisKey key{in_size, out_size, filter, o0, o1, outputs};
  if (t.key == key && t.digits == digits) return;
  t.key = AxisKey{};
  t.digits = digits;
  precompute_coeffs_8bpc(in_size, out_size, filter, o0, o1, t.pillow);
  const AxisCoeffs& a = t.pillow;
  const int n = o1 - o0;
  int taps = 1, groups = 0;
  for (int i = 0; i < n; ++i) {
    taps = std::max(taps, a.count[i]);
    if (digits) groups = std::max(groups, (a.xmin[i] - floor4(a.xmin[i]) + a.count[i] + 3) / 4);
  }
  t.taps = taps;
  t.groups = groups;
  t.coeffs.assign(static_cast<size_t>(outputs) * taps, 0);
  t.starts.assign(outputs, 0);
  t.starts4.assign(outputs, 0);
  t.digit_table.assign(static_cast<size_t>(outputs) * groups * 12, 0);
  t.digits_ok = true;
  t.first = INT32_MAX;
  t.last = 0;
  for (int i = 0; i < n; ++i) {
    const int32_t* k = &a.k[static_cast<size_t>(i) * a.ksize];
    // A window longer than the axis (a padded tap) starts at 0 and reads past its end.
    const int s = std::max(0, std::min(a.xmin[i], in_size - taps));
    std::copy(k, k + a.count[i], &t.coeffs[static_cast<size_t>(i) * taps + (a.xmin[i] - s)]);
    t.starts[i] = s;
    t.first = std::min(t.first, s);
    t.last = std::max(t.last, s + taps);
    if (!digits) continue;
    const int s4 = floor4(a.xmin[i]);
    t.starts4[i] = s4;
    int8_t* dg = t.digit_table.data() + static_cast<size_t>(i) * groups * 12;
    for (int r = 0; r < a.count[i]; ++r) {
      const int tap = a.xmin[i] - s4 + r;
      int8_t d[3] = {0, 0, 0};
      if (!byte_digits(k[r], d)) t.digits_ok = false;
      for (int dd = 0; dd < 3; ++dd) dg[(tap / 4) * 12 + 4 * dd + tap % 4] = d[dd];
    }
    t.first = std::min(t.first, s4);
    t.last = std::max(t.last, s4 + 4 * groups);
  }
  // Padded outputs read where the last real one does.
  for (int i = n; i < outputs; ++i) {
    t.starts[i] = t.starts[n - 1];
    t.starts4[i] = t.starts4[n - 1];
  }
  t.key = key;
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

// The tables a kernel gets: an axis' tables expanded to `outputs` kernel outputs (output o is
// pixel o / channels of channel o % channels), with the starts relative to input index `origin`:
// int32 starts in bytes of the kernel's input (taps step `channels`), digit starts in groups of
// `group_width` indexes times `channels` plus the channel (see the horizontal generator's tile4;
// group_width = channels = 1 for the vertical pass, where start4 is a row).
struct KernelTables {
  struct Key {
    const AxisTables* axis = nullptr;
    AxisKey key;
    int origin = 0, channels = 0, outputs = 0, group_width = 0;
    bool operator==(const Key&) const = default;
  } key;
  std::vector<int32_t> coeffs, starts, starts4;
  std::vector<int8_t> digits;
  int taps = 0, groups = 0;
  halide_buffer_t coeffs_buf{}, starts_buf{}, digits_buf{}, starts4_buf{};
  halide_dimension_t cdim[2], sdim[1], ddim[3], s4dim[1];

  void make(const AxisTables& t, int origin, int channels, int outputs, int group_width) {
    const Key k{&t, t.key, origin, channels, outputs, group_width};
    if (key == k) return;
    key = Key{};
    taps = t.taps;
    groups = t.groups;
    const int pixels = static_cast<int>(t.starts.size());
    coeffs.resize(static_cast<size_t>(outputs) * taps);
    starts.resize(outputs);
    starts4.resize(outputs);
    digits.resize(static_cast<size_t>(outputs) * groups * 12);
    for (int o = 0; o < outputs; ++o) {
      const int x = std::min(o / channels, pixels - 1), ch = o % channels;
      // Pointer arithmetic, not operator[]: the digit tables are empty when groups == 0.
      std::copy_n(t.coeffs.data() + static_cast<size_t>(x) * taps, taps, coeffs.data() + static_cast<size_t>(o) * taps);
      std::copy_n(t.digit_table.data() + static_cast<size_t>(x) * groups * 12, groups * 12,
                  digits.data() + static_cast<size_t>(o) * groups * 12);
      starts[o] = (t.starts[x] - origin) * channels + ch;
      starts4[o] = group_width == 1 ? t.starts4[x] - origin
                                    : (t.starts4[x] - origin) / group_width * 4 + ch;
    }
    cdim[0] = {0, taps, 1, 0};
    cdim[1] = {0, outputs, taps, 0};
    sdim[0] = {0, outputs, 1, 0};
    ddim[0] = {0, 12, 1, 0};
    ddim[1] = {0, groups, 12, 0};
    ddim[2] = {0, outputs, 12 * groups, 0};
    s4dim[0] = {0, outputs, 1, 0};
    init(coeffs_buf, coeffs.data(), halide_type_of<int32_t>(), 2, cdim);
    init(starts_buf, starts.data(), halide_type_of<int32_t>(), 1, sdim);
    init(digits_buf, digits.data(), halide_type_of<int8_t>(), 3, ddim);
    init(starts4_buf, starts4.data(), halide_type_of<int32_t>(), 1, s4dim);
    key = k;
  }
  static void init(halide_buffer_t& b, void* host, halide_type_t type, int dims,
                   halide_dimension_t* dim) {
    b = halide_buffer_t{};
    b.host = static_cast<uint8_t*>(host);
    b.type = type;
    b.dimensions = dims;
    b.dim = dim;
  }
};

// Per-thread scratch: kernel tables and intermediate images, reused across calls.
struct Scratch {
  AxisTables horiz, vert;
  KernelTables horiz_k, vert_k;
  std::vector<int32_t> indices_x, indices_y;
  RawBuffer tmp, src_pad, out_pad;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Copies a (rows x bytes) block between row-strided memory.
void copy_rows(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride,
               int64_t rows, int64_t bytes) {
  for (int64_t y = 0; y < rows; ++y)
    std::memcpy(dst + y * dst_stride, src + y * src_stride, static_cast<size_t>(bytes));
}

// Copies `rows` rows of `bytes` bytes into a buffer of `rows_pad` rows of `stride` bytes, the
// rest zero.
uint8_t* padded_copy(RawBuffer& buf, const uint8_t* src, int64_t src_stride, int64_t rows,
                     int64_t bytes, int64_t rows_pad, int64_t stride) {
  uint8_t* dst = buf.get(static_cast<size_t>(rows_pad * stride));
  for (int64_t y = 0; y < rows_pad; ++y) {
    uint8_t* d = dst + y * stride;
    if (y < rows) {
      std::memcpy(d, src + y * src_stride, static_cast<size_t>(bytes));
      std::memset(d + bytes, 0, static_cast<size_t>(stride - bytes));
    } else {
      std::memset(d, 0, static_cast<size_t>(stride));
    }
  }
  return dst;
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

// What Pillow's two passes compute for a region, and the kernels' layout of it.
struct Passes {
  int h = 0, w = 0, c = 0;
  bool horizontal = false, vertical = false;  // a pass is skipped where its axis keeps its size
  int out_rows = 0;                           // rows of the region
  int64_t nq = 0;                             // bytes per output row of the region
  int ry0 = 0, ry1 = 0;  // input rows the horizontal pass produces (those the vertical reads)
  // Horizontal pass: output row bytes padded for the q blocks and the vertical pass's vectors,
  // its tile (pixels [x0, x0 + tile_width), x0 a multiple of 4: the digit groups are aligned to
  // it; the kernel reads pixels past the input's end as its last byte), rows padded to 16.
  int nq_pad = 0, x0 = 0, tile_width = 0, rows_pad = 0;
  bool use_digits = false;
  int src_rows() const { return ry1 - ry0; }
};

// The kernels index with int32: every buffer they see must stay below 2 GiB.
bool fits_kernels(int h, int w, int c, const Region& r, int ry0, int ry1) {
  const int64_t limit = int64_t(1) << 31;
  const int64_t nq = static_cast<int64_t>(r.ox1 - r.ox0) * c;
  return static_cast<int64_t>(h) * w * c < limit &&
         (nq + kColMultiple + kMinBytes) * (ry1 - ry0 + kRowMultiple) < limit &&
         nq * (r.oy1 - r.oy0) < limit;
}

// Pillow's coefficients for the region (into s.vert / s.horiz and the horizontal kernel tables)
// and the passes' geometry. Throws InputError where the kernels cannot take the sizes.
Passes plan_passes(int h, int w, int c, int out_h, int out_w, int filter, const Region& r, Scratch& s) {
  Passes p;
  p.h = h;
  p.w = w;
  p.c = c;
  p.horizontal = out_w != w;
  p.vertical = out_h != h;
  p.out_rows = r.oy1 - r.oy0;
  p.nq = static_cast<int64_t>(r.ox1 - r.ox0) * c;
  p.ry0 = r.oy0;
  p.ry1 = r.oy1;
  if (p.vertical) {
    make_tables(h, out_h, filter, r.oy0, r.oy1, p.out_rows, false, s.vert);
    p.ry0 = s.vert.first;
    p.ry1 = s.vert.last;
  }
  if (!fits_kernels(h, w, c, r, p.ry0, p.ry1))
    throw InputError("resize: image too large for the resize kernels (2 GiB per buffer at most)");
  if (p.horizontal) {
    p.nq_pad = static_cast<int>(std::max<int64_t>(round_up(p.nq, kColMultiple), kMinBytes));
    const int outputs = (p.nq_pad + c - 1) / c;  // pixel tables cover every padded column
    make_tables(w, out_w, filter, r.ox0, r.ox1, outputs, true, s.horiz);
    const AxisTables& t = s.horiz;
    p.x0 = floor4(t.first);
    p.tile_width = static_cast<int>(round_up(std::max(t.last - p.x0, kMinTile), 4));
    p.rows_pad = static_cast<int>(round_up(p.src_rows(), kRowMultiple));
    p.use_digits = dot_product_allowed() && t.digits_ok;
    s.horiz_k.make(t, p.x0, c, p.nq_pad, 4);
  }
  return p;
}

// The horizontal pass on input rows [y0, y0 + rows) into `tmp` (row y0 at tmp, nq_pad bytes per
// row, round_up(rows, 16) rows written). `in` holds those rows (`in_stride` apart, row y0 first),
// columns [in_x, in_x + in_width) of the input: every column a non-zero coefficient reads.
void horizontal_pass(const Passes& p, Scratch& s, const uint8_t* in, int in_x, int in_width,
                     int64_t in_stride, int y0, int rows, uint8_t* tmp) {
  Buffer2D in_buf(in, in_width * p.c, rows, static_cast<int>(in_stride), y0);
  Buffer2D tmp_buf(tmp, p.nq_pad, static_cast<int>(round_up(rows, kRowMultiple)), p.nq_pad);
  KernelTables& k = s.horiz_k;
  // The tile starts at input pixel x0; the kernel clamps its reads to the columns it is given
  // (those outside them have zero coefficients).
  check_kernel(horizontal_kernel()(&in_buf.buf, &k.coeffs_buf, &k.starts_buf, &k.digits_buf,
                                   &k.starts4_buf, s.horiz.taps, s.horiz.groups, p.use_digits, p.c,
                                   p.x0 - in_x, p.tile_width, y0, &tmp_buf.buf),
               "resize_horizontal");
}

// The vertical pass (or the copy that replaces it) from `src`, input rows [ry0, ry1) with
// src_width readable bytes per row, into dst (row stride dst_stride).
void vertical_pass(const Passes& p, Scratch& s, const uint8_t* src, int64_t src_stride, int src_width,
                   uint8_t* dst, int64_t dst_stride) {
  if (!p.vertical) {
    copy_rows(src, src_stride, dst, dst_stride, p.out_rows, p.nq);
    return;
  }
  // Straight into dst when the region is wide enough.
  const bool direct = p.nq >= kMinBytes;
  const int v_width = direct ? static_cast<int>(p.nq) : kMinBytes;
  uint8_t* v_dst = direct ? dst : s.out_pad.get(static_cast<size_t>(kMinBytes) * p.out_rows);
  const int64_t v_stride = direct ? dst_stride : kMinBytes;
  // src holds input rows [ry0, ry1): the vertical starts are input rows.
  Buffer2D src_buf(src, std::min(src_width, static_cast<int>(src_stride)), p.src_rows(),
                   static_cast<int>(src_stride), p.ry0);
  Buffer2D out_buf(v_dst, v_width, p.out_rows, static_cast<int>(v_stride));
  KernelTables& k = s.vert_k;
  k.make(s.vert, 0, 1, p.out_rows, 1);
  check_kernel(vertical_kernel()(&src_buf.buf, &k.coeffs_buf, &k.starts_buf, s.vert.taps, &out_buf.buf),
               "resize_vertical");
  if (!direct) copy_rows(v_dst, v_stride, dst, dst_stride, p.out_rows, p.nq);
}

// Pillow's two-pass resampling of the region into dst (row stride dst_stride).
void run_resample(const uint8_t* in, int h, int w, int c, int out_h, int out_w, int filter,
                  const Region& r, uint8_t* dst, int64_t dst_stride, Scratch& s) {
  install_halide_runtime_hooks();
  if (dst_stride >= (int64_t(1) << 31))
    throw InputError("resize: image too large for the resize kernels (2 GiB per buffer at most)");
  const Passes p = plan_passes(h, w, c, out_h, out_w, filter, r, s);
  const int64_t row_bytes = static_cast<int64_t>(w) * c;
  if (p.horizontal) {
    // Over exactly the rows the vertical pass reads, then the vertical pass.
    uint8_t* tmp = s.tmp.get(static_cast<size_t>(p.nq_pad) * p.rows_pad);
    horizontal_pass(p, s, in + p.ry0 * row_bytes, 0, w, row_bytes, p.ry0, p.src_rows(), tmp);
    vertical_pass(p, s, tmp, p.nq_pad, p.nq_pad, dst, dst_stride);
    return;
  }
  // No horizontal pass: the vertical one reads the input's columns of the region in place.
  const uint8_t* src = in + static_cast<int64_t>(r.ox0) * c + static_cast<int64_t>(p.ry0) * row_bytes;
  int64_t src_stride = row_bytes;
  int src_width = static_cast<int>(row_bytes - static_cast<int64_t>(r.ox0) * c);
  if (p.vertical && src_width < kMinBytes) {
    // Narrow source: copy the rows the vertical pass reads into a padded buffer.
    const int64_t stride = std::max<int64_t>(p.nq, kMinBytes);
    src = padded_copy(s.src_pad, src, src_stride, p.src_rows(), p.nq, p.src_rows(), stride);
    src_stride = stride;
    src_width = static_cast<int>(stride);
  }
  vertical_pass(p, s, src, src_stride, src_width, dst, dst_stride);
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
// Streaming

namespace {

// Scratch of the streams of a thread: separate from resize_u8's so that neither evicts the
// other's cached tables; a second stream alive on the same thread gets its own.
struct StreamScratch {
  Scratch s;
  RawBuffer strip;
  bool busy = false;
};

StreamScratch& stream_scratch() {
  thread_local StreamScratch s;
  return s;
}

// resize_u8's validation, on shapes only.
bool valid_resize(int64_t in_h, int64_t in_w, int64_t c, int64_t out_h, int64_t out_w, Resample filter,
                  const Window& window) {
  if (in_h < 1 || in_w < 1 || c < 1 || window.width < 0 || window.height < 0) return false;
  uint8_t byte = 0;  // never read: the check looks at shapes
  const Tensor in = Tensor::wrap(&byte, DType::kUInt8, {in_h, in_w, c}, nullptr);
  const Tensor out = Tensor::wrap(&byte, DType::kUInt8, {window.height, window.width, c}, nullptr);
  try {
    check_resize_args(in, out_h, out_w, filter, window, out, "resize");
  } catch (const Error&) {
    return false;
  }
  return true;
}

}  // namespace

struct ResizeStream::State {
  std::unique_ptr<StreamScratch> own;  // when the thread's scratch is taken
  StreamScratch* scratch = nullptr;
  Window window;
  Region region{};
  Passes passes;
  int64_t need_x0 = 0, need_x1 = 0;      // columns non-zero coefficients read
  int64_t x = 0, width = 0, stride = 0;  // columns of the rows given, bytes between strip rows
  uint8_t* strip = nullptr;              // kStripRows rows
  uint8_t* tmp = nullptr;                // the horizontal pass's output: input rows [ry0, ry1)
  int strips = 0, next = 0;              // strips of rows [ry0, ry1); the next one to run
  bool begun = false;

  int strip_first(int k) const { return passes.ry0 + k * kStripRows; }
  int strip_rows(int k) const { return std::min(kStripRows, passes.ry1 - strip_first(k)); }
  void run_strip() {
    const int k = next++;
    horizontal_pass(passes, scratch->s, strip, static_cast<int>(x), static_cast<int>(width), stride,
                    strip_first(k), strip_rows(k),
                    tmp + static_cast<int64_t>(k) * kStripRows * passes.nq_pad);
  }
};

bool ResizeStream::supported(int64_t in_h, int64_t in_w, int64_t c, int64_t out_h, int64_t out_w,
                             Resample filter, const Window& window) {
  if (!valid_resize(in_h, in_w, c, out_h, out_w, filter, window)) return false;
  if (filter == Resample::kNearest || out_w == in_w) return false;  // no horizontal pass to stream
  const Region r = clip_window(window, out_h, out_w);
  if (r.empty() || window.width * c >= (int64_t(1) << 31)) return false;
  // The kernels' size limits, for all input rows (at least those the vertical pass reads).
  return fits_kernels(static_cast<int>(in_h), static_cast<int>(in_w), static_cast<int>(c), r, 0,
                      static_cast<int>(in_h));
}

ResizeStream::ResizeStream(int64_t in_h, int64_t in_w, int64_t c, int64_t out_h, int64_t out_w,
                           Resample filter, const Window& window)
    : st_(std::make_unique<State>()) {
  if (!supported(in_h, in_w, c, out_h, out_w, filter, window))
    throw InputError("resize: this resize cannot stream its input (see ResizeStream::supported)");
  install_halide_runtime_hooks();
  State& st = *st_;
  StreamScratch& mine = stream_scratch();
  if (mine.busy) {
    st.own = std::make_unique<StreamScratch>();
    st.scratch = st.own.get();
  } else {
    st.scratch = &mine;
  }
  st.scratch->busy = true;
  st.window = window;
  st.region = clip_window(window, out_h, out_w);
  st.passes = plan_passes(static_cast<int>(in_h), static_cast<int>(in_w), static_cast<int>(c),
                          static_cast<int>(out_h), static_cast<int>(out_w), static_cast<int>(filter),
                          st.region, st.scratch->s);
  const Passes& p = st.passes;
  st.strips = (p.src_rows() + kStripRows - 1) / kStripRows;
  st.tmp = st.scratch->s.tmp.get(static_cast<size_t>(p.nq_pad) * p.rows_pad);
  const AxisCoeffs& a = st.scratch->s.horiz.pillow;
  st.need_x0 = in_w;
  for (size_t i = 0; i < a.xmin.size(); ++i) {
    st.need_x0 = std::min<int64_t>(st.need_x0, a.xmin[i]);
    st.need_x1 = std::max<int64_t>(st.need_x1, int64_t(a.xmin[i]) + a.count[i]);
  }
}

ResizeStream::~ResizeStream() {
  if (st_ && st_->scratch) st_->scratch->busy = false;
}

void ResizeStream::begin(int64_t x, int64_t width) {
  State& st = *st_;
  if (st.begun || x > st.need_x0 || x + width < st.need_x1 || x + width > st.passes.w)
    throw std::logic_error("ResizeStream::begin: the rows must hold columns [" + std::to_string(st.need_x0) +
                           ", " + std::to_string(st.need_x1) + ") of the input, once");
  st.begun = true;
  st.x = x;
  st.width = width;
  st.stride = round_up(width * st.passes.c, 64);
  uint8_t* raw = st.scratch->strip.get(static_cast<size_t>(st.stride) * kStripRows + 64 + kStripSkew);
  st.strip = raw + (64 - reinterpret_cast<uintptr_t>(raw) % 64) % 64 + kStripSkew;  // see kStripSkew
}

uint8_t* ResizeStream::row(int64_t y) {
  State& st = *st_;
  const Passes& p = st.passes;
  if (y < p.ry0 || y >= p.ry1) return nullptr;
  const int k = static_cast<int>((y - p.ry0) / kStripRows);
  while (st.next < k) st.run_strip();  // strips of rows the producer skipped
  return st.strip + (y - st.strip_first(k)) * st.stride;
}

void ResizeStream::rows_done(int64_t y_end) {
  State& st = *st_;
  while (st.next < st.strips && st.strip_first(st.next) + st.strip_rows(st.next) <= y_end) st.run_strip();
}

void ResizeStream::finish(Tensor& out) {
  State& st = *st_;
  const Passes& p = st.passes;
  const Window& w = st.window;
  const Shape want{w.height, w.width, p.c};
  if (!out.defined() || out.dtype() != DType::kUInt8 || out.shape() != want)
    throw InputError("resize: output must be a uint8 array of shape " + shape_str(want));
  if (!st.begun) throw std::logic_error("ResizeStream::finish before begin");
  while (st.next < st.strips) st.run_strip();
  uint8_t* base = out.data<uint8_t>();
  zero_outside(st.region, w, p.c, base);
  const int64_t dst_stride = w.width * p.c;
  vertical_pass(p, st.scratch->s, st.tmp, p.nq_pad, p.nq_pad,
                base + st.region.wy * dst_stride + st.region.wx * p.c, dst_stride);
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
