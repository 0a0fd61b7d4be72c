// PNG: a chunk reader with Pillow 9.4's PngImagePlugin semantics (which files Image.open and
// load() refuse, what ends up in info for EXIF) and a zlib row decoder producing Pillow's modes:
//   bit depth / colour type -> mode (raw mode)
//   gray 1 -> "1", gray 2/4/8 -> "L" (2- and 4-bit values scaled to 0..255), gray 16 -> "I",
//   RGB 8/16 -> "RGB", palette 1/2/4/8 -> "P", gray+alpha 8 -> "LA", gray+alpha 16 -> "RGBA",
//   RGBA 8/16 -> "RGBA"; 16-bit samples keep their most significant byte (except "I").
#include <array>
#include <cstring>
#include <optional>

#include <zlib.h>

#include "ops/decode_image/codecs.h"

namespace pixelflow::ops::detail {
namespace {

constexpr size_t kMaxTextChunk = 1024 * 1024;  // Pillow's MAX_TEXT_CHUNK

// How the samples of a row become Pillow pixels.
enum class RowFormat {
  kBit1,      // "1": bits -> bool stored as 0x00/0xFF (np.array of a "1" image)
  kGray2,     // "L;2": 2-bit -> v * 85
  kGray4,     // "L;4": 4-bit -> v * 17
  kGray8,     // "L"
  kGray16,    // "I;16B" -> int32
  kRgb8,      // "RGB"
  kRgb16,     // "RGB;16B"
  kIndex1,    // "P;1"
  kIndex2,    // "P;2"
  kIndex4,    // "P;4"
  kIndex8,    // "P"
  kGrayA8,    // "LA"
  kGrayA16,   // "LA;16B" -> RGBA
  kRgba8,     // "RGBA"
  kRgba16,    // "RGBA;16B"
};

struct ModeSpec {
  const char* mode;
  RowFormat format;
  int bits_per_pixel;  // in the file
  int channels;        // of the output array (0: 2-D array)
  DType dtype;
};

std::optional<ModeSpec> mode_for(int bit_depth, int color_type) {
  switch (color_type << 8 | bit_depth) {
    case 0 << 8 | 1: return ModeSpec{"1", RowFormat::kBit1, 1, 0, DType::kBool};
    case 0 << 8 | 2: return ModeSpec{"L", RowFormat::kGray2, 2, 0, DType::kUInt8};
    case 0 << 8 | 4: return ModeSpec{"L", RowFormat::kGray4, 4, 0, DType::kUInt8};
    case 0 << 8 | 8: return ModeSpec{"L", RowFormat::kGray8, 8, 0, DType::kUInt8};
    case 0 << 8 | 16: return ModeSpec{"I", RowFormat::kGray16, 16, 0, DType::kInt32};
    case 2 << 8 | 8: return ModeSpec{"RGB", RowFormat::kRgb8, 24, 3, DType::kUInt8};
    case 2 << 8 | 16: return ModeSpec{"RGB", RowFormat::kRgb16, 48, 3, DType::kUInt8};
    case 3 << 8 | 1: return ModeSpec{"P", RowFormat::kIndex1, 1, 0, DType::kUInt8};
    case 3 << 8 | 2: return ModeSpec{"P", RowFormat::kIndex2, 2, 0, DType::kUInt8};
    case 3 << 8 | 4: return ModeSpec{"P", RowFormat::kIndex4, 4, 0, DType::kUInt8};
    case 3 << 8 | 8: return ModeSpec{"P", RowFormat::kIndex8, 8, 0, DType::kUInt8};
    case 4 << 8 | 8: return ModeSpec{"LA", RowFormat::kGrayA8, 16, 2, DType::kUInt8};
    case 4 << 8 | 16: return ModeSpec{"RGBA", RowFormat::kGrayA16, 32, 4, DType::kUInt8};
    case 6 << 8 | 8: return ModeSpec{"RGBA", RowFormat::kRgba8, 32, 4, DType::kUInt8};
    case 6 << 8 | 16: return ModeSpec{"RGBA", RowFormat::kRgba16, 64, 4, DType::kUInt8};
    default: return std::nullopt;
  }
}

bool is_chunk_id(const uint8_t* t) {
  for (int i = 0; i < 4; ++i) {
    uint8_t c = t[i];
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word) return false;
  }
  return true;
}

bool chunk_is(const uint8_t* t, const char* id) { return std::memcmp(t, id, 4) == 0; }

std::string chunk_name(const uint8_t* t) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    char c = char(t[i]);
    s += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return s;
}

// zlib.decompressobj().decompress(data, MAX_TEXT_CHUNK) as Pillow's _safe_zlib_decompress uses it.
enum class InflateStatus { kOk, kTooLarge, kError };
InflateStatus inflate_text(const uint8_t* data, size_t size, std::string* out) {
  out->clear();
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return InflateStatus::kError;
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = uInt(size);
  InflateStatus status = InflateStatus::kOk;
  uint8_t buffer[16384];
  for (;;) {
    size_t want = std::min(kMaxTextChunk - out->size(), sizeof(buffer));
    zs.next_out = buffer;
    zs.avail_out = uInt(want);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out->append(reinterpret_cast<char*>(buffer), want - zs.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR) {
      status = InflateStatus::kError;
      break;
    }
    if (out->size() >= kMaxTextChunk) {
      if (zs.avail_in > 0) status = InflateStatus::kTooLarge;
      break;
    }
    if (zs.avail_in == 0 || rc == Z_BUF_ERROR) break;  // truncated stream: partial text, no error
  }
  inflateEnd(&zs);
  return status;
}

// The entries of Pillow's info dict that Image.getexif reads.
struct PngMetadata {
  std::optional<std::string> exif;  // eXIf chunk ("Exif\0\0" + data) or tEXt "exif"
  bool exif_is_text = false;        // zTXt/iTXt "exif": a str, which Pillow cannot parse
  std::optional<std::string> raw_profile_exif;
  std::optional<std::string> xmp;

  void set(const std::string& key, std::string value, bool is_bytes) {
    if (key == "exif") {
      exif = std::move(value);
      exif_is_text = !is_bytes;
    } else if (key == "Raw profile type exif") {
      raw_profile_exif = std::move(value);
    } else if (key == "XML:com.adobe.xmp") {
      xmp = std::move(value);
    }
  }
  ExifOrientation orientation() const;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

ExifOrientation PngMetadata::orientation() const {
  ExifOrientation o;
  if (exif) {
    if (!exif_is_text) o = read_exif_orientation(reinterpret_cast<const uint8_t*>(exif->data()), exif->size());
  } else if (raw_profile_exif) {
    // bytes.fromhex("".join(text.split("\n")[3:])): ImageMagick's hex dump after 3 header lines.
    const std::string& text = *raw_profile_exif;
    size_t at = 0;
    for (int line = 0; line < 3 && at != std::string::npos; ++line) {
      at = text.find('\n', at);
      if (at != std::string::npos) ++at;
    }
    std::string bytes;
    bool ok = at != std::string::npos;
    int high = -1;
    for (size_t i = at; ok && i < text.size(); ++i) {
      char c = text[i];
      if (c == '\n') continue;
      if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
        if (high >= 0) ok = false;  // fromhex allows whitespace only between byte pairs
        continue;
      }
      int v = hex_value(c);
      if (v < 0) {
        ok = false;
      } else if (high < 0) {
        high = v;
      } else {
        bytes += char(high << 4 | v);
        high = -1;
      }
    }
    if (ok && high < 0) o = read_exif_orientation(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  if (!o.present && xmp) o = read_xmp_orientation(*xmp);
  return o;
}

// PngStream's state while chunks are read.
struct PngStream {
  std::string name;
  int64_t width = 0, height = 0;
  std::optional<ModeSpec> spec;
  bool interlaced = false;
  bool have_header = false;
  const uint8_t* palette = nullptr;  // PLTE data when read while the mode was "P"
  size_t palette_size = 0;
  bool have_palette = false;
  // APNG bookkeeping (frame 0 only).
  bool animated_header = false;  // a valid acTL
  uint32_t frame_count = 0;
  bool have_seq = false;
  uint32_t seq = 0;
  bool have_bbox = false;
  int64_t bbox[4] = {0, 0, 0, 0};
  PngMetadata meta;

  [[noreturn]] void fail(const std::string& why) const { throw DecodeError(name, why); }

  // One chunk handler of PngStream (not IDAT/IEND/fdAT). Unknown chunks are ignored.
  void handle(const uint8_t* type, const uint8_t* s, size_t len);

  // Per-chunk handlers, as Pillow's PngStream.chunk_<type>; `s` is the chunk data of `len` bytes.
  void chunk_IHDR(const uint8_t* s, size_t len);
  void chunk_PLTE(const uint8_t* s, size_t len);
  void chunk_tRNS(const uint8_t* s, size_t len);
  void chunk_gAMA(const uint8_t* s, size_t len);
  void chunk_cHRM(const uint8_t* s, size_t len);
  void chunk_sRGB(const uint8_t* s, size_t len);
  void chunk_pHYs(const uint8_t* s, size_t len);
  void chunk_iCCP(const uint8_t* s, size_t len);
  void chunk_tEXt(const uint8_t* s, size_t len);
  void chunk_zTXt(const uint8_t* s, size_t len);
  void chunk_iTXt(const uint8_t* s, size_t len);
  void chunk_eXIf(const uint8_t* s, size_t len);
  void chunk_acTL(const uint8_t* s, size_t len);
  void chunk_fcTL(const uint8_t* s, size_t len);
};

// The first `end` bytes of a text chunk: its keyword.
std::string text_key(const uint8_t* s, size_t end) { return std::string(reinterpret_cast<const char*>(s), end); }

void PngStream::handle(const uint8_t* type, const uint8_t* s, size_t len) {
  using Handler = void (PngStream::*)(const uint8_t*, size_t);
  struct Entry {
    const char* id;
    Handler fn;
  };
  static constexpr Entry kHandlers[] = {
      {"IHDR", &PngStream::chunk_IHDR}, {"PLTE", &PngStream::chunk_PLTE}, {"tRNS", &PngStream::chunk_tRNS},
      {"gAMA", &PngStream::chunk_gAMA}, {"cHRM", &PngStream::chunk_cHRM}, {"sRGB", &PngStream::chunk_sRGB},
      {"pHYs", &PngStream::chunk_pHYs}, {"iCCP", &PngStream::chunk_iCCP}, {"tEXt", &PngStream::chunk_tEXt},
      {"zTXt", &PngStream::chunk_zTXt}, {"iTXt", &PngStream::chunk_iTXt}, {"eXIf", &PngStream::chunk_eXIf},
      {"acTL", &PngStream::chunk_acTL}, {"fcTL", &PngStream::chunk_fcTL},
  };
  for (const Entry& e : kHandlers) {
    if (chunk_is(type, e.id)) return (this->*e.fn)(s, len);
  }
}

void PngStream::chunk_IHDR(const uint8_t* s, size_t len) {
  if (len < 13) fail("broken PNG file: truncated IHDR chunk");
  width = load_u32be(s);
  height = load_u32be(s + 4);
  // As Pillow's chunk_IHDR: an unknown colour type/bit depth leaves the mode as it was (none for
  // the first IHDR; a later one, e.g. after the image data, cannot unset it).
  if (std::optional<ModeSpec> m = mode_for(s[8], s[9])) spec = m;
  have_header = true;
  if (s[12]) interlaced = true;
  if (s[11]) fail("broken PNG file: unknown filter category " + std::to_string(s[11]));
}

void PngStream::chunk_PLTE(const uint8_t* s, size_t len) {
  if (spec && std::strcmp(spec->mode, "P") == 0) {
    palette = s;
    palette_size = len;
    have_palette = true;
  }
}

void PngStream::chunk_tRNS(const uint8_t*, size_t len) {
  if (spec) {
    std::string mode = spec->mode;
    if ((mode == "1" || mode == "L" || mode == "I") && len < 2) fail("broken PNG file: truncated tRNS chunk");
    if (mode == "RGB" && len < 6) fail("broken PNG file: truncated tRNS chunk");
  }
}

void PngStream::chunk_gAMA(const uint8_t*, size_t len) {
  if (len < 4) fail("broken PNG file: truncated gAMA chunk");
}

void PngStream::chunk_cHRM(const uint8_t*, size_t len) {
  if (len % 4) fail("broken PNG file: bad cHRM chunk length");
}

void PngStream::chunk_sRGB(const uint8_t*, size_t len) {
  if (len < 1) fail("broken PNG file: truncated sRGB chunk");
}

void PngStream::chunk_pHYs(const uint8_t*, size_t len) {
  if (len < 9) fail("broken PNG file: truncated pHYs chunk");
}

void PngStream::chunk_iCCP(const uint8_t* s, size_t len) {
  if (len == 0) fail("broken PNG file: empty iCCP chunk");
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(s, 0, len));
  // Pillow reads the compression method at the separator itself (or the last byte if none).
  uint8_t method = nul ? 0 : s[len - 1];
  if (method != 0) fail("broken PNG file: unknown compression method in iCCP chunk");
  size_t start = nul ? size_t(nul - s) + 2 : len + 1;
  std::string profile;
  if (start <= len && inflate_text(s + start, len - start, &profile) == InflateStatus::kTooLarge) {
    fail("broken PNG file: iCCP chunk decompresses to more than 1 MiB");
  }
}

void PngStream::chunk_tEXt(const uint8_t* s, size_t len) {
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(s, 0, len));
  size_t key_end = nul ? size_t(nul - s) : len;
  if (key_end > 0) {
    std::string value = nul ? std::string(reinterpret_cast<const char*>(s) + key_end + 1, len - key_end - 1) : "";
    meta.set(text_key(s, key_end), std::move(value), /*is_bytes=*/true);
  }
}

void PngStream::chunk_zTXt(const uint8_t* s, size_t len) {
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(s, 0, len));
  size_t key_end = nul ? size_t(nul - s) : len;
  const uint8_t* v = nul ? nul + 1 : s + len;
  size_t v_len = size_t(s + len - v);
  if (v_len > 0 && v[0] != 0) fail("broken PNG file: unknown compression method in zTXt chunk");
  std::string text;
  InflateStatus st = v_len > 0 ? inflate_text(v + 1, v_len - 1, &text) : InflateStatus::kOk;
  if (st == InflateStatus::kTooLarge) fail("broken PNG file: zTXt chunk decompresses to more than 1 MiB");
  if (st == InflateStatus::kError) text.clear();
  if (key_end > 0) meta.set(text_key(s, key_end), std::move(text), /*is_bytes=*/false);
}

void PngStream::chunk_iTXt(const uint8_t* s, size_t len) {
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(s, 0, len));
  if (!nul) return;
  size_t key_end = size_t(nul - s);
  const uint8_t* r = nul + 1;
  size_t r_len = size_t(s + len - r);
  if (r_len < 2) return;
  uint8_t compressed = r[0], method = r[1];
  r += 2;
  r_len -= 2;
  const uint8_t* lang_end = static_cast<const uint8_t*>(std::memchr(r, 0, r_len));
  if (!lang_end) return;
  const uint8_t* tk = lang_end + 1;
  const uint8_t* tk_end = static_cast<const uint8_t*>(std::memchr(tk, 0, size_t(r + r_len - tk)));
  if (!tk_end) return;
  const uint8_t* v = tk_end + 1;
  std::string text(reinterpret_cast<const char*>(v), size_t(r + r_len - v));
  if (compressed != 0) {
    if (method != 0) return;
    std::string plain;
    InflateStatus st = inflate_text(v, text.size(), &plain);
    if (st == InflateStatus::kTooLarge) fail("broken PNG file: iTXt chunk decompresses to more than 1 MiB");
    if (st == InflateStatus::kError) return;
    text = std::move(plain);
  }
  meta.set(text_key(s, key_end), std::move(text), /*is_bytes=*/false);
}

void PngStream::chunk_eXIf(const uint8_t* s, size_t len) {
  meta.set("exif", std::string("Exif\0\0", 6) + std::string(reinterpret_cast<const char*>(s), len), true);
}

void PngStream::chunk_acTL(const uint8_t* s, size_t len) {
  if (len < 8) fail("broken PNG file: APNG contains truncated acTL chunk");
  if (animated_header) {
    animated_header = false;  // a second acTL: Pillow falls back to the default image
    return;
  }
  uint32_t n = load_u32be(s);
  if (n == 0 || n > 0x80000000u) return;
  animated_header = true;
  frame_count = n;
}

void PngStream::chunk_fcTL(const uint8_t* s, size_t len) {
  if (len < 26) fail("broken PNG file: APNG contains truncated fcTL chunk");
  uint32_t n = load_u32be(s);
  if ((!have_seq && n != 0) || (have_seq && seq != n - 1)) fail("broken PNG file: APNG contains frame sequence errors");
  have_seq = true;
  seq = n;
  int64_t w = load_u32be(s + 4), h = load_u32be(s + 8), x = load_u32be(s + 12), y = load_u32be(s + 16);
  if (x + w > width || y + h > height) fail("broken PNG file: APNG contains invalid frames");
  have_bbox = true;
  bbox[0] = x;
  bbox[1] = y;
  bbox[2] = x + w;
  bbox[3] = y + h;
}

// ---------------------------------------------------------------------------------------------
// Pixel rows

void unfilter_row(uint8_t filter, uint8_t* row, const uint8_t* prev, size_t n, size_t bpp,
                  const std::string& name) {
  switch (filter) {
    case 0:
      break;
    case 1:
      for (size_t i = bpp; i < n; ++i) row[i] = uint8_t(row[i] + row[i - bpp]);
      break;
    case 2:
      for (size_t i = 0; i < n; ++i) row[i] = uint8_t(row[i] + prev[i]);
      break;
    case 3:
      for (size_t i = 0; i < bpp && i < n; ++i) row[i] = uint8_t(row[i] + (prev[i] >> 1));
      for (size_t i = bpp; i < n; ++i) row[i] = uint8_t(row[i] + ((row[i - bpp] + prev[i]) >> 1));
      break;
    case 4:
      for (size_t i = 0; i < bpp && i < n; ++i) row[i] = uint8_t(row[i] + prev[i]);
      for (size_t i = bpp; i < n; ++i) {
        int a = row[i - bpp], b = prev[i], c = prev[i - bpp];
        int p = a + b - c;
        int pa = p > a ? p - a : a - p, pb = p > b ? p - b : b - p, pc = p > c ? p - c : c - p;
        int pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
        row[i] = uint8_t(row[i] + pred);
      }
      break;
    default:
      throw DecodeError(name, "broken PNG data: unknown row filter type " + std::to_string(filter));
  }
}

// Writes `count` pixels of a defiltered row into `out`, `step` bytes apart.
void unpack_row(RowFormat format, const uint8_t* in, int64_t count, uint8_t* out, size_t step) {
  auto sub_byte = [&](int bits, int scale) {
    int mask = (1 << bits) - 1;
    for (int64_t i = 0; i < count; ++i) {
      int64_t bit = i * bits;
      int v = (in[bit >> 3] >> (8 - bits - (bit & 7))) & mask;
      out[i * int64_t(step)] = uint8_t(v * scale);
    }
  };
  auto copy = [&](size_t pixel) {
    if (step == pixel) {
      std::memcpy(out, in, size_t(count) * pixel);
    } else {
      for (int64_t i = 0; i < count; ++i) std::memcpy(out + size_t(i) * step, in + size_t(i) * pixel, pixel);
    }
  };
  auto high_bytes = [&](int channels) {  // 16-bit samples, big-endian: their high bytes
    for (int64_t i = 0; i < count; ++i) {
      uint8_t* o = out + size_t(i) * step;
      const uint8_t* p = in + 2 * channels * i;
      for (int c = 0; c < channels; ++c) o[c] = p[2 * c];
    }
  };
  switch (format) {
    case RowFormat::kBit1: sub_byte(1, 255); break;  // NumPy bool bytes as Pillow exports them
    case RowFormat::kGray2: sub_byte(2, 85); break;
    case RowFormat::kGray4: sub_byte(4, 17); break;
    case RowFormat::kIndex1: sub_byte(1, 1); break;
    case RowFormat::kIndex2: sub_byte(2, 1); break;
    case RowFormat::kIndex4: sub_byte(4, 1); break;
    case RowFormat::kGray8: case RowFormat::kIndex8: copy(1); break;
    case RowFormat::kGrayA8: copy(2); break;
    case RowFormat::kRgb8: copy(3); break;
    case RowFormat::kRgba8: copy(4); break;
    case RowFormat::kGray16:
      for (int64_t i = 0; i < count; ++i) {
        int32_t v = in[2 * i] << 8 | in[2 * i + 1];
        std::memcpy(out + size_t(i) * step, &v, 4);
      }
      break;
    case RowFormat::kRgb16: high_bytes(3); break;
    case RowFormat::kGrayA16:
      for (int64_t i = 0; i < count; ++i) {
        uint8_t* o = out + size_t(i) * step;
        o[0] = o[1] = o[2] = in[4 * i];
        o[3] = in[4 * i + 2];
      }
      break;
    case RowFormat::kRgba16: high_bytes(4); break;
  }
}

// Consecutive image-data chunks from the first IDAT, fed to zlib one chunk at a time as
// Pillow's load_read does (chunk CRCs are not checked there).
class ImageDataReader {
 public:
  ImageDataReader(const uint8_t* d, size_t n, size_t first_chunk, const std::string& name)
      : d_(d), n_(n), name_(name), next_chunk_(first_chunk) {
    if (inflateInit(&zs_) != Z_OK) throw DecodeError(name, "zlib initialisation failed");
  }
  ~ImageDataReader() { inflateEnd(&zs_); }
  ImageDataReader(const ImageDataReader&) = delete;
  ImageDataReader& operator=(const ImageDataReader&) = delete;

  // Fills out[0..size) with decompressed bytes or throws.
  void read(uint8_t* out, size_t size) {
    // zlib counts in uInt: rows longer than 4 GiB (possible without a pixel limit) go in pieces.
    constexpr size_t kPiece = size_t(1) << 30;
    while (size > kPiece) {
      read(out, kPiece);
      out += kPiece;
      size -= kPiece;
    }
    zs_.next_out = out;
    zs_.avail_out = uInt(size);
    while (zs_.avail_out > 0) {
      if (zs_.avail_in == 0 && !advance()) {
        throw DecodeError(name_, "image file is truncated (PNG image data ends early)");
      }
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END && zs_.avail_out > 0) {
        throw DecodeError(name_, "image file is truncated (PNG image data stream ends early)");
      }
      if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR) {
        throw DecodeError(name_, std::string("broken PNG image data: ") + (zs_.msg ? zs_.msg : "zlib error"));
      }
    }
  }

  // Where the chunk holding the last byte consumed ends (after its CRC).
  size_t end_of_current_chunk() const { return current_end_; }

 private:
  bool advance() {
    for (;;) {
      size_t pos = next_chunk_;
      if (pos + 8 > n_) return false;
      const uint8_t* type = d_ + pos + 4;
      if (!is_chunk_id(type)) throw DecodeError(name_, "broken PNG file: invalid chunk id " + chunk_name(type));
      if (!chunk_is(type, "IDAT") && !chunk_is(type, "DDAT")) {
        if (chunk_is(type, "fdAT")) throw DecodeError(name_, "broken PNG file: APNG frame data inside the default image");
        return false;
      }
      size_t length = load_u32be(d_ + pos);
      size_t start = pos + 8;
      size_t available = start <= n_ ? std::min(length, n_ - start) : 0;
      next_chunk_ = start + length + 4;
      current_end_ = next_chunk_;
      if (available == 0) {
        if (available < length) return false;
        continue;  // empty chunks are allowed
      }
      zs_.next_in = const_cast<Bytef*>(d_ + start);
      zs_.avail_in = uInt(available);
      return true;
    }
  }

  const uint8_t* d_;
  size_t n_;
  const std::string& name_;
  size_t next_chunk_;
  size_t current_end_ = 0;
  z_stream zs_{};
};

struct Pass {
  int64_t x0, y0, dx, dy;
};
constexpr std::array<Pass, 7> kAdam7 = {{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                         {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}};

// Decodes the image data into `pixels` (already shaped and zeroed where no data lands).
// Returns the offset after the image-data chunk in which decoding completed.
size_t decode_rows(const uint8_t* d, size_t n, size_t first_idat, const PngStream& st,
                   int64_t x_off, int64_t y_off, int64_t w, int64_t h, Tensor& pixels) {
  const ModeSpec& spec = *st.spec;
  ImageDataReader reader(d, n, first_idat, st.name);
  size_t pixel_bytes = (spec.channels ? size_t(spec.channels) : 1) * dtype_size(spec.dtype);
  size_t out_row_bytes = size_t(pixels.dim(1)) * pixel_bytes;
  uint8_t* out = static_cast<uint8_t*>(pixels.raw_data());
  size_t bpp = std::max(1, spec.bits_per_pixel / 8);

  std::vector<Pass> passes;
  if (st.interlaced) {
    passes.assign(kAdam7.begin(), kAdam7.end());
  } else {
    passes.push_back({0, 0, 1, 1});
  }
  size_t max_row = (size_t(w) * size_t(spec.bits_per_pixel) + 7) / 8;
  std::vector<uint8_t> buffers(2 * (max_row + 1));
  for (const Pass& p : passes) {
    int64_t pw = w > p.x0 ? (w - p.x0 + p.dx - 1) / p.dx : 0;
    int64_t ph = h > p.y0 ? (h - p.y0 + p.dy - 1) / p.dy : 0;
    if (pw == 0 || ph == 0) continue;
    size_t row_bytes = (size_t(pw) * size_t(spec.bits_per_pixel) + 7) / 8;
    uint8_t* cur = buffers.data();
    uint8_t* prev = cur + max_row + 1;
    std::memset(prev, 0, row_bytes + 1);
    for (int64_t r = 0; r < ph; ++r) {
      reader.read(cur, row_bytes + 1);
      unfilter_row(cur[0], cur + 1, prev + 1, row_bytes, bpp, st.name);
      int64_t y = y_off + p.y0 + r * p.dy;
      uint8_t* dst = out + size_t(y) * out_row_bytes + size_t(x_off + p.x0) * pixel_bytes;
      unpack_row(spec.format, cur + 1, pw, dst, size_t(p.dx) * pixel_bytes);
      std::swap(cur, prev);
    }
  }
  return reader.end_of_current_chunk();
}

// Everything Image.open learns before the pixels: the chunks up to the first IDAT.
struct PngHeader {
  PngStream stream;
  size_t first_idat = 0;
};

PngHeader read_png_header(const uint8_t* d, size_t n, const std::string& name) {
  PngHeader h;
  PngStream& st = h.stream;
  st.name = name;
  size_t pos = 8;
  for (;;) {
    if (pos + 8 > n) st.fail("cannot identify image file: PNG data ends before the image data (IDAT)");
    size_t length = load_u32be(d + pos);
    const uint8_t* type = d + pos + 4;
    if (!is_chunk_id(type)) st.fail("broken PNG file: invalid chunk id '" + chunk_name(type) + "'");
    size_t start = pos + 8;
    if (chunk_is(type, "IDAT")) {
      h.first_idat = pos;
      break;
    }
    if (chunk_is(type, "IEND")) st.fail("cannot load this image: PNG has no image data (IDAT)");
    if (chunk_is(type, "fdAT")) st.fail("unsupported PNG: APNG frame data before the default image");
    if (length > n - start) st.fail("broken PNG file: truncated " + chunk_name(type) + " chunk");
    st.handle(type, d + start, length);
    if (start + length + 4 > n) st.fail("broken PNG file: incomplete checksum in " + chunk_name(type));
    uLong crc = crc32(crc32(0, type, 4), d + start, uInt(length));
    if (crc != load_u32be(d + start + length)) {
      st.fail("broken PNG file: bad checksum in " + chunk_name(type) + " chunk");
    }
    pos = start + length + 4;
  }
  if (!st.have_header || !st.spec) {
    st.fail("cannot identify image file: unsupported PNG colour type/bit depth");
  }
  if (st.width <= 0 || st.height <= 0) st.fail("cannot identify image file: PNG image has no pixels");
  return h;
}

// The chunks after the image data, as PngImageFile.load_end reads them (no CRC checks).
void read_trailing_chunks(const uint8_t* d, size_t n, size_t pos, PngStream& st, bool animated) {
  for (;;) {
    if (pos + 8 > n) return;
    size_t length = load_u32be(d + pos);
    const uint8_t* type = d + pos + 4;
    if (!is_chunk_id(type) || chunk_is(type, "IEND")) return;
    if (chunk_is(type, "fcTL") && animated) return;
    size_t start = pos + 8;
    if (length > n - start) st.fail("broken PNG file: truncated " + chunk_name(type) + " chunk after the image data");
    if (!chunk_is(type, "IDAT") && !chunk_is(type, "fdAT")) st.handle(type, d + start, length);
    pos = start + length + 4;
  }
}

ImageInfo info_from(const PngHeader& h, int orientation) {
  return ImageInfo{"PNG", h.stream.spec->mode, h.stream.width, h.stream.height, orientation};
}

}  // namespace

ImageInfo probe_png(const uint8_t* data, size_t size, const std::string& name) {
  PngHeader h = read_png_header(data, size, name);
  PngStream& st = h.stream;
  ImageInfo info = info_from(h, 1);  // mode and size are Image.open's, whatever follows
  if (st.meta.exif) {
    info.exif_orientation = effective_orientation(st.meta.orientation());
    return info;
  }
  // Metadata after the image data counts too (see decode_png); without decoding, the image data
  // is taken to end with the last of the consecutive IDAT chunks.
  size_t pos = h.first_idat;
  while (pos + 8 <= size && std::memcmp(data + pos + 4, "IDAT", 4) == 0) {
    pos += 12 + size_t(load_u32be(data + pos));
  }
  try {
    read_trailing_chunks(data, size, pos, st, /*animated=*/false);
  } catch (const DecodeError&) {
    // A damaged trailer fails decode_png, not the probe.
  }
  info.exif_orientation = effective_orientation(st.meta.orientation());
  return info;
}

DecodedImage decode_png(const uint8_t* data, size_t size, const std::string& name,
                        const DecodeOptions& opts, BufferPool* pool) {
  PngHeader h = read_png_header(data, size, name);
  PngStream& st = h.stream;
  const ModeSpec& spec = *st.spec;
  DecodedImage image = checked_image("PNG", spec.mode, st.width, st.height, opts, name);
  if (std::strcmp(spec.mode, "P") == 0) {
    image.palette = default_palette();
    if (st.have_palette) {
      size_t entries = st.palette_size / 3;
      if (entries > 256) throw DecodeError(name, "invalid palette size (" + std::to_string(entries) + " entries)");
      std::memcpy(image.palette.data(), st.palette, entries * 3);
    }
  }

  Shape shape = spec.channels ? Shape{st.height, st.width, spec.channels} : Shape{st.height, st.width};
  int64_t x0 = 0, y0 = 0, w = st.width, hgt = st.height;
  bool partial = st.have_bbox && (st.bbox[0] != 0 || st.bbox[1] != 0 || st.bbox[2] != st.width ||
                                  st.bbox[3] != st.height);
  if (st.have_bbox) {  // APNG whose first frame is the IDAT image: Pillow decodes its region
    x0 = st.bbox[0];
    y0 = st.bbox[1];
    w = st.bbox[2] - x0;
    hgt = st.bbox[3] - y0;
  }
  // A header can claim a size the file cannot hold: deflate expands at most 1032:1 (a 258-byte
  // match in 2 bits), so image data that cannot fill the rows even at that ratio is truncated,
  // which Pillow reports after allocating; here it is refused before.
  if (w > 0 && hgt > 0) {
    const __int128 min_raw = static_cast<__int128>(w) * hgt * spec.bits_per_pixel / 8;
    const __int128 max_raw = static_cast<__int128>(size - h.first_idat) * 1032 + 65536;
    if (min_raw > max_raw) {
      throw DecodeError(name, "image file is truncated (PNG image data ends early: " + std::to_string(size - h.first_idat) +
                                  " bytes cannot hold a " + std::to_string(w) + "x" + std::to_string(hgt) + " image)");
    }
  }
  image.pixels = partial ? Tensor::zeros(spec.dtype, shape, pool) : Tensor::empty(spec.dtype, shape, pool);
  size_t after = w > 0 && hgt > 0 ? decode_rows(data, size, h.first_idat, st, x0, y0, w, hgt, image.pixels)
                                  : h.first_idat;

  // exif_transpose calls getexif(), which loads the file first (reading the chunks after the
  // image data) only when no "exif" entry was found before the image data.
  PngMetadata before = st.meta;
  bool animated = st.animated_header && (st.frame_count + (st.have_bbox ? 0 : 1)) > 1;
  read_trailing_chunks(data, size, after, st, animated);
  image.exif_orientation = effective_orientation(before.exif ? before.orientation() : st.meta.orientation());
  return image;
}

}  // namespace pixelflow::ops::detail
