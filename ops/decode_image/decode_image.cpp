// decode_image: format detection, file reading and the helpers shared by the codecs.
#include "ops/decode_image/decode_image.h"

#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "base/errors.h"
#include "base/file_io.h"
#include "ops/decode_image/codecs.h"

namespace pixelflow::ops {
namespace detail {

void check_pixel_limit(int64_t width, int64_t height, const DecodeOptions& opts,
                       const std::string& name) {
  // Refused whatever the limit: Pillow cannot hold such images either (its sizes are C ints).
  if (width <= 0 || height <= 0) {
    throw DecodeError(name, "image has no pixels (declared size " + std::to_string(width) + "x" +
                                std::to_string(height) + ")");
  }
  if (width > kMaxImageSide || height > kMaxImageSide) {
    throw DecodeError(name, "absurd image size " + std::to_string(width) + "x" + std::to_string(height) +
                                " (a side exceeds " + std::to_string(kMaxImageSide) + " pixels)");
  }
  if (opts.max_pixels <= 0) return;
  const int64_t pixels = width * height;  // both sides < 2^31: no overflow
  if (pixels > opts.max_pixels) {
    throw DecodeError(name, "image size (" + std::to_string(pixels) + " pixels, " +
                                std::to_string(width) + "x" + std::to_string(height) +
                                ") exceeds the limit of " + std::to_string(opts.max_pixels) +
                                " pixels (possible decompression bomb)");
  }
}

DecodedImage checked_image(std::string format, std::string mode, int64_t width, int64_t height,
                           const DecodeOptions& opts, const std::string& name) {
  check_pixel_limit(width, height, opts, name);
  DecodedImage image;
  image.format = std::move(format);
  image.mode = std::move(mode);
  return image;
}

std::vector<uint8_t> default_palette() {
  std::vector<uint8_t> palette(768);
  for (int i = 0; i < 256; ++i) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = uint8_t(i);
  return palette;
}

}  // namespace detail

namespace {

enum class Format { kUnknown, kJpeg, kPng, kWebp, kBmp };

Format sniff(const uint8_t* d, size_t n) {
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return Format::kPng;
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return Format::kJpeg;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return Format::kBmp;
  if (n >= 16 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0 &&
      (std::memcmp(d + 12, "VP8 ", 4) == 0 || std::memcmp(d + 12, "VP8L", 4) == 0 ||
       std::memcmp(d + 12, "VP8X", 4) == 0)) {
    return Format::kWebp;
  }
  return Format::kUnknown;
}

// Names formats Pillow would open but pixelflow does not, for a precise error message.
std::string unsupported_format_name(const uint8_t* d, size_t n) {
  auto starts = [&](const char* magic, size_t len) {
    return n >= len && std::memcmp(d, magic, len) == 0;
  };
  if (starts("GIF87a", 6) || starts("GIF89a", 6)) return "GIF";
  if (starts("II*\0", 4) || starts("MM\0*", 4)) return "TIFF";
  if (starts("\0\0\1\0", 4)) return "ICO";
  if (n >= 12 && std::memcmp(d + 4, "ftyp", 4) == 0) return "HEIF/AVIF";
  if (starts("RIFF", 4)) return "RIFF (not a WebP image)";
  if (starts("\x89PNG", 4)) return "PNG with a damaged signature";
  if (starts("\xff\xd8", 2)) return "JPEG with a damaged start marker";
  if (starts("P", 1) && n >= 2 && d[1] >= '1' && d[1] <= '7') return "PNM";
  return "";
}

[[noreturn]] void throw_unknown(const uint8_t* data, size_t size, const std::string& name) {
  if (size == 0) throw DecodeError(name, "empty file (0 bytes), not an image");
  std::string known = unsupported_format_name(data, size);
  if (!known.empty()) {
    throw DecodeError(name, "unsupported image format: " + known +
                                " (supported: JPEG, PNG, WebP, BMP)");
  }
  throw DecodeError(name, "cannot identify image file (not JPEG, PNG, WebP or BMP)");
}

}  // namespace

DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name,
                          const DecodeOptions& opts, BufferPool* pool) {
  try {
    switch (sniff(data, size)) {
      case Format::kJpeg: return detail::decode_jpeg(data, size, name, opts, pool);
      case Format::kPng: return detail::decode_png(data, size, name, opts, pool);
      case Format::kWebp: return detail::decode_webp(data, size, name, opts, pool);
      case Format::kBmp: return detail::decode_bmp(data, size, name, opts, pool);
      case Format::kUnknown: break;
    }
  } catch (const OutOfMemoryError& e) {
    // Only reachable within the pixel limit (or without one): the image is larger than this
    // machine can hold. Pillow raises MemoryError.
    throw DecodeError(name, std::string(e.what()) + " while decoding the image (lower --max-image-pixels or "
                            "DecodeOptions::max_pixels to refuse such images from their header)");
  } catch (const std::bad_alloc&) {
    throw DecodeError(name, "out of memory while decoding the image (lower --max-image-pixels or "
                            "DecodeOptions::max_pixels to refuse such images from their header)");
  }
  throw_unknown(data, size, name);
}

ImageInfo probe_image(const uint8_t* data, size_t size, const std::string& name) {
  switch (sniff(data, size)) {
    case Format::kJpeg: return detail::probe_jpeg(data, size, name);
    case Format::kPng: return detail::probe_png(data, size, name);
    case Format::kWebp: return detail::probe_webp(data, size, name);
    case Format::kBmp: return detail::probe_bmp(data, size, name);
    case Format::kUnknown: break;
  }
  throw_unknown(data, size, name);
}

DecodedImage decode_image_file(const std::string& path, const DecodeOptions& opts,
                               BufferPool* pool) {
  RegularFile file(path);  // refuses directories, FIFOs, devices (base/file_io.h)
  // The encoded bytes are only needed while decoding: one buffer per thread, reused, so that
  // steady-state decoding touches no fresh pages for them (unusually large files are not kept).
  constexpr size_t kKeepBytes = size_t(64) << 20;
  thread_local std::unique_ptr<uint8_t[]> kept;
  thread_local size_t kept_capacity = 0;
  const size_t size = static_cast<size_t>(file.size());
  std::unique_ptr<uint8_t[]> once;
  uint8_t* buffer;
  try {
    if (size > kKeepBytes) {
      once.reset(new uint8_t[size]);
      buffer = once.get();
    } else {
      if (size > kept_capacity) {
        kept.reset();
        kept_capacity = 0;
        kept.reset(new uint8_t[size]);
        kept_capacity = size;
      }
      buffer = kept.get();
    }
  } catch (const std::bad_alloc&) {
    throw DecodeError(path, "out of memory reading the file (" + std::to_string(size) + " bytes)");
  }
  const size_t got = size ? file.read(buffer, size) : 0;
  return decode_image(buffer, got, path, opts, pool);
}

}  // namespace pixelflow::ops
