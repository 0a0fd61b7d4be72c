// BMP: Pillow 9.4's BmpImagePlugin. The header decides a mode and a Pillow "raw mode" (how the
// bytes of a row become pixels); palettes that are a plain grey ramp turn the image into "L"
// (or "1" for black/white), even when that raw mode then reads the rows differently than the
// file's bit depth would suggest, exactly as Pillow does. RLE4/RLE8 follow Pillow's Python RLE
// decoder, including its handling of deltas and short data.
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string_view>

#include "ops/decode_image/codecs.h"

namespace pixelflow::ops::detail {
namespace {

enum class RawMode { kBit1, kIndex1, kIndex4, kByte, kBgr15, kBgr16, kBgr, kBgrx, kXbgr, kAbgr, kRgba, kBgra };

int raw_bits(RawMode m) {
  switch (m) {
    case RawMode::kBit1: case RawMode::kIndex1: return 1;
    case RawMode::kIndex4: return 4;
    case RawMode::kByte: return 8;
    case RawMode::kBgr15: case RawMode::kBgr16: return 16;
    case RawMode::kBgr: return 24;
    default: return 32;
  }
}

struct BmpHeader {
  int64_t width = 0, height = 0;
  int bits = 0;
  uint32_t compression = 0;
  bool top_down = false;
  std::string_view mode;  // Pillow mode
  RawMode raw = RawMode::kByte;
  bool rle = false, rle4 = false;
  uint64_t data_offset = 0;
  int64_t stride = 0;
  std::vector<uint8_t> palette;  // "P": 768 bytes
};

[[noreturn]] void throw_decode_error(const std::string& name, const std::string& why) {
  throw DecodeError(name, why);
}

constexpr uint32_t kRaw = 0, kRle8 = 1, kRle4 = 2, kBitfields = 3;

// What the parts of read_bmp_header pass between them while the header is read.
struct BmpHeaderReader {
  const uint8_t* d;
  size_t n;
  const std::string& name;
  uint64_t offset = 0;          // the file header's pixel data offset
  uint32_t header_size = 0;     // the info header's size field
  const uint8_t* hd = nullptr;  // the info header after its size field
  size_t hd_len = 0;
  uint64_t pos = 0;  // file position of what follows (masks, palette)
  uint64_t colors = 0;
  size_t palette_padding = 4;
  uint32_t masks[4] = {0, 0, 0, 0};

  [[noreturn]] void fail(const std::string& why) const { throw_decode_error(name, why); }

  void read_file_header();
  void read_info_header(BmpHeader& h);
  void read_core_header(BmpHeader& h);
  void read_windows_header(BmpHeader& h);
  void read_bitfield_masks();
  void set_mode_for_depth(BmpHeader& h) const;
  void apply_compression(BmpHeader& h) const;
  void read_palette(BmpHeader& h);
  void finish(BmpHeader& h) const;
};

// BITMAPFILEHEADER and the info header's size field.
void BmpHeaderReader::read_file_header() {
  if (n < 18) fail("cannot identify image file: BMP header is truncated");
  offset = load_u32le(d + 10);
  header_size = load_u32le(d + 14);
  if (header_size < 4 || uint64_t(header_size) - 4 > n - 18) fail("broken BMP file: truncated info header");
  hd = d + 18;
  hd_len = header_size - 4;
  pos = 14 + uint64_t(header_size);  // file position after the info header
}

// The info header by version, then the colour count and the palette's share of the offset.
void BmpHeaderReader::read_info_header(BmpHeader& h) {
  if (header_size == 12) {
    read_core_header(h);
  } else if (header_size == 40 || header_size == 64 || header_size == 108 || header_size == 124) {
    read_windows_header(h);
  } else {
    fail("unsupported BMP header type (" + std::to_string(header_size) + ")");
  }
  if (colors == 0) colors = h.bits < 63 ? (uint64_t(1) << h.bits) : ~uint64_t(0);
  if (offset == 14 + uint64_t(header_size) && h.bits <= 8) offset += 4 * colors;
}

// BITMAPCOREHEADER (OS/2 1.x): 16-bit sizes, 3-byte palette entries.
void BmpHeaderReader::read_core_header(BmpHeader& h) {
  h.width = load_u16le(hd);
  h.height = load_u16le(hd + 2);
  h.bits = load_u16le(hd + 6);
  h.compression = kRaw;
  palette_padding = 3;
}

// BITMAPINFOHEADER and its V2..V5 extensions.
void BmpHeaderReader::read_windows_header(BmpHeader& h) {
  h.top_down = hd[7] == 0xFF;
  h.width = load_u32le(hd);
  h.height = h.top_down ? int64_t(4294967296LL - load_u32le(hd + 4)) : int64_t(load_u32le(hd + 4));
  h.bits = load_u16le(hd + 10);
  h.compression = load_u32le(hd + 12);
  colors = load_u32le(hd + 28);
  if (h.compression == kBitfields) read_bitfield_masks();
}

void BmpHeaderReader::read_bitfield_masks() {
  if (hd_len >= 52) {
    for (int i = 0; i < 4; ++i) masks[i] = load_u32le(hd + 36 + 4 * i);
  } else {  // 40-byte header: three masks follow it in the file
    if (pos + 12 > n) fail("broken BMP file: truncated bitfield masks");
    for (int i = 0; i < 3; ++i) masks[i] = load_u32le(d + pos + 4 * i);
    pos += 12;
  }
}

// Mode and raw mode by bit depth, before compression and palette have their say.
void BmpHeaderReader::set_mode_for_depth(BmpHeader& h) const {
  switch (h.bits) {
    case 1: h.mode = "P"; h.raw = RawMode::kIndex1; break;
    case 4: h.mode = "P"; h.raw = RawMode::kIndex4; break;
    case 8: h.mode = "P"; h.raw = RawMode::kByte; break;
    case 16: h.mode = "RGB"; h.raw = RawMode::kBgr15; break;
    case 24: h.mode = "RGB"; h.raw = RawMode::kBgr; break;
    case 32: h.mode = "RGB"; h.raw = RawMode::kBgrx; break;
    default: fail("unsupported BMP pixel depth (" + std::to_string(h.bits) + ")");
  }
}

// The raw mode Pillow's BmpImagePlugin knows for these masks at this depth, if any; an alpha
// layout turns the mode into "RGBA".
std::optional<RawMode> bitfield_raw_mode(const uint32_t masks[4], BmpHeader& h) {
  auto rgb_is = [&](uint32_t r, uint32_t g, uint32_t b) { return masks[0] == r && masks[1] == g && masks[2] == b; };
  auto rgba_is = [&](uint32_t r, uint32_t g, uint32_t b, uint32_t a) { return rgb_is(r, g, b) && masks[3] == a; };
  std::optional<RawMode> raw;
  if (h.bits == 32) {
    if (rgba_is(0xFF0000, 0xFF00, 0xFF, 0)) raw = RawMode::kBgrx;
    else if (rgba_is(0xFF000000, 0xFF0000, 0xFF00, 0)) raw = RawMode::kXbgr;
    else if (rgba_is(0xFF000000, 0xFF0000, 0xFF00, 0xFF)) raw = RawMode::kAbgr;
    else if (rgba_is(0xFF, 0xFF00, 0xFF0000, 0xFF000000)) raw = RawMode::kRgba;
    else if (rgba_is(0xFF0000, 0xFF00, 0xFF, 0xFF000000)) raw = RawMode::kBgra;
    else if (rgba_is(0, 0, 0, 0)) raw = RawMode::kBgra;
    if (raw && (*raw == RawMode::kAbgr || *raw == RawMode::kRgba || *raw == RawMode::kBgra)) h.mode = "RGBA";
  } else if (h.bits == 24) {
    if (rgb_is(0xFF0000, 0xFF00, 0xFF)) raw = RawMode::kBgr;
  } else if (h.bits == 16) {
    if (rgb_is(0xF800, 0x7E0, 0x1F)) raw = RawMode::kBgr16;
    else if (rgb_is(0x7C00, 0x3E0, 0x1F)) raw = RawMode::kBgr15;
  }
  return raw;
}

void BmpHeaderReader::apply_compression(BmpHeader& h) const {
  if (h.compression == kBitfields) {
    std::optional<RawMode> raw = bitfield_raw_mode(masks, h);
    if (!raw) fail("unsupported BMP bitfields layout");
    h.raw = *raw;
  } else if (h.compression == kRle8 || h.compression == kRle4) {
    h.rle = true;
    h.rle4 = h.compression == kRle4;
  } else if (h.compression != kRaw) {
    fail("unsupported BMP compression (" + std::to_string(h.compression) + ")");
  }
}

// Whether the `got` palette bytes are exactly the grey ramp (or black, white for two colours).
bool is_grey_palette(const uint8_t* pal, size_t got, uint64_t colors, size_t palette_padding) {
  bool greyscale = true;
  for (uint64_t i = 0; i < colors && greyscale; ++i) {
    uint8_t v = colors == 2 ? (i ? 255 : 0) : uint8_t(i & 255);
    uint64_t at = i * palette_padding;
    greyscale = at + 3 <= got && pal[at] == v && pal[at + 1] == v && pal[at + 2] == v;
  }
  return greyscale;
}

// The palette of a "P" image: a grey one is dropped (mode "1"/"L"), any other becomes h.palette.
void BmpHeaderReader::read_palette(BmpHeader& h) {
  if (colors == 0 || colors > 65536) fail("unsupported BMP palette size (" + std::to_string(colors) + ")");
  uint64_t want = palette_padding * colors;
  size_t got = pos < n ? size_t(std::min<uint64_t>(want, n - pos)) : 0;
  const uint8_t* pal = d + std::min<uint64_t>(pos, n);
  pos += got;
  if (is_grey_palette(pal, got, colors, palette_padding)) {
    h.mode = colors == 2 ? "1" : "L";
    h.raw = colors == 2 ? RawMode::kBit1 : RawMode::kByte;
  } else {
    size_t entries = got / palette_padding;  // Pillow unpacks "BGR"/"BGRX" palettes
    if (entries > 256) fail("invalid palette size (" + std::to_string(entries) + " entries)");
    h.palette = default_palette();
    for (size_t i = 0; i < entries; ++i) {
      const uint8_t* e = pal + i * palette_padding;
      h.palette[3 * i] = e[2];
      h.palette[3 * i + 1] = e[1];
      h.palette[3 * i + 2] = e[0];
    }
  }
}

// Data offset and row stride; an image without pixels is rejected last, as Pillow does.
void BmpHeaderReader::finish(BmpHeader& h) const {
  h.data_offset = offset ? offset : pos;
  h.stride = int64_t(((uint64_t(h.width) * uint64_t(h.bits) + 31) >> 3) & ~uint64_t(3));
  if (h.width <= 0 || h.height <= 0) fail("cannot identify image file: BMP image has no pixels");
}

BmpHeader read_bmp_header(const uint8_t* d, size_t n, const std::string& name) {
  BmpHeaderReader r{d, n, name};
  r.read_file_header();
  BmpHeader h;
  r.read_info_header(h);
  r.set_mode_for_depth(h);
  r.apply_compression(h);
  if (h.mode == "P") r.read_palette(h);
  r.finish(h);
  return h;
}

void unpack_row(RawMode m, const uint8_t* in, int64_t width, uint8_t* out) {
  auto bgr15 = [](uint32_t p, uint8_t* o) {
    o[2] = uint8_t((p & 31) * 255 / 31);
    o[1] = uint8_t(((p >> 5) & 31) * 255 / 31);
    o[0] = uint8_t(((p >> 10) & 31) * 255 / 31);
  };
  auto bgr16 = [](uint32_t p, uint8_t* o) {
    o[2] = uint8_t((p & 31) * 255 / 31);
    o[1] = uint8_t(((p >> 5) & 63) * 255 / 63);
    o[0] = uint8_t(((p >> 11) & 31) * 255 / 31);
  };
  // Input pixels of `in_bytes` bytes to output pixels of N bytes: out byte k = input byte order[k].
  auto reorder = [&]<size_t N>(int64_t in_bytes, const std::array<int, N>& order) {
    for (int64_t x = 0; x < width; ++x)
      for (size_t k = 0; k < N; ++k) out[int64_t(N) * x + int64_t(k)] = in[in_bytes * x + order[k]];
  };
  switch (m) {
    case RawMode::kBit1:  // "1": bool bytes 0x00/0xFF, as np.array of a "1" image holds them
      for (int64_t x = 0; x < width; ++x) out[x] = ((in[x >> 3] >> (7 - (x & 7))) & 1) ? 0xFF : 0;
      break;
    case RawMode::kIndex1:
      for (int64_t x = 0; x < width; ++x) out[x] = (in[x >> 3] >> (7 - (x & 7))) & 1;
      break;
    case RawMode::kIndex4:
      for (int64_t x = 0; x < width; ++x) out[x] = (x & 1) ? (in[x >> 1] & 15) : (in[x >> 1] >> 4);
      break;
    case RawMode::kByte:
      std::memcpy(out, in, size_t(width));
      break;
    case RawMode::kBgr15:
      for (int64_t x = 0; x < width; ++x) bgr15(load_u16le(in + 2 * x), out + 3 * x);
      break;
    case RawMode::kBgr16:
      for (int64_t x = 0; x < width; ++x) bgr16(load_u16le(in + 2 * x), out + 3 * x);
      break;
    case RawMode::kBgr: reorder(3, std::array{2, 1, 0}); break;
    case RawMode::kBgrx: reorder(4, std::array{2, 1, 0}); break;
    case RawMode::kXbgr: reorder(4, std::array{3, 2, 1}); break;
    case RawMode::kAbgr: reorder(4, std::array{3, 2, 1, 0}); break;
    case RawMode::kRgba:
      std::memcpy(out, in, size_t(width) * 4);
      break;
    case RawMode::kBgra: reorder(4, std::array{2, 1, 0, 3}); break;
  }
}

// BmpRleDecoder.decode of Pillow 9.4: returns the index bytes it produces (at least w*h when
// the data suffice).
std::vector<uint8_t> expand_rle(const uint8_t* d, size_t n, uint64_t start, int64_t width, int64_t height,
                                bool rle4, const std::string& name) {
  std::vector<uint8_t> data;
  size_t total = size_t(width) * size_t(height);
  // Grown as the data expands (a header may claim far more than the file holds).
  data.reserve(std::min<uint64_t>(total, uint64_t(n) * 2 + 4096));
  uint64_t pos = start;
  auto read_byte = [&](uint8_t* v) {
    if (pos >= n) return false;
    *v = d[pos++];
    return true;
  };
  int64_t x = 0;
  while (data.size() < total) {
    uint8_t count, byte;
    bool have_count = read_byte(&count);
    bool have_byte = have_count && read_byte(&byte);
    if (!have_count || !have_byte) break;
    if (count) {  // encoded run
      int64_t run = x + count > width ? std::max<int64_t>(0, width - x) : count;
      for (int64_t i = 0; i < run; ++i) data.push_back(rle4 ? ((i & 1) ? (byte & 15) : (byte >> 4)) : byte);
      x += run;
    } else if (byte == 0) {  // end of line
      while (data.size() % size_t(width) != 0) data.push_back(0);
      x = 0;
    } else if (byte == 1) {  // end of bitmap
      break;
    } else if (byte == 2) {  // delta: Pillow reads two pairs of bytes and uses the second
      if (pos + 2 > n) break;
      pos += 2;
      if (pos + 2 > n) throw DecodeError(name, "broken BMP RLE data: truncated delta");
      uint8_t right = d[pos], up = d[pos + 1];
      pos += 2;
      // Bytes past w*h are never read: the fill stops there (Pillow's loop ends there too).
      size_t fill = size_t(right) + size_t(up) * size_t(width);
      data.insert(data.end(), std::min(fill, total - data.size()), 0);
      x = int64_t(data.size() % size_t(width));
    } else {  // absolute run
      size_t want = rle4 ? byte / 2 : byte;
      size_t got = pos < n ? size_t(std::min<uint64_t>(want, n - pos)) : 0;
      for (size_t i = 0; i < got; ++i) {
        uint8_t v = d[pos + i];
        if (rle4) {
          data.push_back(v >> 4);
          data.push_back(v & 15);
        } else {
          data.push_back(v);
        }
      }
      pos += got;
      if (got < want) break;
      x += byte;
      if (pos % 2) ++pos;  // runs are word aligned in the file
    }
  }
  return data;
}

ImageInfo info_from(const BmpHeader& h) { return ImageInfo{"BMP", std::string(h.mode), h.width, h.height, 1}; }

}  // namespace

ImageInfo probe_bmp(const uint8_t* data, size_t size, const std::string& name) {
  return info_from(read_bmp_header(data, size, name));
}

DecodedImage decode_bmp(const uint8_t* data, size_t size, const std::string& name,
                        const DecodeOptions& opts, BufferPool* pool) {
  BmpHeader h = read_bmp_header(data, size, name);
  DecodedImage image = checked_image("BMP", std::string(h.mode), h.width, h.height, opts, name);
  image.palette = h.palette;
  int channels = h.mode == "RGB" ? 3 : h.mode == "RGBA" ? 4 : 0;
  DType dtype = h.mode == "1" ? DType::kBool : DType::kUInt8;
  Shape shape = channels ? Shape{h.height, h.width, channels} : Shape{h.height, h.width};

  const uint8_t* rows = nullptr;
  int64_t row_bytes = 0, stride = 0;
  RawMode raw = h.raw;
  std::vector<uint8_t> expanded;
  if (h.rle) {
    expanded = expand_rle(data, size, h.data_offset, h.width, h.height, h.rle4, name);
    if (h.mode != "P" && h.mode != "L") {
      throw DecodeError(name, "unsupported BMP: RLE compression with a " + std::to_string(h.bits) + "-bit " + std::string(h.mode) + " image");
    }
    if (expanded.size() < size_t(h.width) * size_t(h.height)) {
      throw DecodeError(name, "broken BMP RLE data: not enough image data");
    }
    raw = RawMode::kByte;
    rows = expanded.data();
    row_bytes = stride = h.width;
  } else {
    row_bytes = (h.width * raw_bits(raw) + 7) / 8;
    stride = h.stride;
    if (stride < row_bytes) {
      // Only a 4-bit file with the palette 0..15 as grey gets here (mode "L", bytes read as
      // 8-bit pixels). Pillow then memory-maps the file: row y starts at offset + y * stride and
      // reads `width` bytes, overlapping the next row; bytes past the end of the file read as 0.
      // When the mapping would not cover height * stride bytes it decodes instead, and fails.
      bool mappable = raw == RawMode::kByte && h.data_offset <= size &&
                      uint64_t(h.height) * uint64_t(stride) <= size - h.data_offset;
      if (!mappable) throw DecodeError(name, "broken BMP file: row stride smaller than a row");
      size_t span = size_t(h.height - 1) * size_t(stride) + size_t(row_bytes);
      expanded.assign(span, 0);
      size_t available = std::min<size_t>(span, size - h.data_offset);
      std::memcpy(expanded.data(), data + h.data_offset, available);
      rows = expanded.data();
    } else {
      uint64_t need = uint64_t(h.height - 1) * uint64_t(stride) + uint64_t(row_bytes);
      if (h.data_offset > size || size - h.data_offset < need) {
        throw DecodeError(name, "image file is truncated (BMP pixel data ends early)");
      }
      rows = data + h.data_offset;
    }
  }

  image.pixels = Tensor::empty(dtype, shape, pool);
  uint8_t* out = static_cast<uint8_t*>(image.pixels.raw_data());
  size_t out_row = size_t(h.width) * size_t(channels ? channels : 1);
  for (int64_t r = 0; r < h.height; ++r) {
    int64_t y = h.top_down ? r : h.height - 1 - r;  // rows are stored bottom-up unless top-down
    unpack_row(raw, rows + r * stride, h.width, out + size_t(y) * out_row);
  }
  return image;
}

}  // namespace pixelflow::ops::detail
