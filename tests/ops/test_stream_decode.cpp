// Streamed JPEG decoding fused with the first resize (the pipeline's fused load): the decoder
// delivers rows to Op::row_consumer instead of an image, ResizeStream runs the horizontal pass
// strip by strip, InputLoader::load_through applies the first op in the load node.
//
// Everything is checked against the unfused path, which the other tests check against Pillow:
// the decoder (streamed rows == the decoded image inside the region, the same accept/refuse
// outcome and message on damaged files, the RowConsumer protocol), ResizeStream == resize_u8
// (every filter, windows, channels, column spans, skipped rows), the loader (which inputs
// stream, and the same sample either way, failures included) and whole pipelines (bundled
// processors, every filter, with and without crop, load_image, 1 and 2 threads, batches with
// broken files).
#include <catch2/catch.hpp>

#include <jpeglib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "registry/builder.h"
#include "base/errors.h"
#include "graph/pipeline.h"
#include "ops/decode_image/decode_image.h"
#include "ops/load_input/load_input.h"
#include "ops/resize/resize.h"
#include "ops/resize/resize_op.h"
#include "pipelines/image_processor.h"
#include "tests/common/jpeg_test_util.h"

using namespace pixelflow;
using namespace pixelflow::test;

namespace {

// ---------------------------------------------------------------------------------------------
// A consumer that records the rows into a full-size image and checks the protocol. It is sized
// for an h x w x c image: a decode that hands it columns or rows outside that (a damaged header
// giving another size than the one it was made for) fails the test (FAIL) before anything is
// written outside its memory.

class RecordingConsumer final : public RowConsumer {
 public:
  // Rows outside [want_y0, want_y1) are refused (nullptr).
  RecordingConsumer(int64_t h, int64_t w, int64_t c, int64_t want_y0, int64_t want_y1)
      : h_(h), w_(w), c_(c), want_y0_(want_y0), want_y1_(want_y1), image_(size_t(h * w * c), 0x5A) {}
  void begin(int64_t x, int64_t width) override {
    if (begun_ || x < 0 || width < 1 || x + width > w_) protocol_ok_ = false;
    if (x < 0 || width < 1 || x + width > w_)
      FAIL("begin(" << x << ", " << width << ") for an image " << w_ << " wide");
    begun_ = true;
    x_ = x;
    width_ = width;
  }
  uint8_t* row(int64_t y) override {
    if (!begun_ || y <= last_row_ || y < 0 || y >= h_ || y < done_) protocol_ok_ = false;
    last_row_ = y;
    if (y < want_y0_ || y >= want_y1_) return nullptr;
    if (y < 0 || y >= h_) FAIL("row(" << y << ") for an image " << h_ << " high");
    ++rows_;
    pending_.assign(size_t(width_ * c_), 0xA5);
    pending_y_ = y;
    return pending_.data();
  }
  void rows_done(int64_t y_end) override {
    if (y_end < done_ || y_end > last_row_ + 1) protocol_ok_ = false;
    done_ = y_end;
    if (pending_y_ >= 0 && pending_y_ < y_end) {  // copied only once handed over
      const size_t at = size_t((pending_y_ * w_ + x_) * c_);
      if (x_ < 0 || x_ + width_ > w_ || pending_y_ >= h_ || at + pending_.size() > image_.size())
        FAIL("row " << pending_y_ << ", columns [" << x_ << ", " << x_ + width_ << ") outside the " << w_ << "x" << h_
                    << " image");
      std::memcpy(&image_[at], pending_.data(), pending_.size());
      pending_y_ = -1;
    }
  }
  void finish(Sample&, const ExecContext&, bool) override { protocol_ok_ = false; }  // the decoder never calls it

  bool protocol_ok() const { return protocol_ok_ && begun_; }
  int64_t x() const { return x_; }
  int64_t width() const { return width_; }
  int64_t rows() const { return rows_; }
  // Index of the first byte of rectangle r that differs from `full` (an (h, w[, c]) image), or -1.
  int64_t first_difference(const Tensor& full, const Rect& r) const {
    REQUIRE(full.numel() == h_ * w_ * c_);
    REQUIRE((full.dim(0) == h_ && full.dim(1) == w_));
    REQUIRE((r.x >= 0 && r.y >= 0 && r.x + r.width <= w_ && r.y + r.height <= h_));
    const uint8_t* f = full.data<uint8_t>();
    for (int64_t y = r.y; y < r.y + r.height; ++y)
      for (int64_t i = (y * w_ + r.x) * c_; i < (y * w_ + r.x + r.width) * c_; ++i)
        if (image_[size_t(i)] != f[i]) return i;
    return -1;
  }

 private:
  int64_t h_, w_, c_, want_y0_, want_y1_;
  std::vector<uint8_t> image_, pending_;
  int64_t pending_y_ = -1;
  bool begun_ = false, protocol_ok_ = true;
  int64_t x_ = 0, width_ = 0, last_row_ = -1, done_ = 0, rows_ = 0;
};



// `bytes` with the frame header (the first SOFn segment) saying width x height instead.
std::string with_frame_size(std::string bytes, int64_t width, int64_t height) {
  auto at = [&](size_t i) { return uint8_t(bytes.at(i)); };
  for (size_t pos = 2; pos + 9 <= bytes.size(); pos += 2 + size_t(at(pos + 2) << 8 | at(pos + 3))) {
    REQUIRE(at(pos) == 0xFF);
    const uint8_t m = at(pos + 1);
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      bytes[pos + 5] = char(height >> 8), bytes[pos + 6] = char(height & 0xFF);
      bytes[pos + 7] = char(width >> 8), bytes[pos + 8] = char(width & 0xFF);
      return bytes;
    }
  }
  FAIL("no frame header");
  return bytes;
}

}  // namespace

TEST_CASE("streamed decode delivers the decoded image's rows, in order, through the protocol", "[stream_decode]") {
  std::mt19937 rng(31);
  int images = 0, streams = 0, cropped = 0;
  for (const EncodeSpec& layout : jpeg_layouts({{1, 1}, {2, 1}, {2, 2}, {1, 2}, {4, 1}, {2, 4}})) {
    for (int variant = 0; variant < 6; ++variant) {
      EncodeSpec e = layout;
      e.progressive = variant == 1 ? 1 : variant == 2 ? 2 : 0;  // complete and incomplete progressions
      e.restart = variant == 3 ? 1 + int(rng() % 4) : 0;
      e.arithmetic = variant == 4;                               // single-scan arithmetic: all rows
      e.quality = variant == 5 ? 100 : 80;
      e.width = 1 + int(rng() % (variant == 0 ? 40 : 300));
      e.height = 1 + int(rng() % (variant == 0 ? 40 : 240));
      const std::string bytes = encode_jpeg(e, rng());
      INFO(describe(e));
      const ops::DecodedImage full = decode(bytes);
      const int64_t w = e.width, h = e.height, c = e.components;
      ++images;
      for (int t = 0; t < 8; ++t) {
        // No region, the whole image, or a random one; the consumer refuses rows outside it.
        std::optional<Rect> region;
        if (t > 0) {
          const int64_t x = int64_t(rng() % uint32_t(w)), y = int64_t(rng() % uint32_t(h));
          region = t == 1 ? Rect{0, 0, w, h}
                          : Rect{x, y, 1 + int64_t(rng() % uint32_t(w - x)), 1 + int64_t(rng() % uint32_t(h - y))};
        }
        const Rect want = region ? clip(*region, w, h) : Rect{0, 0, w, h};
        INFO("region " << want.x << "," << want.y << " " << want.width << "x" << want.height);
        RecordingConsumer consumer(h, w, c, want.y, want.y + want.height);
        const ops::DecodedImage got = decode(bytes, region, &consumer);
        CHECK(got.streamed);
        CHECK(!got.pixels.defined());
        CHECK(got.mode == full.mode);
        CHECK(got.format == full.format);
        CHECK(consumer.protocol_ok());
        CHECK(consumer.rows() == want.height);
        CHECK(consumer.x() <= want.x);
        CHECK(consumer.x() + consumer.width() >= want.x + want.width);
        CHECK(consumer.first_difference(full.pixels, want) == -1);
        cropped += consumer.width() < w;
        ++streams;
      }
    }
  }
  CHECK(images >= 60);
  CHECK(cropped > streams / 4);  // the region's columns were cropped in many streams
}

TEST_CASE("streamed decode of the JPEG fixtures equals their decode", "[stream_decode]") {
  std::mt19937 rng(8);
  int checked = 0;
  for (const char* name : {"decode/jpeg_411.jpg", "decode/jpeg_440_restart.jpg", "decode/jpeg_arith_progressive.jpg",
                           "decode/jpeg_cmyk_adobe.jpg", "decode/jpeg_cmyk_no_adobe.jpg", "decode/jpeg_gray.jpg",
                           "decode/jpeg_mpo.mpo", "decode/jpeg_orientation_6.jpg", "decode/jpeg_rgb_420.jpg",
                           "decode/jpeg_rgb_422_progressive.jpg", "decode/jpeg_rgb_444_q100.jpg",
                           "decode/jpeg_rgb_no_transform.jpg", "decode/jpeg_trailing_garbage.jpg",
                           "decode/jpeg_ycck.jpg", "decode/jpeg_1x1.jpg",
                           "golden/images/jpegdec_jpg-cmyk-2.jpg", "golden/images/opencv_HappyFish.jpg",
                           "golden/images/opencv_left01.jpg", "decode_region/photo_640x480.jpg"}) {
    INFO(name);
    const std::string bytes = read_file(data_file(name));
    const ops::DecodedImage full = decode(bytes);
    const int64_t h = full.pixels.dim(0), w = full.pixels.dim(1), c = full.pixels.ndim() == 3 ? full.pixels.dim(2) : 1;
    for (int t = 0; t < 6; ++t) {
      const int64_t x = int64_t(rng() % uint32_t(w)), y = int64_t(rng() % uint32_t(h));
      const Rect want =
          t == 0 ? Rect{0, 0, w, h}
                 : Rect{x, y, 1 + int64_t(rng() % uint32_t(w - x)), 1 + int64_t(rng() % uint32_t(h - y))};
      RecordingConsumer consumer(h, w, c, want.y, want.y + want.height);
      const ops::DecodedImage got = decode(bytes, t == 0 ? std::nullopt : std::optional(want), &consumer);
      CHECK(got.streamed);
      CHECK(got.exif_orientation == full.exif_orientation);
      CHECK(consumer.protocol_ok());
      CHECK(consumer.first_difference(full.pixels, want) == -1);
      ++checked;
    }
  }
  CHECK(checked == 114);
}

TEST_CASE("streamed decode accepts and refuses exactly the damaged files the image decode does", "[stream_decode]") {
  std::mt19937 rng(12);
  const EncodeSpec big = multi_window_spec();
  EncodeSpec prog = big;
  prog.progressive = 1;
  prog.restart = 0;
  std::vector<std::pair<std::string, std::string>> files{{"synthetic 520x400 q97", encode_jpeg(big, 11)},
                                                         {"synthetic progressive", encode_jpeg(prog, 12)}};
  for (const char* name : {"decode/jpeg_rgb_420.jpg", "decode/jpeg_rgb_422_progressive.jpg", "decode/jpeg_truncated.jpg",
                           "decode/jpeg_missing_eoi.jpg", "decode/jpeg_arith_over_64k.jpg",
                           "decode_region/photo_640x480.jpg"})
    files.emplace_back(name, read_file(data_file(name)));
  int refused = 0, accepted = 0;
  for (const auto& file : files) {
    const std::string& name = file.first;  // not a structured binding: clang 14 cannot capture those
    const auto& bytes = file.second;
    INFO(name << " (" << bytes.size() << " bytes)");
    const ops::ImageInfo info = ops::probe_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
    const int64_t w = info.width, h = info.height, c = info.mode == "L" ? 1 : info.mode == "CMYK" ? 4 : 3;
    std::vector<std::string> variants = truncated_variants(bytes, rng, {1, 2}, {0, 1, 5, 700}, 8);
    for (int k = 0; k < 12; ++k) {  // corrupted scan data (and sometimes headers)
      std::string v = bytes;
      v[bytes.size() / 8 + size_t(rng() % (bytes.size() - bytes.size() / 8))] = char(rng() % 256);
      variants.push_back(std::move(v));
    }
    // Frame headers giving another size than the scan data's (a corrupted byte there does that):
    // the decode, and so the consumer, follow the header's size.
    for (const auto& [fw, fh] : {std::pair{w + 37, h}, {w / 2 + 1, h}, {w, h / 2 + 1}, {w, h + 9}})
      variants.push_back(with_frame_size(bytes, fw, fh));
    const Rect centre{w / 4, h / 4, std::max<int64_t>(1, w / 2), std::max<int64_t>(1, h / 2)};
    for (const std::string& v : variants) {
      // The consumer is sized as the variant's own header says (the decoder delivers that size;
      // where the header cannot be read, neither decode gets as far as a row).
      int64_t vw = w, vh = h, vc = c;
      outcome([&] {
        const ops::ImageInfo vi = ops::probe_image(reinterpret_cast<const uint8_t*>(v.data()), v.size(), name);
        vw = vi.width, vh = vi.height, vc = vi.mode == "L" ? 1 : vi.mode == "CMYK" ? 4 : 3;
      });
      INFO("variant of " << v.size() << " bytes, " << vw << "x" << vh << "x" << vc);
      for (const std::optional<Rect>& region : {std::optional<Rect>(), std::optional(centre)}) {
        ops::DecodedImage image;
        const std::string want = outcome([&] { image = decode(v, region); });
        const Rect r = clip(region ? *region : Rect{0, 0, vw, vh}, vw, vh);
        RecordingConsumer consumer(vh, vw, vc, r.y, r.y + r.height);
        const std::string got = outcome([&] { decode(v, region, &consumer); });
        CHECK(got == want);
        if (want == "ok" && got == "ok") {
          ++accepted;
          CHECK(consumer.first_difference(image.pixels, r) == -1);
        } else {
          ++refused;
        }
      }
    }
  }
  CHECK(refused > 40);
  CHECK(accepted > 40);
}

TEST_CASE("streamed decode: other formats and DCT-reduced plans never stream", "[stream_decode]") {
  const std::string png = read_file(data_file("decode/png_c2_b8.png"));
  RecordingConsumer consumer(1, 1, 1, 0, 1);
  ops::DecodeOptions o;
  o.plan = [&](const ops::ImageInfo&) {
    ops::DecodePlan p;
    p.rows = &consumer;
    return p;
  };
  const ops::DecodedImage img = ops::decode_image(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "p.png", o);
  CHECK(!img.streamed);
  CHECK(img.pixels.defined());

  const std::string photo = read_file(data_file("decode_region/photo_640x480.jpg"));
  RecordingConsumer unused(480, 640, 3, 0, 480);
  o.plan = [&](const ops::ImageInfo&) {
    ops::DecodePlan p;
    p.reduce = 2;
    p.rows = &unused;
    return p;
  };
  const ops::DecodedImage reduced =
      ops::decode_image(reinterpret_cast<const uint8_t*>(photo.data()), photo.size(), "photo", o);
  CHECK(!reduced.streamed);
  CHECK(reduced.pixels.dim(0) == 240);
  CHECK(unused.rows() == 0);
}

// ---------------------------------------------------------------------------------------------
// ResizeStream

TEST_CASE("ResizeStream gives resize_u8's bytes for every filter, window and column span", "[stream_decode]") {
  std::mt19937 rng(23);
  int streamed = 0;
  for (int t = 0; t < 500; ++t) {
    const int64_t in_h = 1 + int64_t(rng() % 260), in_w = 2 + int64_t(rng() % 300);
    const int64_t c = t % 5 == 0 ? 1 : t % 7 == 0 ? 4 : 3;
    const auto filter = static_cast<ops::Resample>(1 + rng() % 5);
    int64_t out_h = 1 + int64_t(rng() % 240), out_w = 1 + int64_t(rng() % 240);
    if (t % 9 == 0) out_h = in_h;  // no vertical pass
    if (out_w == in_w) ++out_w;
    Rect win = Rect::full(out_h, out_w);
    if (rng() % 3) {  // a center crop, sometimes larger than the image (zero padding)
      const int64_t ch = 1 + int64_t(rng() % 260), cw = 1 + int64_t(rng() % 260);
      auto floor_half = [](int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };  // center_crop's offsets
      win = Rect{floor_half(out_w - cw), floor_half(out_h - ch), cw, ch};
    }
    INFO("in " << in_h << "x" << in_w << "x" << c << " out " << out_h << "x" << out_w << " filter "
               << ops::resample_name(filter) << " window " << win.x << "," << win.y << " " << win.width << "x"
               << win.height);
    REQUIRE(ops::ResizeStream::supported(in_h, in_w, c, out_h, out_w, filter, win));
    Tensor img = Tensor::empty(DType::kUInt8, {in_h, in_w, c});
    for (int64_t i = 0; i < img.numel(); ++i) img.data<uint8_t>()[i] = uint8_t(rng());
    Tensor want = Tensor::empty(DType::kUInt8, {win.height, win.width, c});
    ops::resize_u8(img, out_h, out_w, filter, win, want);

    // The columns and rows the op reads (ResizeOp::input_region is tested against Pillow's taps).
    ops::ResizeRule rule;
    rule.height = out_h;
    rule.width = out_w;
    std::optional<ops::ResizeOp::Crop> crop;
    if (win.width != out_w || win.height != out_h || win.x || win.y) crop = ops::ResizeOp::Crop{win.height, win.width};
    const std::optional<Rect> region = ops::ResizeOp(rule, filter, crop).input_region({DType::kUInt8, {in_h, in_w, c}});
    REQUIRE(region);
    // Columns given: exactly the region, all, or the region widened at random.
    int64_t x = 0, width = in_w;
    if (t % 3 == 1) {
      x = region->x;
      width = region->width;
    } else if (t % 3 == 2) {
      x = int64_t(rng() % uint32_t(region->x + 1));
      width = region->x + region->width - x + int64_t(rng() % uint32_t(in_w - region->x - region->width + 1));
    }
    // Rows given: all, or only the region's (the others are never asked for or left stale).
    const bool all_rows = t % 2 == 0;
    ops::ResizeStream stream(in_h, in_w, c, out_h, out_w, filter, win);
    stream.begin(x, width);
    for (int64_t y = all_rows ? 0 : region->y; y < (all_rows ? in_h : region->y + region->height); ++y) {
      if (uint8_t* dst = stream.row(y)) std::memcpy(dst, img.data<uint8_t>() + (y * in_w + x) * c, size_t(width * c));
      if (rng() % 4 == 0 || y + 1 == in_h) stream.rows_done(y + 1);  // handed over in bunches
    }
    Tensor got = Tensor::empty(DType::kUInt8, {win.height, win.width, c});
    std::memset(got.raw_data(), 0x77, got.nbytes());
    stream.finish(got);
    REQUIRE(std::memcmp(got.raw_data(), want.raw_data(), want.nbytes()) == 0);
    ++streamed;
  }
  CHECK(streamed == 500);
}

TEST_CASE("ResizeStream: what cannot stream, and misuse", "[stream_decode]") {
  const Rect full = Rect::full(100, 80);
  CHECK(ops::ResizeStream::supported(200, 160, 3, 100, 80, ops::Resample::kBicubic, full));
  CHECK_FALSE(ops::ResizeStream::supported(200, 160, 3, 100, 80, ops::Resample::kNearest, full));  // no kernel
  CHECK_FALSE(ops::ResizeStream::supported(200, 80, 3, 100, 80, ops::Resample::kBilinear, full));  // no horizontal pass
  CHECK_FALSE(ops::ResizeStream::supported(100, 80, 3, 100, 80, ops::Resample::kBilinear, full));  // a copy
  CHECK_FALSE(ops::ResizeStream::supported(200, 160, 2, 100, 80, ops::Resample::kBilinear, full));  // channels
  CHECK_FALSE(ops::ResizeStream::supported(200, 160, 3, 0, 80, ops::Resample::kBilinear, full));
  CHECK_FALSE(ops::ResizeStream::supported(200, 160, 3, 100, 80, ops::Resample::kBilinear, Rect{500, 0, 10, 10}));
  CHECK_THROWS_AS(ops::ResizeStream(200, 160, 3, 100, 80, ops::Resample::kNearest, full), InputError);
  {
    ops::ResizeStream s(200, 160, 3, 100, 80, ops::Resample::kBicubic, full);
    CHECK_THROWS_AS(s.begin(10, 150), std::logic_error);  // misses columns the filter reads
  }
  {
    ops::ResizeStream s(200, 160, 3, 100, 80, ops::Resample::kBicubic, full);
    Tensor wrong = Tensor::empty(DType::kUInt8, {100, 81, 3});
    s.begin(0, 160);
    CHECK_THROWS_AS(s.finish(wrong), InputError);
  }
  // Two streams alive on one thread (each keeps its own scratch) give the bytes of one at a time.
  std::mt19937 rng(4);
  Tensor img = Tensor::empty(DType::kUInt8, {90, 120, 3});
  for (int64_t i = 0; i < img.numel(); ++i) img.data<uint8_t>()[i] = uint8_t(rng());
  const Tensor want_a = ops::resize_u8(img, 40, 50, ops::Resample::kLanczos);
  const Tensor want_b = ops::resize_u8(img, 70, 33, ops::Resample::kHamming);
  ops::ResizeStream a(90, 120, 3, 40, 50, ops::Resample::kLanczos, Rect::full(40, 50));
  ops::ResizeStream b(90, 120, 3, 70, 33, ops::Resample::kHamming, Rect::full(70, 33));
  a.begin(0, 120);
  b.begin(0, 120);
  for (int64_t y = 0; y < 90; ++y) {
    for (ops::ResizeStream* s : {&a, &b}) {
      if (uint8_t* dst = s->row(y)) std::memcpy(dst, img.data<uint8_t>() + y * 360, 360);
      s->rows_done(y + 1);
    }
  }
  Tensor got_a = Tensor::empty(DType::kUInt8, {40, 50, 3}), got_b = Tensor::empty(DType::kUInt8, {70, 33, 3});
  a.finish(got_a);
  b.finish(got_b);
  CHECK(std::memcmp(got_a.raw_data(), want_a.raw_data(), want_a.nbytes()) == 0);
  CHECK(std::memcmp(got_b.raw_data(), want_b.raw_data(), want_b.nbytes()) == 0);
}

// ---------------------------------------------------------------------------------------------
// The loader and whole pipelines

namespace {

// JPEGs of many shapes, samplings and codings, and fixtures (EXIF orientations, grey, CMYK).
std::vector<std::pair<std::string, std::string>> pipeline_inputs() {
  std::vector<std::pair<std::string, std::string>> files =
      shaped_jpegs({{640, 480}, {480, 640}, {300, 200}, {233, 517}, {1000, 90}, {60, 700}, {225, 225}, {31, 17},
                    {448, 450}, {801, 601}, {224, 300}, {250, 224}},
                   [](EncodeSpec& e, int k) {
                     e.progressive = k % 4 == 1 ? 1 : k % 4 == 3 ? 2 : 0;
                     e.restart = k % 5 == 2 ? 3 : 0;
                   });
  for (const char* name : {"decode/jpeg_orientation_1.jpg", "decode/jpeg_orientation_3.jpg",
                           "decode/jpeg_orientation_6.jpg", "decode/jpeg_gray_orientation_5.jpg", "decode/jpeg_gray.jpg",
                           "decode/jpeg_cmyk_adobe.jpg", "decode/jpeg_rgb_422_progressive.jpg",
                           "decode/jpeg_arith_progressive.jpg", "golden/images/opencv_left01.jpg",
                           "golden/images/opencv_HappyFish.jpg", "decode_region/photo_640x480.jpg"})
    files.emplace_back(name, read_file(data_file(name)));
  return files;
}

// One call of a built pipeline on `files`, with or without the fused load: its outputs, or the
// error it raises.
Outcome run_pipeline(const Pipeline& p, const Plan& plan, const std::vector<std::pair<std::string, std::string>>& files,
                     bool fuse_load, int threads, bool region = true) {
  RunOptions run;
  run.threads = threads;
  run.fuse_load = fuse_load;
  OutputOptions out;
  out.stacked = false;
  Outcome o;
  try {
    ops::InputLoader loader(items_of(files), plan.load);  // infers the layout from the first input
    if (!p.image_ops().empty()) loader.set_first_op(p.image_ops().front(), region);
    o.out = p.run(loader, run, out);
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

// How many of `files` the loader streams into the plan's first op (load_through directly).
int streamed_count(const Pipeline& p, const Plan& plan, const std::vector<std::pair<std::string, std::string>>& files) {
  if (p.image_ops().empty()) return 0;
  ops::InputLoader loader(items_of(files), plan.load);
  loader.set_first_op(p.image_ops().front());
  int n = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    Sample s;
    s.index = int64_t(i);
    try {
      n += loader.load_through(s, *p.image_ops().front(), ExecContext{}, p.image_ops().size() == 1);
    } catch (const Error&) {
      continue;
    }
  }
  return n;
}

const char* const kModels[] = {"openai__clip-vit-base-patch32", "google__vit-base-patch16-224",
                               "facebook__convnext-tiny-224", "facebook__levit-128S",
                               "google__siglip-base-patch16-224", "Intel__dpt-large", "facebook__dinov2-small",
                               "microsoft__beit-base-patch16-224-pt22k-ft22k"};

}  // namespace

TEST_CASE("pipelines give the same bytes with and without the fused (streamed) load", "[stream_decode]") {
  const auto files = pipeline_inputs();
  int compared = 0, streamed = 0;
  for (const char* model : kModels) {
    const pipelines::ImageProcessor proc = processor(model);
    for (bool load_image : {false, true}) {
      pipelines::CallOptions opts;
      opts.load_image = load_image;
      const Plan plan = proc.plan({}, opts);
      const Pipeline p = build_pipeline(plan);
      for (bool region : {true, false}) {
        INFO(model << " load_image " << load_image << " region " << region << ": " << p.describe());
        const Outcome want = run_pipeline(p, plan, files, false, 1, region);
        const Outcome got = run_pipeline(p, plan, files, true, 2, region);
        INFO("error: " << want.error);
        CHECK(same_outcome(want, got));
        ++compared;
      }
      // The whole batch errs where a processor does not convert grey or CMYK to RGB: one input
      // at a time then.
      if (!run_pipeline(p, plan, files, false, 1).out) {
        for (const auto& f : files) {
          INFO(model << " load_image " << load_image << " input " << f.first);
          CHECK(same_outcome(run_pipeline(p, plan, {f}, false, 1), run_pipeline(p, plan, {f}, true, 1)));
        }
      }
      streamed += streamed_count(p, plan, files);
    }
  }
  CHECK(compared == int(std::size(kModels)) * 4);
  CHECK(streamed > int(std::size(kModels)) * int(files.size()));  // most inputs of most models streamed
}

TEST_CASE("every resize filter, with and without the crop, streamed or not", "[stream_decode]") {
  const auto files = pipeline_inputs();
  const pipelines::ImageProcessor clip = processor("openai__clip-vit-base-patch32");
  for (int filter = 0; filter <= 5; ++filter) {
    for (bool crop : {true, false}) {
      INFO("resample " << filter << " crop " << crop);
      const nlohmann::json kwargs{{"resample", filter}, {"do_center_crop", crop}};
      const Plan plan = clip.plan(kwargs);
      const Pipeline p = build_pipeline(plan);
      INFO(p.describe());
      CHECK(same_outcome(run_pipeline(p, plan, files, false, 1), run_pipeline(p, plan, files, true, 1)));
      // Through the call API too (fuse = false runs the unfused graph and load).
      pipelines::CallOptions fused;
      fused.return_tensors = false;  // without the crop the outputs' shapes differ
      pipelines::CallOptions unfused = fused;
      unfused.fuse = false;
      CHECK(same_bytes(clip.prepare(kwargs, fused).run(items_of(files)),
                       clip.prepare(kwargs, unfused).run(items_of(files))));
      // Expected: RGB files (grey and CMYK are converted first; the EXIF orientation is ignored
      // without load_image) whose resize has a horizontal pass with a convolution filter.
      int expected = 0;
      for (const auto& [name, bytes] : files) {
        const ops::ImageInfo info =
            ops::probe_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
        expected += info.mode == "RGB" &&
                    p.image_ops().front()->row_consumer({DType::kUInt8, {info.height, info.width, 3}}) != nullptr;
      }
      const int n = streamed_count(p, plan, files);
      CHECK(n == expected);
      if (filter == 0) CHECK(n == 0);  // NEAREST reads single pixels: no horizontal pass to stream
      if (filter != 0) CHECK(n > int(files.size()) / 2);
    }
  }
}

TEST_CASE("load_through streams only where the op's input is the decoded pixels", "[stream_decode]") {
  const pipelines::ImageProcessor clip = processor("openai__clip-vit-base-patch32");
  const std::string photo = read_file(data_file("decode_region/photo_640x480.jpg"));
  const std::string png = read_file(data_file("golden/images/skimage_microaneurysms.png"));
  const std::string rotated = read_file(data_file("decode/jpeg_orientation_6.jpg"));
  const std::string upright = read_file(data_file("decode/jpeg_orientation_1.jpg"));
  const std::string grey = read_file(data_file("decode/jpeg_gray.jpg"));
  const std::string cmyk = read_file(data_file("decode/jpeg_cmyk_adobe.jpg"));
  const Tensor array = ops::decode_image(reinterpret_cast<const uint8_t*>(photo.data()), photo.size(), "p").pixels;

  // load_through of item `i` against load() + run(): same sample; whether the op was applied.
  auto check = [](const Plan& plan, std::vector<ops::InputItem> items, bool approximate = false) {
    const Pipeline p = build_pipeline(plan);
    ops::InputLoader loader(std::move(items), plan.load);
    loader.set_first_op(p.image_ops().front(), true, approximate);
    std::vector<bool> done;
    for (int64_t i = 0; i < loader.size(); ++i) {
      Sample a, b;
      a.index = b.index = i;
      loader.load(a, ExecContext{});
      p.image_ops().front()->run(a, ExecContext{}, p.image_ops().size() == 1);
      const bool applied = loader.load_through(b, *p.image_ops().front(), ExecContext{}, p.image_ops().size() == 1);
      if (!applied) p.image_ops().front()->run(b, ExecContext{}, p.image_ops().size() == 1);
      CHECK(same_tensor(a.image, b.image));
      CHECK(a.source == b.source);
      done.push_back(applied);
    }
    return done;
  };
  const Plan plain = clip.plan({});
  pipelines::CallOptions li;
  li.load_image = true;
  const Plan with_load_image = clip.plan({}, li);
  SECTION("CLIP (convert_rgb): RGB JPEGs stream, whatever their EXIF orientation; grey and CMYK are converted") {
    CHECK(check(plain, {ops::InputItem::borrow_bytes(photo, "photo"), ops::InputItem::borrow_bytes(rotated, "rot"),
                        ops::InputItem::borrow_bytes(grey, "grey"), ops::InputItem::borrow_bytes(cmyk, "cmyk")}) ==
          std::vector<bool>{true, true, false, false});
  }
  SECTION("load_image: a transposed image does not stream, an upright one does") {
    CHECK(check(with_load_image, {ops::InputItem::borrow_bytes(rotated, "rot"), ops::InputItem::borrow_bytes(upright, "up"),
                                  ops::InputItem::borrow_bytes(grey, "grey")}) ==
          std::vector<bool>{false, true, false});
  }
  SECTION("other formats, arrays, and the approximate mode's reduced decode do not stream") {
    CHECK(check(plain, {ops::InputItem::borrow_bytes(png, "png"), ops::InputItem::from_array(array, "array")}) ==
          std::vector<bool>{false, false});
    CHECK(check(plain, {ops::InputItem::borrow_bytes(photo, "photo")}, /*approximate=*/true) == std::vector<bool>{false});
  }
  SECTION("no conversion (do_convert_rgb false, channels-last given): grey and CMYK stream as they decode") {
    CHECK(check(clip.plan({{"do_convert_rgb", false}, {"input_data_format", "channels_last"}}),
                {ops::InputItem::borrow_bytes(grey, "grey"), ops::InputItem::borrow_bytes(cmyk, "cmyk")}) ==
          std::vector<bool>{true, true});
  }
  SECTION("a first op that is not a resize does not stream") {
    const Plan no_resize = clip.plan({{"do_resize", false}});
    REQUIRE(build_pipeline(no_resize).image_ops().front()->name().find("resize") == std::string::npos);
    CHECK(check(no_resize, {ops::InputItem::borrow_bytes(photo, "photo")}) == std::vector<bool>{false});
  }
  SECTION("an op other than the one set_first_op named is only offered, never applied") {
    const Pipeline p = build_pipeline(plain);
    ops::InputLoader loader({ops::InputItem::borrow_bytes(photo, "photo")}, plain.load);
    loader.set_first_op(p.image_ops().front());
    ops::ResizeRule rule;
    rule.height = rule.width = 100;
    const ops::ResizeOp other(rule, ops::Resample::kBilinear, std::nullopt);
    Sample s;
    CHECK_FALSE(loader.load_through(s, other, ExecContext{}, false));
    CHECK(s.image.shape() == Shape{480, 640, 3});
  }
}

TEST_CASE("broken files in a streamed batch: same errors, and nothing else is affected", "[stream_decode]") {
  const std::string photo = read_file(data_file("decode_region/photo_640x480.jpg"));
  EncodeSpec e;
  e.width = 500;
  e.height = 375;
  const std::string other = encode_jpeg(e, 5);
  std::string corrupt = photo;
  for (size_t i = photo.size() / 2; i < photo.size() / 2 + 64; ++i) corrupt[i] = char(0xFF);  // markers in the scan
  const std::vector<std::pair<std::string, std::string>> broken{
      {"truncated_half.jpg", photo.substr(0, photo.size() / 2)},
      {"truncated_tail.jpg", photo.substr(0, photo.size() - 40)},
      {"corrupt.jpg", corrupt},
      {"header_only.jpg", read_file(data_file("decode/jpeg_header_only.jpg"))},
      {"fixture_truncated.jpg", read_file(data_file("decode/jpeg_truncated.jpg"))}};
  const pipelines::ImageProcessor clip = processor("openai__clip-vit-base-patch32");
  const Plan plan = clip.plan({});
  const Pipeline p = build_pipeline(plan);
  int errors = 0;
  for (const auto& bad : broken) {
    INFO(bad.first);
    const std::vector<std::pair<std::string, std::string>> batch{
        {"photo.jpg", photo}, bad, {"other.jpg", other}, {"photo_again.jpg", photo}};
    for (int threads : {1, 2}) {
      const Outcome want = run_pipeline(p, plan, batch, false, threads);
      const Outcome got = run_pipeline(p, plan, batch, true, threads);
      INFO("error: " << want.error);
      CHECK(same_outcome(want, got));
      errors += !want.out;
      if (!want.out) CHECK(got.error.find(bad.first) != std::string::npos);
    }
    // Sample by sample on one thread: the inputs after the broken one still stream, unaffected.
    ops::InputLoader streamed(items_of(batch), plan.load), plain(items_of(batch), plan.load);
    streamed.set_first_op(p.image_ops().front());
    plain.set_first_op(p.image_ops().front());
    for (int64_t i = 0; i < int64_t(batch.size()); ++i) {
      Sample a, b;
      a.index = b.index = i;
      const std::string ea = outcome([&] {
        plain.load(a, ExecContext{});
        p.image_ops().front()->run(a, ExecContext{}, false);
      });
      bool applied = false;
      const std::string eb = outcome([&] { applied = streamed.load_through(b, *p.image_ops().front(), ExecContext{}, false); });
      CHECK(ea == eb);
      if (ea == "ok") {
        CHECK(applied);
        CHECK(same_tensor(a.image, b.image));
      }
    }
  }
  CHECK(errors >= 8);  // the corrupt file may decode (libjpeg warns and goes on); the others fail
}
