// resize: the 8-bit path (resize_u8): a copy, Pillow's NEAREST or its two resampling passes
// (resize_passes.h) over the part of the window inside the resized image.
#include <algorithm>
#include <cstring>

#include "base/errors.h"
#include "graph/halide_runtime.h"
#include "ops/resize/resize.h"
#include "ops/resize/resize_passes.h"

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

Scratch& scratch() {
  thread_local Scratch s;
  return s;
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

// Pillow's NEAREST of the region (output coordinates) into dst (row stride dst_stride).
void run_nearest(const uint8_t* in, int h, int w, int c, int out_h, int out_w, const Rect& r,
                 uint8_t* dst, int64_t dst_stride, Scratch& s) {
  const int ox0 = static_cast<int>(r.x), oy0 = static_cast<int>(r.y);
  nearest_indices(w, out_w, ox0, ox0 + static_cast<int>(r.width), s.indices_x);
  nearest_indices(h, out_h, oy0, oy0 + static_cast<int>(r.height), s.indices_y);
  const int cols = static_cast<int>(r.width);
  for (int y = 0; y < r.height; ++y) {
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
                  const Rect& r, uint8_t* dst, int64_t dst_stride, Scratch& s) {
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
  const uint8_t* src = in + r.x * c + static_cast<int64_t>(p.ry0) * row_bytes;
  int64_t src_stride = row_bytes;
  int src_width = static_cast<int>(row_bytes - r.x * c);
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
               const Rect& window, Tensor& out) {
  check_resize_args(in, out_h, out_w, filter, window, out, "resize");
  const int h = static_cast<int>(in.dim(0)), w = static_cast<int>(in.dim(1));
  const int c = static_cast<int>(in.dim(2));
  const uint8_t* src = in.data<uint8_t>();
  uint8_t* dst_base = out.data<uint8_t>();
  const Rect r = window.clip(out_h, out_w);
  zero_outside(r, window, c, dst_base);
  if (r.empty()) return;
  const int64_t dst_stride = window.width * c;
  uint8_t* dst = dst_base + (r.y - window.y) * dst_stride + (r.x - window.x) * c;

  if (out_h == h && out_w == w) {  // Image.resize returns a copy
    copy_rows(src + (r.y * w + r.x) * c, static_cast<int64_t>(w) * c, dst, dst_stride, r.height, r.width * c);
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
  resize_u8(in, out_h, out_w, filter, Rect::full(out_h, out_w), out);
  return out;
}

}  // namespace pixelflow::ops
