// Helpers shared by the JPEG decoding tests (test_region_decode.cpp, test_stream_decode.cpp):
// fixtures, JPEGs encoded here with libjpeg's compressor in every layout, damaged copies,
// rectangle clipping, and bundled processors and their outputs compared byte for byte.
#pragma once

#include <jpeglib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "base/errors.h"
#include "ops/decode_image/decode_image.h"
#include "ops/load_input/load_input.h"
#include "pipelines/image_processor.h"

namespace pixelflow::test {

inline std::string data_file(const std::string& rel) { return std::string(PIXELFLOW_TEST_DATA_DIR) + "/" + rel; }

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `bytes` decoded as "test.jpg", with a plan when a region or a row consumer is given.
inline ops::DecodedImage decode(const std::string& bytes, std::optional<Rect> region = std::nullopt,
                                RowConsumer* rows = nullptr) {
  ops::DecodeOptions o;
  if (region || rows) {
    o.plan = [region, rows](const ops::ImageInfo&) {
      ops::DecodePlan p;
      p.region = region;
      p.rows = rows;
      return p;
    };
  }
  return ops::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.jpg", o);
}

// What `f` did: "ok", or the message of the error it raised.
template <class F>
std::string outcome(F&& f) {
  try {
    f();
    return "ok";
  } catch (const Error& e) {
    return e.what();
  }
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

// The layouts libjpeg encodes with these first-component samplings (h, v): grey at 1x1, then
// 3 and 4 components (at most 10 blocks per MCU), in that order.
inline std::vector<EncodeSpec> jpeg_layouts(std::initializer_list<std::pair<int, int>> samplings) {
  std::vector<EncodeSpec> layouts;
  for (int components : {1, 3, 4})
    for (const auto& [h, v] : samplings) {
      if (components == 1 && (h != 1 || v != 1)) continue;
      if (h * v + components - 1 > 10) continue;  // libjpeg: at most 10 blocks per MCU
      EncodeSpec e;
      e.components = components;
      e.h = h;
      e.v = v;
      layouts.push_back(e);
    }
  return layouts;
}

// JPEGs of these shapes (width, height), each named by describe(): the first-component sampling
// cycles through 2x2, 2x1, 1x1, 1x2, the eighth is grey, and code(e, k) sets the k-th one's coding.
// The encoder's seeds come from mt19937(3).
template <class F>
std::vector<std::pair<std::string, std::string>> shaped_jpegs(std::initializer_list<std::pair<int, int>> shapes,
                                                              F&& code) {
  std::vector<std::pair<std::string, std::string>> files;
  std::mt19937 rng(3);
  const int samplings[][2] = {{2, 2}, {2, 1}, {1, 1}, {1, 2}};
  int k = 0;
  for (const auto& [width, height] : shapes) {
    EncodeSpec e;
    e.width = width;
    e.height = height;
    e.h = samplings[k % 4][0];
    e.v = samplings[k % 4][1];
    e.components = k == 7 ? 1 : 3;
    code(e, k);
    ++k;
    files.emplace_back(describe(e), encode_jpeg(e, rng()));
  }
  return files;
}

// A JPEG larger than several 64 KiB read windows, with restart markers (for the damaged-file tests).
inline EncodeSpec multi_window_spec() {
  EncodeSpec big;
  big.width = 520;
  big.height = 400;
  big.quality = 97;
  big.restart = 7;
  return big;
}

// `bytes` and copies of it cut short: by each of `tail_cuts` bytes, at half and nine tenths, at
// `window_offsets` either side of every 64 KiB read window and at `random_cuts` random places.
inline std::vector<std::string> truncated_variants(const std::string& bytes, std::mt19937& rng,
                                                   std::initializer_list<size_t> tail_cuts,
                                                   std::initializer_list<size_t> window_offsets, int random_cuts) {
  std::vector<std::string> variants{bytes};
  std::vector<size_t> cuts;
  for (size_t t : tail_cuts) cuts.push_back(bytes.size() - t);
  cuts.push_back(bytes.size() / 2);
  cuts.push_back(bytes.size() * 9 / 10);
  for (size_t window = 65536; window < bytes.size(); window += 65536)
    for (size_t d : window_offsets) cuts.push_back(window + d), cuts.push_back(window - d - 1);
  for (int k = 0; k < random_cuts; ++k) cuts.push_back(size_t(rng() % bytes.size()));
  for (size_t cut : cuts)
    if (cut > 0 && cut < bytes.size()) variants.push_back(bytes.substr(0, cut));
  return variants;
}

// r clipped to a w x h image (sides that overflow int64 saturate).
inline Rect clip(const Rect& r, int64_t w, int64_t h) {
  auto end = [](int64_t a, int64_t b) { return int64_t(std::min<__int128>(__int128(a) + b, INT64_MAX)); };
  int64_t x0 = std::clamp<int64_t>(r.x, 0, w), y0 = std::clamp<int64_t>(r.y, 0, h);
  int64_t x1 = std::clamp<int64_t>(end(r.x, r.width), x0, w), y1 = std::clamp<int64_t>(end(r.y, r.height), y0, h);
  return {x0, y0, x1 - x0, y1 - y0};
}

// ---------------------------------------------------------------------------------------------
// Pipelines

inline pipelines::ImageProcessor processor(const std::string& model) {
  return pipelines::ImageProcessor::from_pretrained(std::string(PIXELFLOW_SOURCE_DIR) + "/pipelines/models/" + model);
}

inline bool same_tensor(const Tensor& x, const Tensor& y) {
  return x.defined() == y.defined() &&
         (!x.defined() || (x.shape() == y.shape() && x.dtype() == y.dtype() &&
                           std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0));
}

inline bool same_bytes(const BatchFeature& a, const BatchFeature& b) {
  if (a.keys() != b.keys()) return false;
  for (const auto& k : a.keys()) {
    const std::vector<Tensor> xs = a.list(k), ys = b.list(k);
    if (xs.size() != ys.size()) return false;
    for (size_t i = 0; i < xs.size(); ++i)
      if (!same_tensor(xs[i], ys[i])) return false;
  }
  return true;
}

inline std::vector<ops::InputItem> items_of(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<ops::InputItem> items;
  for (const auto& [name, bytes] : files) items.push_back(ops::InputItem::borrow_bytes(bytes, name));
  return items;
}

// What a run gave: its outputs, or the error it raised.
struct Outcome {
  std::optional<BatchFeature> out;
  std::string error;
};

// The same outputs to the byte, or the same error.
inline bool same_outcome(const Outcome& a, const Outcome& b) {
  if (a.out.has_value() != b.out.has_value()) return false;
  return a.out ? same_bytes(*a.out, *b.out) : a.error == b.error;
}

}  // namespace pixelflow::test
