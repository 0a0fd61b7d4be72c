// Scalar reference of resize_u8: Pillow's loops written out plainly (whole image, then the
// window is cut out). Slow on purpose; it is the oracle the Halide kernels are tested against.
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/resize/resize.h"
#include "ops/resize/resize_coeffs.h"

namespace pixelflow::ops {

using namespace resize_detail;

namespace {

// Pillow's ImagingResampleInner for 8-bit images with `c` interleaved channels.
std::vector<uint8_t> resample_full(const uint8_t* in, int h, int w, int c, int out_h, int out_w,
                                   int filter) {
  AxisCoeffs vert, horiz;
  precompute_coeffs_8bpc(h, out_h, filter, 0, out_h, vert);
  const bool need_horizontal = out_w != w;
  const bool need_vertical = out_h != h;
  const int ybox_first = vert.xmin[0];
  const int ybox_last = vert.xmin[out_h - 1] + vert.count[out_h - 1];

  // Current image: starts as the input.
  std::vector<uint8_t> cur(in, in + static_cast<size_t>(h) * w * c);
  int cur_h = h, cur_w = w;

  if (need_horizontal) {
    precompute_coeffs_8bpc(w, out_w, filter, 0, out_w, horiz);
    for (int i = 0; i < out_h; ++i) vert.xmin[i] -= ybox_first;
    const int tmp_h = ybox_last - ybox_first;
    std::vector<uint8_t> tmp(static_cast<size_t>(tmp_h) * out_w * c);
    for (int yy = 0; yy < tmp_h; ++yy) {
      const uint8_t* row = &cur[static_cast<size_t>(yy + ybox_first) * cur_w * c];
      for (int xx = 0; xx < out_w; ++xx) {
        const int xmin = horiz.xmin[xx], n = horiz.count[xx];
        const int32_t* k = &horiz.k[static_cast<size_t>(xx) * horiz.ksize];
        for (int ch = 0; ch < c; ++ch) {
          int32_t ss = kRoundingBias;
          for (int x = 0; x < n; ++x) ss += row[(x + xmin) * c + ch] * k[x];
          tmp[(static_cast<size_t>(yy) * out_w + xx) * c + ch] = clip8(ss);
        }
      }
    }
    cur.swap(tmp);
    cur_h = tmp_h;
    cur_w = out_w;
  }

  if (need_vertical) {
    std::vector<uint8_t> res(static_cast<size_t>(out_h) * cur_w * c);
    for (int yy = 0; yy < out_h; ++yy) {
      const int ymin = vert.xmin[yy], n = vert.count[yy];
      const int32_t* k = &vert.k[static_cast<size_t>(yy) * vert.ksize];
      for (int xx = 0; xx < cur_w * c; ++xx) {
        int32_t ss = kRoundingBias;
        for (int y = 0; y < n; ++y) ss += cur[static_cast<size_t>(y + ymin) * cur_w * c + xx] * k[y];
        res[static_cast<size_t>(yy) * cur_w * c + xx] = clip8(ss);
      }
    }
    cur.swap(res);
    cur_h = out_h;
  }
  (void)cur_h;
  return cur;
}

// Pillow's ImagingScaleAffine with the nearest filter (what Image.resize runs for NEAREST).
std::vector<uint8_t> nearest_full(const uint8_t* in, int h, int w, int c, int out_h, int out_w) {
  std::vector<int32_t> xi, yi;
  nearest_indices(w, out_w, 0, out_w, xi);
  nearest_indices(h, out_h, 0, out_h, yi);
  std::vector<uint8_t> res(static_cast<size_t>(out_h) * out_w * c, 0);
  for (int y = 0; y < out_h; ++y) {
    if (yi[y] < 0) continue;
    for (int x = 0; x < out_w; ++x) {
      if (xi[x] < 0) continue;
      for (int ch = 0; ch < c; ++ch)
        res[(static_cast<size_t>(y) * out_w + x) * c + ch] =
            in[(static_cast<size_t>(yi[y]) * w + xi[x]) * c + ch];
    }
  }
  return res;
}

}  // namespace

void resize_u8_reference(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                         const Rect& window, Tensor& out) {
  check_resize_args(in, out_h, out_w, filter, window, out, "resize_u8_reference");
  const int h = static_cast<int>(in.dim(0)), w = static_cast<int>(in.dim(1));
  const int c = static_cast<int>(in.dim(2));
  const uint8_t* src = in.data<uint8_t>();

  std::vector<uint8_t> full;
  if (out_h == h && out_w == w) {
    full.assign(src, src + static_cast<size_t>(h) * w * c);  // Image.resize returns a copy
  } else if (filter == Resample::kNearest) {
    full = nearest_full(src, h, w, c, static_cast<int>(out_h), static_cast<int>(out_w));
  } else {
    full = resample_full(src, h, w, c, static_cast<int>(out_h), static_cast<int>(out_w),
                         static_cast<int>(filter));
  }

  uint8_t* dst = out.data<uint8_t>();
  for (int64_t wy = 0; wy < window.height; ++wy) {
    const int64_t oy = window.y + wy;
    for (int64_t wx = 0; wx < window.width; ++wx) {
      const int64_t ox = window.x + wx;
      const bool inside = oy >= 0 && oy < out_h && ox >= 0 && ox < out_w;
      for (int ch = 0; ch < c; ++ch)
        dst[(wy * window.width + wx) * c + ch] =
            inside ? full[(static_cast<size_t>(oy) * out_w + ox) * c + ch] : 0;
    }
  }
}

}  // namespace pixelflow::ops
