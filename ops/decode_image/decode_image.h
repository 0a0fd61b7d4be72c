// decode_image: image files to the exact pixels and mode that Pillow 9.4's Image.open gives
// (np.array(Image.open(f))). JPEG (libjpeg-turbo, ISLOW IDCT, fancy upsampling, as Pillow
// configures it), PNG (all bit depths and colour types, interlaced or not), WebP (lossy,
// lossless, alpha, first frame of animations) and BMP (1/4/8-bit palette, 16/24/32-bit, bitfields,
// RLE4/RLE8).
//
// Malformed input never crashes and never prints: it raises DecodeError("<name>: <problem>").
// Where Pillow refuses a file (truncated data, bad checksums before the image data, unsupported
// layouts), decode_image refuses it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/tensor.h"

namespace pixelflow::ops {

struct DecodeOptions {
  // Pillow raises DecompressionBombError above 2 * Image.MAX_IMAGE_PIXELS pixels. The limit is
  // checked on the header, before any pixel memory is allocated. <= 0 disables the check.
  int64_t max_pixels = 178956970;
};

struct DecodedImage {
  std::string format;  // "JPEG", "MPO", "PNG", "WEBP", "BMP" (Pillow's Image.format)
  std::string mode;    // Pillow's mode: "1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I"
  // Exactly np.array(Image.open(f)), byte for byte: (H, W) for single-band modes, else (H, W, C).
  // dtype as NumPy gives it: int32 for "I", uint8 for the others except "1", which is bool
  // holding the bytes 0x00/0xFF (Pillow exports its 0/255 pixels under NumPy's bool type; NumPy
  // reads any non-zero byte as True). Read "1" pixels as bytes and test for non-zero.
  Tensor pixels;
  // Mode "P" only: 256 RGB triplets (768 bytes), the palette Pillow maps indices through in
  // convert("RGB"). Entries the file does not define are Pillow's default grey ramp (i, i, i).
  std::vector<uint8_t> palette;
  // EXIF orientation (tag 0x0112) as ImageOps.exif_transpose reads it, 1..8; 1 when absent or
  // when Pillow would not act on the value.
  int exif_orientation = 1;
};

DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name,
                          const DecodeOptions& opts = {}, BufferPool* pool = nullptr);
DecodedImage decode_image_file(const std::string& path, const DecodeOptions& opts = {},
                               BufferPool* pool = nullptr);

// Header-only probe (no pixel decode, no decompression-bomb check): format, mode, size and
// EXIF orientation. Throws DecodeError when the header is not one Image.open accepts.
struct ImageInfo {
  std::string format, mode;
  int64_t width = 0, height = 0;
  int exif_orientation = 1;
};
ImageInfo probe_image(const uint8_t* data, size_t size, const std::string& name);

}  // namespace pixelflow::ops
