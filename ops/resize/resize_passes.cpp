// Pillow's two resampling passes on the Halide kernels (see resize_passes.h).
#include "ops/resize/resize_passes.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "base/errors.h"
#include "graph/kernels.h"
#include "ops/common/halide_util.h"
#include "ops/resize/resize_kernels.h"
#include "resize_horizontal_default.h"
#include "resize_vertical_default.h"

namespace pixelflow::ops {

namespace {
std::atomic<bool> g_dot_product{true};
}  // namespace

void resize_kernels::set_dot_product_allowed(bool allowed) { g_dot_product.store(allowed, std::memory_order_relaxed); }

bool resize_kernels::dot_product_allowed() { return g_dot_product.load(std::memory_order_relaxed); }

namespace resize_detail {

namespace {

// The selected variants of the two passes, typed from the generated entry points (the argument
// lists are checked against every variant's Halide metadata on first use).
auto horizontal_kernel() {
  static const TypedKernelFamily<decltype(&resize_horizontal_default)> family(resize_kernels::kHorizontal);
  return family.get();
}

auto vertical_kernel() {
  static const TypedKernelFamily<decltype(&resize_vertical_default)> family(resize_kernels::kVertical);
  return family.get();
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

// Halide buffers over a KernelTables' arrays.
struct TableBuffers {
  halide_buffer_t coeffs{}, starts{}, digits{}, starts4{};
  halide_dimension_t cdim[2], sdim[1], ddim[3], s4dim[1];

  explicit TableBuffers(KernelTables& k) {
    const int outputs = k.outputs();
    cdim[0] = {0, k.taps, 1, 0};
    cdim[1] = {0, outputs, k.taps, 0};
    sdim[0] = {0, outputs, 1, 0};
    ddim[0] = {0, 12, 1, 0};
    ddim[1] = {0, k.groups, 12, 0};
    ddim[2] = {0, outputs, 12 * k.groups, 0};
    s4dim[0] = {0, outputs, 1, 0};
    init(coeffs, k.coeffs.data(), halide_type_of<int32_t>(), 2, cdim);
    init(starts, k.starts.data(), halide_type_of<int32_t>(), 1, sdim);
    init(digits, k.digits.data(), halide_type_of<int8_t>(), 3, ddim);
    init(starts4, k.starts4.data(), halide_type_of<int32_t>(), 1, s4dim);
  }
  TableBuffers(const TableBuffers&) = delete;  // the buffers point at dim arrays of this object
  TableBuffers& operator=(const TableBuffers&) = delete;

 private:
  static void init(halide_buffer_t& b, void* host, halide_type_t type, int dims, halide_dimension_t* dim) {
    b.host = static_cast<uint8_t*>(host);
    b.type = type;
    b.dimensions = dims;
    b.dim = dim;
  }
};

}  // namespace

uint8_t* RawBuffer::get(size_t n) {
  if (n > cap_) {
    size_t c = std::max(n, cap_ + cap_ / 2);
    data_.reset(new uint8_t[c]);
    cap_ = c;
  }
  return data_.get();
}

void copy_rows(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride,
               int64_t rows, int64_t bytes) {
  for (int64_t y = 0; y < rows; ++y)
    std::memcpy(dst + y * dst_stride, src + y * src_stride, static_cast<size_t>(bytes));
}

void zero_outside(const Rect& inside, const Rect& window, int c, uint8_t* out) {
  const int64_t row = window.width * c;
  if (inside.empty()) {
    std::memset(out, 0, static_cast<size_t>(row * window.height));
    return;
  }
  const int64_t wx = inside.x - window.x, wy = inside.y - window.y;  // offsets in the window
  std::memset(out, 0, static_cast<size_t>(wy * row));
  const int64_t below = window.height - wy - inside.height;
  std::memset(out + (wy + inside.height) * row, 0, static_cast<size_t>(below * row));
  const int64_t left = wx * c, right = (window.width - wx - inside.width) * c;
  if (left == 0 && right == 0) return;
  for (int64_t y = wy; y < wy + inside.height; ++y) {
    std::memset(out + y * row, 0, static_cast<size_t>(left));
    std::memset(out + y * row + left + inside.width * c, 0, static_cast<size_t>(right));
  }
}

bool fits_kernels(int h, int w, int c, const Rect& region, int ry0, int ry1) {
  const int64_t limit = int64_t(1) << 31;
  const int64_t nq = region.width * c;
  return static_cast<int64_t>(h) * w * c < limit &&
         (nq + kColMultiple + kMinBytes) * (ry1 - ry0 + kRowMultiple) < limit &&
         nq * region.height < limit;
}

Passes plan_passes(int h, int w, int c, int out_h, int out_w, int filter, const Rect& region, Scratch& s) {
  const int ox0 = static_cast<int>(region.x), ox1 = static_cast<int>(region.x + region.width);
  const int oy0 = static_cast<int>(region.y), oy1 = static_cast<int>(region.y + region.height);
  Passes p;
  p.h = h;
  p.w = w;
  p.c = c;
  p.horizontal = out_w != w;
  p.vertical = out_h != h;
  p.out_rows = oy1 - oy0;
  p.nq = static_cast<int64_t>(ox1 - ox0) * c;
  p.ry0 = oy0;
  p.ry1 = oy1;
  if (p.vertical) {
    make_tables(h, out_h, filter, oy0, oy1, p.out_rows, false, s.vert);
    p.ry0 = s.vert.first;
    p.ry1 = s.vert.last;
  }
  if (!fits_kernels(h, w, c, region, p.ry0, p.ry1))
    throw InputError("resize: image too large for the resize kernels (2 GiB per buffer at most)");
  if (p.horizontal) {
    p.nq_pad = static_cast<int>(std::max<int64_t>(round_up(p.nq, kColMultiple), kMinBytes));
    const int outputs = (p.nq_pad + c - 1) / c;  // pixel tables cover every padded column
    make_tables(w, out_w, filter, ox0, ox1, outputs, true, s.horiz);
    const AxisTables& t = s.horiz;
    p.x0 = floor4(t.first);
    p.tile_width = static_cast<int>(round_up(std::max(t.last - p.x0, kMinTile), 4));
    p.rows_pad = static_cast<int>(round_up(p.src_rows(), kRowMultiple));
    p.use_digits = resize_kernels::dot_product_allowed() && t.digits_ok;
    s.horiz_k.make(t, p.x0, c, p.nq_pad, 4);
  }
  return p;
}

void horizontal_pass(const Passes& p, Scratch& s, const uint8_t* in, int in_x, int in_width,
                     int64_t in_stride, int y0, int rows, uint8_t* tmp) {
  Buffer2D in_buf(in, in_width * p.c, rows, static_cast<int>(in_stride), y0);
  Buffer2D tmp_buf(tmp, p.nq_pad, static_cast<int>(round_up(rows, kRowMultiple)), p.nq_pad);
  TableBuffers k(s.horiz_k);
  // The tile starts at input pixel x0; the kernel clamps its reads to the columns it is given
  // (those outside them have zero coefficients).
  check_kernel(horizontal_kernel()(&in_buf.buf, &k.coeffs, &k.starts, &k.digits, &k.starts4,
                                   s.horiz.taps, s.horiz.groups, p.use_digits, p.c, p.x0 - in_x, p.tile_width,
                                   y0, &tmp_buf.buf),
               "resize_horizontal");
}

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
  s.vert_k.make(s.vert, 0, 1, p.out_rows, 1);
  TableBuffers k(s.vert_k);
  check_kernel(vertical_kernel()(&src_buf.buf, &k.coeffs, &k.starts, s.vert.taps, &out_buf.buf),
               "resize_vertical");
  if (!direct) copy_rows(v_dst, v_stride, dst, dst_stride, p.out_rows, p.nq);
}

}  // namespace resize_detail

}  // namespace pixelflow::ops
