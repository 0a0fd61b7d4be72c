// TIFF directories (EXIF, MPF) and the EXIF orientation, read the way Pillow 9.4's Image.Exif and
// TiffImagePlugin.ImageFileDirectory_v2 read them. Only tag 0x0112 of IFD0 matters to
// ImageOps.exif_transpose.
#include <cmath>
#include <cstring>

#include "ops/decode_image/codecs.h"

namespace pixelflow::ops::detail {
namespace {

constexpr uint16_t kOrientationTag = 0x0112;

// Bytes per value of each TIFF field type Pillow can load (0 = a type it skips).
size_t tiff_type_size(uint16_t type) {
  switch (type) {
    case 1: case 2: case 6: case 7: return 1;     // BYTE ASCII SBYTE UNDEFINED
    case 3: case 8: return 2;                     // SHORT SSHORT
    case 4: case 9: case 11: case 13: return 4;   // LONG SLONG FLOAT IFD
    case 5: case 10: case 12: case 16: return 8;  // RATIONAL SRATIONAL DOUBLE LONG8
    default: return 0;
  }
}

// The integer a loaded Orientation value compares equal to in Python, or 0.
int orientation_value(const TiffDirectory& dir, const TiffField& f) {
  const uint8_t* v = f.value;
  auto small = [](int64_t x) { return (x > -1000 && x < 1000) ? int(x) : 0; };
  auto integral = [&](double x) {
    return (std::isfinite(x) && x == std::floor(x)) ? small(int64_t(std::fmax(-1e6, std::fmin(1e6, x)))) : 0;
  };
  switch (f.type) {
    case 3: return dir.u16(v);
    case 4: case 13: return small(int64_t(dir.u32(v)));
    case 16: { uint64_t x = dir.u64(v); return x < 1000 ? int(x) : 0; }
    case 6: return int8_t(v[0]);
    case 8: return int16_t(dir.u16(v));
    case 9: return small(int32_t(dir.u32(v)));
    case 5: case 10: {  // IFDRational equals an int when num/den is exactly that int
      bool is_signed = f.type == 10;
      int64_t num = is_signed ? int64_t(int32_t(dir.u32(v))) : int64_t(dir.u32(v));
      int64_t den = is_signed ? int64_t(int32_t(dir.u32(v + 4))) : int64_t(dir.u32(v + 4));
      if (den == 0 || num % den != 0) return 0;
      return small(num / den);
    }
    case 11: { float x; uint32_t bits = dir.u32(v); std::memcpy(&x, &bits, 4); return integral(x); }
    case 12: { double x; uint64_t bits = dir.u64(v); std::memcpy(&x, &bits, 8); return integral(x); }
    default: return 0;  // BYTE and UNDEFINED load as bytes, ASCII as str: never equal to an int
  }
}

}  // namespace

const TiffField* TiffDirectory::find(uint16_t tag) const {
  for (const auto& [t, field] : fields) {
    if (t == tag) return &field;
  }
  return nullptr;
}

uint64_t TiffDirectory::u64(const uint8_t* p) const {
  uint64_t a = u32(p), b = u32(p + 4);
  return big_endian ? (a << 32 | b) : (b << 32 | a);
}

TiffDirectory read_tiff_ifd0(const uint8_t* data, size_t size) {
  TiffDirectory dir;
  if (size < 8) return dir;
  if (std::memcmp(data, "MM\x00\x2a", 4) == 0 || std::memcmp(data, "MM\x2a\x00", 4) == 0) {
    dir.big_endian = true;
  } else if (std::memcmp(data, "II\x2a\x00", 4) != 0 && std::memcmp(data, "II\x00\x2a", 4) != 0) {
    return dir;  // not a TIFF header (BigTIFF is never used for EXIF/MPF)
  }
  dir.valid = true;
  uint64_t pos = dir.u32(data + 4);
  if (pos + 2 > size) return dir;
  uint32_t count = dir.u16(data + pos);
  pos += 2;
  for (uint32_t i = 0; i < count; ++i, pos += 12) {
    if (pos + 12 > size) break;
    const uint8_t* entry = data + pos;
    uint16_t tag = dir.u16(entry);
    TiffField field;
    field.type = dir.u16(entry + 2);
    field.count = dir.u32(entry + 4);
    size_t unit = tiff_type_size(field.type);
    if (unit == 0) continue;
    uint64_t bytes = field.count * unit;
    field.value = entry + 8;
    if (bytes > 4) {
      uint64_t offset = dir.u32(entry + 8);
      if (offset + bytes > size) break;
      field.value = data + offset;
    }
    if (bytes == 0) continue;
    bool replaced = false;
    for (auto& [t, f] : dir.fields) {
      if (t == tag) {
        f = field;
        replaced = true;
      }
    }
    if (!replaced) dir.fields.emplace_back(tag, field);
  }
  return dir;
}

ExifOrientation read_exif_orientation(const uint8_t* data, size_t size) {
  if (size >= 6 && std::memcmp(data, "Exif\0\0", 6) == 0) {
    data += 6;
    size -= 6;
  }
  ExifOrientation result;
  TiffDirectory dir = read_tiff_ifd0(data, size);
  if (const TiffField* f = dir.find(kOrientationTag)) {
    result.present = true;
    result.value = orientation_value(dir, *f);
  }
  return result;
}

ExifOrientation read_xmp_orientation(const std::string& xmp) {
  static const std::string kKey = "tiff:Orientation";
  ExifOrientation result;
  for (size_t at = xmp.find(kKey); at != std::string::npos; at = xmp.find(kKey, at + 1)) {
    size_t p = at + kKey.size();
    if (xmp.compare(p, 2, "=\"") == 0) {
      p += 2;
    } else if (xmp.compare(p, 1, ">") == 0) {
      p += 1;
    } else {
      continue;
    }
    if (p < xmp.size() && xmp[p] >= '0' && xmp[p] <= '9') {
      result.present = true;
      result.value = xmp[p] - '0';
      return result;
    }
  }
  return result;
}

int effective_orientation(const ExifOrientation& o) {
  return (o.present && o.value >= 2 && o.value <= 8) ? o.value : 1;
}

}  // namespace pixelflow::ops::detail
