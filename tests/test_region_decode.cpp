// Region-of-interest JPEG decoding.
//
// Exactness of region decoding is checked against the full decode (which test_decode_image.cpp
// checks against Pillow): pixels inside the region, over JPEGs encoded here with every sampling
// factor, progressive or not, restart intervals, arithmetic coding, 1/3/4 components, and the
// fixtures; and the decoder's accept/refuse outcome on damaged files.
#include <catch2/catch.hpp>

#include <jpeglib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "graph/errors.h"
#include "ops/decode_image/decode_image.h"

using namespace pixelflow;

namespace {

std::string data_file(const std::string& rel) { return std::string(PIXELFLOW_TEST_DATA_DIR) + "/" + rel; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// ---------------------------------------------------------------------------------------------
// JPEGs encoded here (libjpeg's compressor), so that every layout is covered.

struct EncodeSpec {
  int width = 64, height = 48;
  int components = 3;          // 1 grey, 3 YCbCr, 4 CMYK (Adobe)
  int h = 2, v = 2;            // sampling factors of the first component (the others 1x1)
  int progressive = 0;         // 0 baseline, 1 complete progression, 2 incomplete (some AC never sent)
  int restart = 0;             // restart interval in MCUs
  bool arithmetic = false;
  int quality = 85;
};

std::string describe(const EncodeSpec& e) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%dx%d c%d %dx%d prog%d rst%d arith%d q%d", e.width, e.height, e.components, e.h, e.v,
                e.progressive, e.restart, int(e.arithmetic), e.quality);
  return buf;
}

std::string encode_jpeg(const EncodeSpec& e, uint32_t seed) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  jpeg_mem_dest(&c, &out, &out_size);
  c.image_width = JDIMENSION(e.width);
  c.image_height = JDIMENSION(e.height);
  c.input_components = e.components;
  c.in_color_space = e.components == 1 ? JCS_GRAYSCALE : e.components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, e.quality, TRUE);
  if (e.components > 1) {
    c.comp_info[0].h_samp_factor = e.h;
    c.comp_info[0].v_samp_factor = e.v;
    for (int k = 1; k < e.components; ++k) c.comp_info[k].h_samp_factor = c.comp_info[k].v_samp_factor = 1;
  }
  static jpeg_scan_info partial[4];
  if (e.progressive == 1) jpeg_simple_progression(&c);
  if (e.progressive == 2) {  // DC of all, a few AC of the first two components: block smoothing
    int n = 0;
    partial[n] = jpeg_scan_info{};
    partial[n].comps_in_scan = std::min(e.components, 4);
    for (int k = 0; k < partial[n].comps_in_scan; ++k) partial[n].component_index[k] = k;
    ++n;
    for (int k = 0; k < std::min(e.components, 2); ++k, ++n) {
      partial[n] = jpeg_scan_info{};
      partial[n].comps_in_scan = 1;
      partial[n].component_index[0] = k;
      partial[n].Ss = 1;
      partial[n].Se = k == 0 ? 5 : 2;
    }
    c.scan_info = partial;
    c.num_scans = n;
  }
  c.restart_interval = unsigned(e.restart);
  c.arith_code = e.arithmetic ? TRUE : FALSE;
  jpeg_start_compress(&c, TRUE);
  std::mt19937 rng(seed);
  const double fx = 0.01 + (rng() % 100) / 400.0, fy = 0.01 + (rng() % 100) / 400.0;
  std::vector<JSAMPLE> row(size_t(e.width) * size_t(e.components));
  for (int y = 0; y < e.height; ++y) {
    for (int x = 0; x < e.width; ++x)
      for (int k = 0; k < e.components; ++k) {
        double v = 128 + 90 * std::sin(fx * x * (k + 1) + fy * y * (3 - k % 3)) + double(rng() % 50) - 25;
        row[size_t(x) * e.components + k] = JSAMPLE(std::clamp(v, 0.0, 255.0));
      }
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  std::string bytes(reinterpret_cast<const char*>(out), out_size);
  jpeg_destroy_compress(&c);
  std::free(out);
  return bytes;
}

// ---------------------------------------------------------------------------------------------

ops::DecodedImage decode(const std::string& bytes, std::optional<ops::PixelRect> region = std::nullopt,
                         int* plan_calls = nullptr, BufferPool* pool = nullptr) {
  ops::DecodeOptions o;
  if (region || plan_calls) {
    o.plan = [region, plan_calls](const ops::ImageInfo&) {
      if (plan_calls) ++*plan_calls;
      ops::DecodePlan p;
      p.region = region;
      return p;
    };
  }
  return ops::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.jpg", o, pool);
}

ops::PixelRect clip(const ops::PixelRect& r, int64_t w, int64_t h) {
  auto end = [](int64_t a, int64_t b) { return int64_t(std::min<__int128>(__int128(a) + b, INT64_MAX)); };
  int64_t x0 = std::clamp<int64_t>(r.x, 0, w), y0 = std::clamp<int64_t>(r.y, 0, h);
  int64_t x1 = std::clamp<int64_t>(end(r.x, r.width), x0, w), y1 = std::clamp<int64_t>(end(r.y, r.height), y0, h);
  return {x0, y0, x1 - x0, y1 - y0};
}

// Index of the first byte of `r` in `a` that differs from `b`, or -1.
int64_t first_difference(const Tensor& a, const Tensor& b, const ops::PixelRect& r) {
  REQUIRE(a.shape() == b.shape());
  const int64_t w = a.dim(1), px = a.ndim() == 3 ? a.dim(2) : 1;
  const uint8_t* pa = a.data<uint8_t>();
  const uint8_t* pb = b.data<uint8_t>();
  for (int64_t y = r.y; y < r.y + r.height; ++y) {
    const int64_t at = (y * w + r.x) * px;
    if (std::memcmp(pa + at, pb + at, size_t(r.width * px)) != 0)
      for (int64_t i = 0; i < r.width * px; ++i)
        if (pa[at + i] != pb[at + i]) return at + i;
  }
  return -1;
}

// Random rectangles, edges and single pixels included, some reaching outside the image.
ops::PixelRect random_rect(std::mt19937& rng, int64_t w, int64_t h) {
  auto pick = [&](int64_t size, int64_t& start, int64_t& len) {
    switch (rng() % 5) {
      case 0: start = 0; len = 1 + int64_t(rng() % uint32_t(size)); break;                   // from the edge
      case 1: start = int64_t(rng() % uint32_t(size)); len = size - start; break;            // to the edge
      case 2: start = int64_t(rng() % uint32_t(size)); len = 1; break;                       // one line
      case 3: start = int64_t(rng() % uint32_t(size)) - 3; len = size + 6; break;            // beyond
      default: start = int64_t(rng() % uint32_t(size)); len = 1 + int64_t(rng() % uint32_t(size - start)); break;
    }
  };
  ops::PixelRect r;
  pick(w, r.x, r.width);
  pick(h, r.y, r.height);
  return r;
}

// Pillow-exact decode of `bytes` with and without a region: both refuse with the same message
// or both decode, equal inside the region.
std::string outcome(const std::string& bytes, std::optional<ops::PixelRect> region, ops::DecodedImage* img) {
  try {
    *img = decode(bytes, region);
    return "ok";
  } catch (const Error& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("region decode: every pixel inside the region equals the full decode", "[decode_region]") {
  const int samplings[][2] = {{1, 1}, {2, 1}, {2, 2}, {1, 2}, {4, 1}, {4, 2}, {1, 4}, {2, 4}, {3, 1}};
  std::mt19937 rng(2024);
  int images = 0, regions = 0, honoured = 0;
  for (int components : {1, 3, 4}) {
    for (const auto& s : samplings) {
      if (components == 1 && (s[0] != 1 || s[1] != 1)) continue;
      if (s[0] * s[1] + components - 1 > 10) continue;  // libjpeg: at most 10 blocks per MCU
      for (int variant = 0; variant < 6; ++variant) {
        EncodeSpec e;
        e.components = components;
        e.h = s[0];
        e.v = s[1];
        e.progressive = variant % 3 == 1 ? 1 : 0;
        e.restart = variant % 3 == 2 ? 1 + int(rng() % 4) : 0;
        e.arithmetic = variant == 4;  // progressive arithmetic: every scan read before the rows
        if (variant == 4) e.progressive = 1;
        e.quality = variant == 5 ? 100 : 80;
        e.width = 1 + int(rng() % (variant < 2 ? 40 : 260));
        e.height = 1 + int(rng() % (variant < 2 ? 40 : 200));
        const std::string bytes = encode_jpeg(e, rng());
        INFO(describe(e));
        const ops::DecodedImage full = decode(bytes);
        REQUIRE(!full.valid);
        ++images;
        for (int t = 0; t < 25; ++t) {
          const ops::PixelRect want = random_rect(rng, e.width, e.height);
          INFO("region x " << want.x << " y " << want.y << " w " << want.width << " h " << want.height);
          const ops::DecodedImage part = decode(bytes, want);
          const ops::PixelRect c = clip(want, e.width, e.height);
          REQUIRE(part.pixels.shape() == full.pixels.shape());
          CHECK(part.mode == full.mode);
          const bool whole = c.width == e.width && c.height == e.height;
          CHECK(bool(part.valid) == !whole);
          if (part.valid) {
            CHECK(*part.valid == c);
            ++honoured;
          }
          CHECK(first_difference(part.pixels, full.pixels, c) == -1);
          ++regions;
        }
      }
    }
  }
  CHECK(images >= 100);
  CHECK(honoured > regions / 2);
}

TEST_CASE("region decode falls back to a full decode where it could not stay exact", "[decode_region]") {
  std::mt19937 rng(7);
  const ops::PixelRect centre{9, 7, 20, 13};
  SECTION("single-scan arithmetic coding keeps all rows (Pillow fails such files at a read-window end)") {
    EncodeSpec e;
    e.arithmetic = true;
    const std::string bytes = encode_jpeg(e, rng());
    const ops::DecodedImage part = decode(bytes, centre);
    REQUIRE(part.valid);
    const ops::DecodedImage full = decode(bytes);
    CHECK(first_difference(part.pixels, full.pixels, centre) == -1);
    // Rows outside the region were decoded too (only columns were cropped).
    CHECK(first_difference(part.pixels, full.pixels, {centre.x, 0, centre.width, e.height}) == -1);
  }
  SECTION("progressive with coefficients never sent (libjpeg smooths blocks across the crop)") {
    for (int components : {1, 3}) {
      EncodeSpec e;
      e.components = components;
      e.progressive = 2;
      e.width = 97;
      e.height = 75;
      const std::string bytes = encode_jpeg(e, rng());
      const ops::DecodedImage part = decode(bytes, centre);
      CHECK(!part.valid);
      CHECK(first_difference(part.pixels, decode(bytes).pixels, {0, 0, e.width, e.height}) == -1);
    }
  }
  SECTION("regions reaching outside the image are clipped") {
    EncodeSpec e;
    const std::string bytes = encode_jpeg(e, rng());
    const ops::DecodedImage full = decode(bytes);
    for (const ops::PixelRect& r : {ops::PixelRect{-3, 5, 10, 7}, ops::PixelRect{50, -9, 30, 20},
                                    ops::PixelRect{-100, -100, 120, 110}, ops::PixelRect{60, 40, INT64_MAX, INT64_MAX}}) {
      const ops::DecodedImage part = decode(bytes, r);
      REQUIRE(part.valid);
      const ops::PixelRect want = clip(r, e.width, e.height);
      INFO("valid " << part.valid->x << "," << part.valid->y << " " << part.valid->width << "x" << part.valid->height
                    << ", want " << want.x << "," << want.y << " " << want.width << "x" << want.height);
      CHECK(*part.valid == want);
      CHECK(first_difference(part.pixels, full.pixels, *part.valid) == -1);
    }
  }
  SECTION("a region covering the image, or empty") {
    EncodeSpec e;
    const std::string bytes = encode_jpeg(e, rng());
    CHECK(!decode(bytes, ops::PixelRect{-5, -5, 1000, 1000}).valid);
    CHECK(!decode(bytes, ops::PixelRect{3, 3, 0, 5}).valid);
    CHECK(!decode(bytes, ops::PixelRect{200, 3, 5, 5}).valid);
  }
  SECTION("other formats never call the plan") {
    int calls = 0;
    const std::string png = read_file(data_file("decode/png_c2_b8.png"));
    ops::DecodeOptions o;
    o.plan = [&](const ops::ImageInfo&) {
      ++calls;
      return ops::DecodePlan{ops::PixelRect{0, 0, 1, 1}, 2};
    };
    ops::DecodedImage img = ops::decode_image(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "p.png", o);
    CHECK(calls == 0);
    CHECK(!img.valid);
    CHECK(img.reduce == 1);
  }
}

TEST_CASE("region decode of the JPEG fixtures equals their full decode", "[decode_region]") {
  std::mt19937 rng(99);
  int checked = 0;
  for (const char* name : {"decode/jpeg_411.jpg", "decode/jpeg_440_restart.jpg", "decode/jpeg_arith_progressive.jpg", "decode/jpeg_cmyk_adobe.jpg",
                           "decode/jpeg_cmyk_no_adobe.jpg", "decode/jpeg_gray.jpg", "decode/jpeg_mpo.mpo",
                           "decode/jpeg_orientation_6.jpg", "decode/jpeg_rgb_420.jpg",
                           "decode/jpeg_rgb_422_progressive.jpg", "decode/jpeg_rgb_444_q100.jpg",
                           "decode/jpeg_rgb_no_transform.jpg", "decode/jpeg_trailing_garbage.jpg",
                           "decode/jpeg_ycck.jpg", "golden/images/jpegdec_jpg-cmyk-2.jpg",
                           "golden/images/opencv_HappyFish.jpg", "golden/images/opencv_left01.jpg",
                           "decode_region/photo_640x480.jpg"}) {
    INFO(name);
    const std::string bytes = read_file(data_file(name));
    const ops::DecodedImage full = decode(bytes);
    const int64_t w = full.pixels.dim(1), h = full.pixels.dim(0);
    for (int t = 0; t < 30; ++t) {
      const ops::PixelRect want = random_rect(rng, w, h);
      const ops::DecodedImage part = decode(bytes, want);
      CHECK(part.format == full.format);
      CHECK(part.exif_orientation == full.exif_orientation);
      CHECK(first_difference(part.pixels, full.pixels, clip(want, w, h)) == -1);
      ++checked;
    }
  }
  CHECK(checked == 540);
}

TEST_CASE("region decode accepts and refuses exactly the damaged files a full decode does", "[decode_region]") {
  std::mt19937 rng(5);
  EncodeSpec big;  // several 64 KiB read windows, restart markers
  big.width = 520;
  big.height = 400;
  big.quality = 97;
  big.restart = 7;
  std::vector<std::pair<std::string, std::string>> files{{"synthetic 520x400 q97", encode_jpeg(big, 11)}};
  for (const char* name : {"decode/jpeg_rgb_420.jpg", "decode/jpeg_rgb_422_progressive.jpg",
                           "decode/jpeg_440_restart.jpg", "decode/jpeg_missing_eoi.jpg",
                           "decode/jpeg_trailing_garbage.jpg", "decode/jpeg_truncated.jpg",
                           "decode/jpeg_cmyk_adobe.jpg", "decode/jpeg_arith_over_64k.jpg",
                           "decode_region/photo_640x480.jpg"})
    files.emplace_back(name, read_file(data_file(name)));
  REQUIRE(files[0].second.size() > 3 * 65536);
  int refused = 0, accepted = 0;
  for (const auto& [name, bytes] : files) {
    INFO(name << " (" << bytes.size() << " bytes)");
    std::vector<std::string> variants;
    const ops::ImageInfo info = ops::probe_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
    const int64_t w = info.width, h = info.height;
    variants.push_back(bytes);
    const ops::PixelRect centre{w / 4, h / 4, std::max<int64_t>(1, w / 2), std::max<int64_t>(1, h / 2)};
    std::vector<size_t> cuts{bytes.size() - 1, bytes.size() - 2, bytes.size() - 3, bytes.size() / 2,
                             bytes.size() * 9 / 10};
    for (size_t window = 65536; window < bytes.size(); window += 65536)
      for (size_t d : {0, 1, 2, 5, 64, 700}) cuts.push_back(window + d), cuts.push_back(window - d - 1);
    for (int k = 0; k < 12; ++k) cuts.push_back(size_t(rng() % bytes.size()));
    for (size_t cut : cuts)
      if (cut > 0 && cut < bytes.size()) variants.push_back(bytes.substr(0, cut));
    for (int k = 0; k < 25; ++k) {  // corrupted scan data (and sometimes headers)
      std::string v = bytes;
      const size_t at = bytes.size() / 8 + size_t(rng() % (bytes.size() - bytes.size() / 8));
      v[at] = char(rng() % 256);
      variants.push_back(std::move(v));
    }
    for (const std::string& v : variants) {
      INFO("variant of " << v.size() << " bytes");
      ops::DecodedImage a, b;
      const std::string full_outcome = outcome(v, std::nullopt, &a);
      const std::string region_outcome = outcome(v, centre, &b);
      CHECK(region_outcome == full_outcome);
      if (full_outcome == "ok" && region_outcome == "ok") {
        ++accepted;
        CHECK(first_difference(b.pixels, a.pixels, clip(centre, w, h)) == -1);
      } else {
        ++refused;
      }
    }
  }
  CHECK(refused > 50);
  CHECK(accepted > 50);
}
