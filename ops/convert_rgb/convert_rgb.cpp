// convert_rgb and exif_transpose, following Pillow 9.4's Convert.c and Image.transpose.
#include "ops/convert_rgb/convert_rgb.h"

#include <algorithm>
#include <cstring>

#include "base/errors.h"

namespace pixelflow::ops {
namespace {

// Pillow's MULDIV255: a * b / 255, rounded, in integers.
inline int muldiv255(int a, int b) {
  int t = a * b + 128;
  return (t + (t >> 8)) >> 8;
}

void check_layout(const DecodedImage& img, int channels, DType dtype) {
  const Tensor& t = img.pixels;
  bool ok = t.defined() && t.dtype() == dtype &&
            (channels == 0 ? t.ndim() == 2 : (t.ndim() == 3 && t.dim(2) == channels));
  if (!ok) {
    throw InputError("convert_rgb: mode \"" + img.mode + "\" expects a " +
                     (channels ? std::to_string(channels) + "-channel " : std::string("2-D ")) +
                     dtype_name(dtype) + " array, got " + (t.defined() ? shape_str(t.shape()) + " " + dtype_name(t.dtype()) : "no pixels"));
  }
}

// Applies `pixel(in, out)` to every pixel: `in` advances by in_step elements.
template <class In, class F>
Tensor map_pixels(const DecodedImage& img, int64_t in_step, BufferPool* pool, F pixel) {
  const Tensor& t = img.pixels;
  int64_t h = t.dim(0), w = t.dim(1);
  Tensor out = Tensor::empty(DType::kUInt8, {h, w, 3}, pool);
  const In* in = static_cast<const In*>(t.raw_data());
  uint8_t* o = out.data<uint8_t>();
  int64_t n = h * w;
  for (int64_t i = 0; i < n; ++i) pixel(in + i * in_step, o + 3 * i);
  return out;
}

}  // namespace

Tensor convert_rgb(const DecodedImage& img, BufferPool* pool) {
  const std::string& mode = img.mode;
  if (mode == "RGB") {
    check_layout(img, 3, DType::kUInt8);
    return img.pixels;
  }
  if (mode == "RGBA" || mode == "RGBX") {
    check_layout(img, 4, DType::kUInt8);
    return map_pixels<uint8_t>(img, 4, pool, [](const uint8_t* p, uint8_t* o) {
      o[0] = p[0];
      o[1] = p[1];
      o[2] = p[2];
    });
  }
  if (mode == "L" || mode == "LA") {
    int channels = mode == "L" ? 0 : 2;
    check_layout(img, channels, DType::kUInt8);
    return map_pixels<uint8_t>(img, channels ? 2 : 1, pool, [](const uint8_t* p, uint8_t* o) {
      o[0] = o[1] = o[2] = p[0];
    });
  }
  if (mode == "1") {
    check_layout(img, 0, DType::kBool);
    // Read as bytes: decode_image stores True as 0xFF, which is not a valid C++ bool value.
    return map_pixels<uint8_t>(img, 1, pool, [](const uint8_t* p, uint8_t* o) {
      o[0] = o[1] = o[2] = *p ? 255 : 0;
    });
  }
  if (mode == "P") {
    check_layout(img, 0, DType::kUInt8);
    if (img.palette.size() != 768) {
      throw InputError("convert_rgb: mode \"P\" needs a 256-entry RGB palette (768 bytes), got " +
                       std::to_string(img.palette.size()) + " bytes");
    }
    const uint8_t* pal = img.palette.data();
    return map_pixels<uint8_t>(img, 1, pool, [pal](const uint8_t* p, uint8_t* o) {
      std::memcpy(o, pal + 3 * size_t(*p), 3);
    });
  }
  if (mode == "CMYK") {
    check_layout(img, 4, DType::kUInt8);
    return map_pixels<uint8_t>(img, 4, pool, [](const uint8_t* p, uint8_t* o) {
      int nk = 255 - p[3];
      for (int c = 0; c < 3; ++c) o[c] = uint8_t(std::clamp(nk - muldiv255(p[c], nk), 0, 255));
    });
  }
  if (mode == "I") {
    check_layout(img, 0, DType::kInt32);
    return map_pixels<int32_t>(img, 1, pool, [](const int32_t* p, uint8_t* o) {
      o[0] = o[1] = o[2] = uint8_t(std::clamp<int32_t>(*p, 0, 255));
    });
  }
  throw InputError("convert_rgb: unsupported image mode \"" + mode + "\"");
}

namespace {

// Copies pixels of P bytes (P known at compile time for the common sizes, so copies inline).
template <size_t P>
struct PixelCopy {
  static void copy(uint8_t* d, const uint8_t* s, size_t) { std::memcpy(d, s, P); }
};
template <>
struct PixelCopy<0> {  // any other size
  static void copy(uint8_t* d, const uint8_t* s, size_t n) { std::memcpy(d, s, n); }
};

// Output pixel (y, x) of Image.transpose for EXIF orientation o (2..8) on an h x w input.
template <size_t P>
void transpose_pixels(const uint8_t* src, uint8_t* dst, int64_t h, int64_t w, size_t pixel, int o) {
  size_t in_row = size_t(w) * pixel;
  if (o <= 4) {  // 2 mirror, 3 rotate 180, 4 flip: rows map to rows
    for (int64_t y = 0; y < h; ++y) {
      const uint8_t* s = src + size_t(o == 2 ? y : h - 1 - y) * in_row;
      uint8_t* d = dst + size_t(y) * in_row;
      if (o == 4) {
        std::memcpy(d, s, in_row);
        continue;
      }
      const uint8_t* p = s + in_row - pixel;
      for (int64_t x = 0; x < w; ++x, d += pixel, p -= pixel) PixelCopy<P>::copy(d, p, pixel);
    }
    return;
  }
  // 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90: output is w x h; output row y reads
  // input column sx, output column x reads input row sy. Tiles keep both sides in cache.
  int64_t out_h = w, out_w = h;
  size_t out_row = size_t(out_w) * pixel;
  bool column_reversed = o == 7 || o == 8;  // sx = w - 1 - y
  bool rows_reversed = o == 6 || o == 7;    // sy = h - 1 - x
  std::ptrdiff_t step = rows_reversed ? -std::ptrdiff_t(in_row) : std::ptrdiff_t(in_row);
  constexpr int64_t kTile = 64;
  for (int64_t ty = 0; ty < out_h; ty += kTile) {
    int64_t y_end = std::min(out_h, ty + kTile);
    for (int64_t tx = 0; tx < out_w; tx += kTile) {
      int64_t x_end = std::min(out_w, tx + kTile);
      int64_t first_row = rows_reversed ? h - 1 - tx : tx;
      for (int64_t y = ty; y < y_end; ++y) {
        int64_t sx = column_reversed ? w - 1 - y : y;
        const uint8_t* p = src + size_t(first_row) * in_row + size_t(sx) * pixel;
        uint8_t* d = dst + size_t(y) * out_row + size_t(tx) * pixel;
        for (int64_t x = tx; x < x_end; ++x, d += pixel, p += step) PixelCopy<P>::copy(d, p, pixel);
      }
    }
  }
}

}  // namespace

DecodedImage exif_transpose(DecodedImage img, BufferPool* pool) {
  int orientation = img.exif_orientation;
  if (orientation < 2 || orientation > 8) return img;
  const Tensor& in = img.pixels;
  if (!in.defined() || in.ndim() < 2) throw InputError("exif_transpose: image has no 2-D pixel array");
  int64_t h = in.dim(0), w = in.dim(1);
  size_t pixel = h * w > 0 ? in.nbytes() / size_t(h * w) : 1;
  Shape shape = in.shape();
  if (orientation >= 5) std::swap(shape[0], shape[1]);
  Tensor out = Tensor::empty(in.dtype(), shape, pool);
  const uint8_t* src = static_cast<const uint8_t*>(in.raw_data());
  uint8_t* dst = static_cast<uint8_t*>(out.raw_data());
  switch (pixel) {
    case 1: transpose_pixels<1>(src, dst, h, w, pixel, orientation); break;
    case 2: transpose_pixels<2>(src, dst, h, w, pixel, orientation); break;
    case 3: transpose_pixels<3>(src, dst, h, w, pixel, orientation); break;
    case 4: transpose_pixels<4>(src, dst, h, w, pixel, orientation); break;
    default: transpose_pixels<0>(src, dst, h, w, pixel, orientation); break;
  }
  img.pixels = std::move(out);
  img.exif_orientation = 1;
  return img;
}

Tensor load_image_rgb(const DecodedImage& img, BufferPool* pool) {
  if (img.exif_orientation >= 2 && img.exif_orientation <= 8) {
    return convert_rgb(exif_transpose(img, pool), pool);
  }
  return convert_rgb(img, pool);
}

}  // namespace pixelflow::ops
