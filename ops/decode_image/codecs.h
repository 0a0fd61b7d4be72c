// Internal interface between decode_image's dispatcher and the per-format codecs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/errors.h"
#include "ops/decode_image/decode_image.h"

namespace pixelflow::ops::detail {

inline uint16_t load_u16be(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint16_t load_u16le(const uint8_t* p) { return uint16_t(p[1] << 8 | p[0]); }
inline uint32_t load_u32be(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline uint32_t load_u32le(const uint8_t* p) {
  return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
}

// Every codec calls this on the declared size, after reading the header and BEFORE allocating
// anything that grows with the image: refuses empty sizes, a side above kMaxImageSide (Pillow
// keeps sizes in C ints and fails on those too) and, unless opts.max_pixels <= 0, more than
// opts.max_pixels pixels (Pillow's DecompressionBombError).
constexpr int64_t kMaxImageSide = 2147483647;  // 2^31 - 1
void check_pixel_limit(int64_t width, int64_t height, const DecodeOptions& opts,
                       const std::string& name);
// The start of every decode: check_pixel_limit, then an image of that format and mode.
DecodedImage checked_image(std::string format, std::string mode, int64_t width, int64_t height,
                           const DecodeOptions& opts, const std::string& name);

// Pillow's default palette for "P" images: the grey ramp (i, i, i), 256 RGB triplets.
std::vector<uint8_t> default_palette();

// IFD0 of a TIFF-structured block (EXIF, MPF), loaded like TiffImagePlugin's
// ImageFileDirectory_v2.load: entries in order, unsupported types skipped, a read past the end
// stops the load but keeps the entries before it, later duplicates replace earlier ones.
struct TiffField {
  uint16_t type = 0;
  uint64_t count = 0;
  const uint8_t* value = nullptr;  // count * size-of-type bytes inside the block
};
struct TiffDirectory {
  bool valid = false;  // the block starts with a TIFF header Pillow accepts
  bool big_endian = false;
  std::vector<std::pair<uint16_t, TiffField>> fields;  // tag order of the file, duplicates removed
  const TiffField* find(uint16_t tag) const;
  uint16_t u16(const uint8_t* p) const { return big_endian ? load_u16be(p) : load_u16le(p); }
  uint32_t u32(const uint8_t* p) const { return big_endian ? load_u32be(p) : load_u32le(p); }
  uint64_t u64(const uint8_t* p) const;
};
TiffDirectory read_tiff_ifd0(const uint8_t* data, size_t size);

// The value Pillow's Exif object holds for tag 0x0112 (Orientation).
struct ExifOrientation {
  bool present = false;  // the tag was loaded (then XMP is not consulted)
  int value = 0;         // the integer it compares equal to, 0 when it is not an integer
};
// Parses a TIFF-structured EXIF block (optionally prefixed by "Exif\0\0") the way
// Image.Exif.load does, tolerating the same damage (a truncated IFD keeps the tags before it).
ExifOrientation read_exif_orientation(const uint8_t* data, size_t size);
// Orientation from an XMP packet as Image.getexif reads it: tiff:Orientation="N" or >N<.
ExifOrientation read_xmp_orientation(const std::string& xmp);
// The orientation exif_transpose acts on (2..8), or 1.
int effective_orientation(const ExifOrientation& o);

ImageInfo probe_jpeg(const uint8_t* data, size_t size, const std::string& name);
DecodedImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name,
                         const DecodeOptions& opts, BufferPool* pool);

ImageInfo probe_png(const uint8_t* data, size_t size, const std::string& name);
DecodedImage decode_png(const uint8_t* data, size_t size, const std::string& name,
                        const DecodeOptions& opts, BufferPool* pool);

ImageInfo probe_webp(const uint8_t* data, size_t size, const std::string& name);
DecodedImage decode_webp(const uint8_t* data, size_t size, const std::string& name,
                         const DecodeOptions& opts, BufferPool* pool);

ImageInfo probe_bmp(const uint8_t* data, size_t size, const std::string& name);
DecodedImage decode_bmp(const uint8_t* data, size_t size, const std::string& name,
                        const DecodeOptions& opts, BufferPool* pool);

}  // namespace pixelflow::ops::detail
