// Helpers shared by the JPEG decoding tests (test_region_decode.cpp, test_stream_decode.cpp):
// fixtures, JPEGs encoded here with libjpeg's compressor in every layout, rectangle clipping.
#pragma once

#include <jpeglib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "ops/decode_image/decode_image.h"

namespace pixelflow::test {

inline std::string data_file(const std::string& rel) { return std::string(PIXELFLOW_TEST_DATA_DIR) + "/" + rel; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// ---------------------------------------------------------------------------------------------
// JPEGs encoded here (libjpeg's compressor), so that every layout is covered.

struct EncodeSpec {
  int width = 64, height = 48;
  int components = 3;     // 1 grey, 3 YCbCr, 4 CMYK
  int h = 2, v = 2;       // sampling factors of the first component (the others 1x1)
  int progressive = 0;    // 0 baseline, 1 complete progression, 2 incomplete (some AC never sent)
  int restart = 0;        // restart interval in MCUs
  bool arithmetic = false;
  int quality = 85;
};

inline std::string describe(const EncodeSpec& e) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%dx%d c%d %dx%d prog%d rst%d arith%d q%d", e.width, e.height, e.components, e.h,
                e.v, e.progressive, e.restart, int(e.arithmetic), e.quality);
  return buf;
}

inline std::string encode_jpeg(const EncodeSpec& e, uint32_t seed) {
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
  std::vector<jpeg_scan_info> partial;
  if (e.progressive == 1) jpeg_simple_progression(&c);
  if (e.progressive == 2) {  // DC of all, a few AC of the first two components: block smoothing
    jpeg_scan_info dc{};
    dc.comps_in_scan = std::min(e.components, 4);
    for (int k = 0; k < dc.comps_in_scan; ++k) dc.component_index[k] = k;
    partial.push_back(dc);
    for (int k = 0; k < std::min(e.components, 2); ++k) {
      jpeg_scan_info ac{};
      ac.comps_in_scan = 1;
      ac.component_index[0] = k;
      ac.Ss = 1;
      ac.Se = k == 0 ? 5 : 2;
      partial.push_back(ac);
    }
    c.scan_info = partial.data();
    c.num_scans = int(partial.size());
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

// r clipped to a w x h image (sides that overflow int64 saturate).
inline Rect clip(const Rect& r, int64_t w, int64_t h) {
  auto end = [](int64_t a, int64_t b) { return int64_t(std::min<__int128>(__int128(a) + b, INT64_MAX)); };
  int64_t x0 = std::clamp<int64_t>(r.x, 0, w), y0 = std::clamp<int64_t>(r.y, 0, h);
  int64_t x1 = std::clamp<int64_t>(end(r.x, r.width), x0, w), y1 = std::clamp<int64_t>(end(r.y, r.height), y0, h);
  return {x0, y0, x1 - x0, y1 - y0};
}

}  // namespace pixelflow::test
