// decode_image: image files to the exact pixels and mode that Pillow 9.4's Image.open gives
// (np.array(Image.open(f))). JPEG (libjpeg-turbo, ISLOW IDCT, fancy upsampling, as Pillow
// configures it), PNG (all bit depths and colour types, interlaced or not), WebP (lossy,
// lossless, alpha, first frame of animations) and BMP (1/4/8-bit palette, 16/24/32-bit, bitfields,
// RLE4/RLE8).
//
// Malformed input never crashes and never prints: it raises DecodeError("<name>: <problem>").
// Where Pillow refuses a file (truncated data, bad checksums before the image data, unsupported
// layouts), decode_image refuses it too.
//
// JPEGs can be decoded on a region of interest only (DecodePlan::region: exact inside the
// region, undefined outside it, same accept/refuse outcome as a full decode) or, approximately,
// at 1/2, 1/4 or 1/8 scale in the DCT domain (DecodePlan::reduce). Both are opt-in per call
// through DecodeOptions::plan; without it every pixel is Pillow's.
//
// A JPEG can also be streamed (DecodePlan::rows): its rows go, as libjpeg produces them, into a
// RowConsumer (graph/op.h) instead of an image, so that a consumer such as a resize computes its
// result from small strips that stay in cache; the decoded image is never materialized.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "graph/rect.h"
#include "graph/tensor.h"

namespace pixelflow {
class RowConsumer;  // graph/op.h
}

namespace pixelflow::ops {

// Header-only facts about an image (see probe_image).
struct ImageInfo {
  std::string format, mode;
  int64_t width = 0, height = 0;
  int exif_orientation = 1;
};

// What to decode of a JPEG, decided from its header (DecodeOptions::plan).
struct DecodePlan {
  // EXACT region of interest: the pixels the caller will read, in the coordinates of the
  // decoded image. The decoder skips the iMCU columns and the rows outside it (plus a margin
  // that keeps chroma upsampling at the region's edges as in a full decode); every pixel inside
  // it is bit-identical to a full decode, pixels outside it are UNDEFINED (see
  // DecodedImage::valid). nullopt: the whole image.
  std::optional<Rect> region;
  // APPROXIMATE, not Pillow's pixels: DCT-domain downscaling by 1/reduce (1, 2, 4 or 8:
  // libjpeg's scale_denom, what PIL's Image.draft does), each side ceil(size / reduce). Never
  // combined with `region` (a plan with reduce > 1 decodes the whole reduced image).
  int reduce = 1;
  // Streaming (reduce == 1 only; ignored otherwise): every decoded row goes to this consumer
  // (RowConsumer protocol: begin with the decoded column span, row / rows_done top to bottom;
  // not finish, which is the caller's) instead of into DecodedImage::pixels, in the mode's
  // channels (CMYK inverted as Pillow's "CMYK;I"). With a `region`, only its rows and columns
  // are exact, as for an image. The consumer must outlive the decode call.
  RowConsumer* rows = nullptr;
};

// 2 * PIL.Image.MAX_IMAGE_PIXELS (89478485): Pillow's DecompressionBombError threshold.
inline constexpr int64_t kDefaultMaxImagePixels = 178956970;

struct DecodeOptions {
  // Decompression-bomb limit: images with MORE than max_pixels pixels (width x height as the
  // header declares them) are refused with a DecodeError, from the header, before any pixel
  // memory is allocated. The default, 178956970 = 2 * PIL.Image.MAX_IMAGE_PIXELS, is where Pillow
  // raises DecompressionBombError (Pillow only warns, DecompressionBombWarning, above
  // MAX_IMAGE_PIXELS itself; pixelflow does not warn). <= 0 disables the limit. Whatever the
  // limit, empty images and sides above 2^31 - 1 are refused (Pillow cannot hold them either).
  int64_t max_pixels = kDefaultMaxImagePixels;
  // JPEG (and MPO) only, optional: called once the header is read, before any pixel is decoded,
  // with the image's format, mode, size and EXIF orientation; its plan says what to decode.
  // Other formats never call it and always decode fully. Exceptions propagate.
  std::function<DecodePlan(const ImageInfo&)> plan;
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
  // Set when a DecodePlan region was honoured: `pixels` has the full image's shape but only
  // this rectangle (the plan's region, clipped to the image) holds Pillow's pixels; everything
  // outside it is undefined (stale memory). Unset: every pixel is defined.
  std::optional<Rect> valid;
  // 1, or the DecodePlan reduction that was applied (pixels is then ceil(H / reduce) x
  // ceil(W / reduce), approximate).
  int reduce = 1;
  // The rows went to DecodePlan::rows (all of them, successfully); `pixels` is undefined.
  bool streamed = false;
};

DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name,
                          const DecodeOptions& opts = {}, BufferPool* pool = nullptr);
DecodedImage decode_image_file(const std::string& path, const DecodeOptions& opts = {},
                               BufferPool* pool = nullptr);

// Header-only probe (no pixel decode, no decompression-bomb check): format, mode, size and
// EXIF orientation. Throws DecodeError when the header is not one Image.open accepts.
ImageInfo probe_image(const uint8_t* data, size_t size, const std::string& name);

}  // namespace pixelflow::ops
