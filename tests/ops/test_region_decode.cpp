// Region-of-interest JPEG decoding and the approximate (DCT-scaled) mode.
//
// Exactness of region decoding is checked at every level against the full decode (which
// test_decode_image.cpp checks against Pillow): decoder (pixels inside the region, over JPEGs
// encoded here with every sampling factor, progressive or not, restart intervals, arithmetic
// coding, 1/3/4 components, and the fixtures), the decoder's accept/refuse outcome on damaged
// files, ResizeOp::input_region (against the brute-force union of Pillow's taps, and resize
// outputs with the pixels outside the region poisoned), and whole pipelines (bundled processors,
// with and without fusion and load_image, with poisoned undefined pixels).
#include <catch2/catch.hpp>

#include <jpeglib.h>

#include <algorithm>
#include <atomic>
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

#include "registry/builder.h"
#include "base/errors.h"
#include "graph/pipeline.h"
#include "ops/convert_rgb/convert_rgb.h"
#include "ops/decode_image/decode_image.h"
#include "ops/load_input/load_input.h"
#include "ops/resize/resize_coeffs.h"
#include "ops/resize/resize_op.h"
#include "pipelines/image_processor.h"
#include "tests/common/jpeg_test_util.h"

using namespace pixelflow;
using namespace pixelflow::test;

namespace {

// ---------------------------------------------------------------------------------------------


// Index of the first byte of `r` in `a` that differs from `b`, or -1.
int64_t first_difference(const Tensor& a, const Tensor& b, const Rect& r) {
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
Rect random_rect(std::mt19937& rng, int64_t w, int64_t h) {
  auto pick = [&](int64_t size, int64_t& start, int64_t& len) {
    switch (rng() % 5) {
      case 0: start = 0; len = 1 + int64_t(rng() % uint32_t(size)); break;                   // from the edge
      case 1: start = int64_t(rng() % uint32_t(size)); len = size - start; break;            // to the edge
      case 2: start = int64_t(rng() % uint32_t(size)); len = 1; break;                       // one line
      case 3: start = int64_t(rng() % uint32_t(size)) - 3; len = size + 6; break;            // beyond
      default: start = int64_t(rng() % uint32_t(size)); len = 1 + int64_t(rng() % uint32_t(size - start)); break;
    }
  };
  Rect r;
  pick(w, r.x, r.width);
  pick(h, r.y, r.height);
  return r;
}


}  // namespace

TEST_CASE("region decode: every pixel inside the region equals the full decode", "[decode_region]") {
  std::mt19937 rng(2024);
  int images = 0, regions = 0, honoured = 0;
  for (const EncodeSpec& layout : jpeg_layouts({{1, 1}, {2, 1}, {2, 2}, {1, 2}, {4, 1}, {4, 2}, {1, 4}, {2, 4}, {3, 1}})) {
    for (int variant = 0; variant < 6; ++variant) {
      EncodeSpec e = layout;
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
        const Rect want = random_rect(rng, e.width, e.height);
        INFO("region x " << want.x << " y " << want.y << " w " << want.width << " h " << want.height);
        const ops::DecodedImage part = decode(bytes, want);
        const Rect c = clip(want, e.width, e.height);
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
  CHECK(images >= 100);
  CHECK(honoured > regions / 2);
}

TEST_CASE("region decode falls back to a full decode where it could not stay exact", "[decode_region]") {
  std::mt19937 rng(7);
  const Rect centre{9, 7, 20, 13};
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
    for (const Rect& r : {Rect{-3, 5, 10, 7}, Rect{50, -9, 30, 20},
                                    Rect{-100, -100, 120, 110}, Rect{60, 40, INT64_MAX, INT64_MAX}}) {
      const ops::DecodedImage part = decode(bytes, r);
      REQUIRE(part.valid);
      const Rect want = clip(r, e.width, e.height);
      INFO("valid " << part.valid->x << "," << part.valid->y << " " << part.valid->width << "x" << part.valid->height
                    << ", want " << want.x << "," << want.y << " " << want.width << "x" << want.height);
      CHECK(*part.valid == want);
      CHECK(first_difference(part.pixels, full.pixels, *part.valid) == -1);
    }
  }
  SECTION("a region covering the image, or empty") {
    EncodeSpec e;
    const std::string bytes = encode_jpeg(e, rng());
    CHECK(!decode(bytes, Rect{-5, -5, 1000, 1000}).valid);
    CHECK(!decode(bytes, Rect{3, 3, 0, 5}).valid);
    CHECK(!decode(bytes, Rect{200, 3, 5, 5}).valid);
  }
  SECTION("other formats never call the plan") {
    int calls = 0;
    const std::string png = read_file(data_file("decode/png_c2_b8.png"));
    ops::DecodeOptions o;
    o.plan = [&](const ops::ImageInfo&) {
      ++calls;
      return ops::DecodePlan{Rect{0, 0, 1, 1}, 2};
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
      const Rect want = random_rect(rng, w, h);
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
  const EncodeSpec big = multi_window_spec();
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
    const ops::ImageInfo info = ops::probe_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name);
    const int64_t w = info.width, h = info.height;
    const Rect centre{w / 4, h / 4, std::max<int64_t>(1, w / 2), std::max<int64_t>(1, h / 2)};
    std::vector<std::string> variants = truncated_variants(bytes, rng, {1, 2, 3}, {0, 1, 2, 5, 64, 700}, 12);
    for (int k = 0; k < 25; ++k) {  // corrupted scan data (and sometimes headers)
      std::string v = bytes;
      const size_t at = bytes.size() / 8 + size_t(rng() % (bytes.size() - bytes.size() / 8));
      v[at] = char(rng() % 256);
      variants.push_back(std::move(v));
    }
    for (const std::string& v : variants) {
      INFO("variant of " << v.size() << " bytes");
      ops::DecodedImage a, b;
      const std::string full_outcome = outcome([&] { a = decode(v); });
      const std::string region_outcome = outcome([&] { b = decode(v, centre); });
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

// ---------------------------------------------------------------------------------------------
// ResizeOp::input_region

namespace {

// The input positions Pillow's coefficients for outputs [o0, o1) touch, by brute force.
std::pair<int64_t, int64_t> brute_span(int in, int out, ops::Resample f, int o0, int o1) {
  int64_t lo = in, hi = 0;
  if (in == out) return {o0, o1};
  if (f == ops::Resample::kNearest) {
    std::vector<int32_t> idx;
    ops::resize_detail::nearest_indices(in, out, o0, o1, idx);
    for (int32_t i : idx)
      if (i >= 0) lo = std::min<int64_t>(lo, i), hi = std::max<int64_t>(hi, i + 1);
    return {lo, hi};
  }
  ops::resize_detail::AxisCoeffs a;
  ops::resize_detail::precompute_coeffs_8bpc(in, out, int(f), o0, o1, a);
  for (size_t i = 0; i < a.xmin.size(); ++i)
    lo = std::min<int64_t>(lo, a.xmin[i]), hi = std::max<int64_t>(hi, int64_t(a.xmin[i]) + a.count[i]);
  return {lo, hi};
}

}  // namespace

TEST_CASE("ResizeOp::input_region is where Pillow's taps fall, and resize reads nothing else", "[decode_region]") {
  std::mt19937 rng(17);
  int checked = 0;
  for (int t = 0; t < 400; ++t) {
    const int in_h = 1 + int(rng() % 300), in_w = 1 + int(rng() % 300);
    ops::ResizeRule rule;
    rule.height = t % 7 == 0 ? in_h : 1 + int(rng() % 260);  // some axes keep their size
    rule.width = t % 11 == 0 ? in_w : 1 + int(rng() % 260);
    const auto filter = static_cast<ops::Resample>(rng() % 6);
    std::optional<ops::ResizeOp::Crop> crop;
    if (rng() % 3) crop = ops::ResizeOp::Crop{1 + int64_t(rng() % 280), 1 + int64_t(rng() % 280)};
    const ops::ResizeOp op(rule, filter, crop);
    const int c = t % 4 == 0 ? 1 : 3;
    const TensorSpec spec{DType::kUInt8, {in_h, in_w, c}};
    INFO("in " << in_h << "x" << in_w << " out " << rule.height << "x" << rule.width << " filter "
               << ops::resample_name(filter) << " crop " << (crop ? crop->height : -1) << "x" << (crop ? crop->width : -1));
    const std::optional<Rect> r = op.input_region(spec);
    REQUIRE(r);

    // Brute force over the window's part inside the resized image.
    int64_t ox0 = 0, oy0 = 0, ox1 = rule.width, oy1 = rule.height;
    if (crop) {
      const int64_t x0 = (rule.width - crop->width) / 2, y0 = (rule.height - crop->height) / 2;
      ox0 = std::clamp<int64_t>(x0, 0, rule.width);
      oy0 = std::clamp<int64_t>(y0, 0, rule.height);
      ox1 = std::clamp<int64_t>(x0 + crop->width, ox0, rule.width);
      oy1 = std::clamp<int64_t>(y0 + crop->height, oy0, rule.height);
    }
    if (ox0 >= ox1 || oy0 >= oy1) {
      CHECK((r->width == 0 || r->height == 0));
      continue;
    }
    const bool copy = in_h == rule.height && in_w == rule.width;
    const auto cols = copy ? std::make_pair(ox0, ox1) : brute_span(in_w, int(rule.width), filter, int(ox0), int(ox1));
    const auto rows = copy ? std::make_pair(oy0, oy1)
                           : brute_span(in_h, int(rule.height), filter, int(oy0), int(oy1));
    if (filter == ops::Resample::kNearest && !copy) {
      // Pillow's NEAREST maps both axes (an axis of unchanged size maps to itself).
      CHECK(r->x == brute_span(in_w, int(rule.width), filter, int(ox0), int(ox1)).first);
    }
    CHECK(r->x == cols.first);
    CHECK(r->x + r->width == cols.second);
    CHECK(r->y == rows.first);
    CHECK(r->y + r->height == rows.second);

    // The op's output does not change when every pixel outside the region is replaced.
    Tensor img = Tensor::empty(DType::kUInt8, {in_h, in_w, c});
    for (int64_t i = 0; i < img.numel(); ++i) img.data<uint8_t>()[i] = uint8_t(rng());
    auto run = [&](const Tensor& in) {
      Sample s;
      s.image = in;
      op.run(s, ExecContext{}, false);
      return s.image;
    };
    const Tensor expected = run(img);
    for (uint8_t poison : {uint8_t(0), uint8_t(255)}) {
      Tensor p = img.clone();
      uint8_t* d = p.data<uint8_t>();
      for (int64_t y = 0; y < in_h; ++y)
        for (int64_t x = 0; x < in_w; ++x)
          if (y < r->y || y >= r->y + r->height || x < r->x || x >= r->x + r->width)
            std::memset(d + (y * in_w + x) * c, poison, size_t(c));
      const Tensor got = run(p);
      REQUIRE(got.nbytes() == expected.nbytes());
      CHECK(std::memcmp(got.raw_data(), expected.raw_data(), got.nbytes()) == 0);
    }
    ++checked;
  }
  CHECK(checked > 250);
  // Float inputs and label maps are read whole.
  const ops::ResizeOp op(ops::ResizeRule{}, ops::Resample::kBicubic, std::nullopt);
  CHECK(!op.input_region(TensorSpec{DType::kFloat32, {10, 10, 3}}));
  const ops::ResizeOp labels(ops::ResizeRule{}, ops::Resample::kNearest, std::nullopt, Target::kLabels);
  CHECK(!labels.input_region(TensorSpec{DType::kUInt8, {10, 10, 1}}));
}

// ---------------------------------------------------------------------------------------------
// Pipelines

namespace {

// One input through a call: its outputs, or the error it raises.
Outcome run_one(const pipelines::PreparedCall& call, const std::string& name, const std::string& bytes) {
  Outcome o;
  try {
    o.out = call.run({ops::InputItem::borrow_bytes(bytes, name)});
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

// JPEGs of many shapes (landscape, portrait, tiny, extreme aspect ratios) and fixtures, EXIF
// orientations included.
std::vector<std::pair<std::string, std::string>> pipeline_inputs() {
  std::vector<std::pair<std::string, std::string>> files =
      shaped_jpegs({{640, 480}, {480, 640}, {300, 200}, {233, 517}, {1000, 90}, {60, 700}, {225, 225}, {31, 17},
                    {448, 450}, {801, 601}},
                   [](EncodeSpec& e, int k) { e.progressive = k % 3 == 1; });
  for (const char* name : {"decode/jpeg_orientation_2.jpg", "decode/jpeg_orientation_3.jpg",
                           "decode/jpeg_orientation_5.jpg", "decode/jpeg_orientation_6.jpg",
                           "decode/jpeg_orientation_7.jpg", "decode/jpeg_orientation_8.jpg",
                           "decode/jpeg_gray_orientation_5.jpg", "decode/jpeg_cmyk_adobe.jpg",
                           "golden/images/opencv_left01.jpg", "golden/images/opencv_HappyFish.jpg",
                           "decode_region/photo_640x480.jpg"})
    files.emplace_back(name, read_file(data_file(name)));
  return files;
}

const char* const kModels[] = {"openai__clip-vit-base-patch32", "google__vit-base-patch16-224",
                               "facebook__convnext-tiny-224", "facebook__levit-128S",
                               "google__siglip-base-patch16-224", "deepmind__vision-perceiver-learned",
                               "Intel__dpt-large", "facebook__dinov2-small"};

// A loader that decodes exactly like InputLoader with region decoding, then overwrites every
// undefined pixel with `poison`: the graph's output must not change.
class PoisonLoader final : public Loader {
 public:
  PoisonLoader(const std::vector<std::pair<std::string, std::string>>& files, const Plan& plan, OpPtr first,
               uint8_t poison)
      : files_(files), plan_(plan), inner_(items_of(files), plan.load), poison_(poison) {
    inner_.set_first_op(std::move(first));
  }
  int64_t size() const override { return int64_t(files_.size()); }
  void load(Sample& s, const ExecContext& ctx) const override {
    const auto& [name, bytes] = files_.at(size_t(s.index));
    ops::DecodeOptions o;
    o.plan = [this](const ops::ImageInfo& info) { return inner_.decode_plan(info); };
    ops::DecodedImage img = ops::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name, o);
    if (img.valid) {
      ++poisoned;
      const int64_t w = img.pixels.dim(1), h = img.pixels.dim(0);
      const size_t px = img.pixels.ndim() == 3 ? size_t(img.pixels.dim(2)) : 1;
      const Rect& r = *img.valid;
      uint8_t* d = img.pixels.data<uint8_t>();
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          if (y < r.y || y >= r.y + r.height || x < r.x || x >= r.x + r.width)
            std::memset(d + size_t(y * w + x) * px, poison_, px);
    }
    s.source = name;
    const Tensor raw = plan_.load.exif_transpose ? ops::load_image_rgb(img, ctx.pool)
                       : plan_.load.convert_rgb  ? ops::convert_rgb(img, ctx.pool)
                                                 : img.pixels;
    s.image = ops::to_channels_last(raw, Layout::kChannelsLast, ctx.pool);
  }
  mutable std::atomic<int> poisoned{0};

 private:
  const std::vector<std::pair<std::string, std::string>>& files_;
  Plan plan_;
  ops::InputLoader inner_;
  uint8_t poison_;
};

}  // namespace

TEST_CASE("pipelines give the same bytes with and without region decoding", "[decode_region]") {
  const auto files = pipeline_inputs();
  int compared = 0, errors = 0;
  for (const char* model : kModels) {
    const pipelines::ImageProcessor proc = processor(model);
    for (bool load_image : {false, true}) {
      for (bool fuse : {true, false}) {
        INFO(model << " load_image " << load_image << " fuse " << fuse);
        pipelines::CallOptions exact;
        exact.load_image = load_image;
        exact.fuse = fuse;
        exact.decode_region = false;
        pipelines::CallOptions region = exact;
        region.decode_region = true;
        const pipelines::PreparedCall want_call = proc.prepare({}, exact), got_call = proc.prepare({}, region);
        for (const auto& [name, bytes] : files) {
          INFO("input " << name);
          const Outcome want = run_one(want_call, name, bytes), got = run_one(got_call, name, bytes);
          INFO("error: " << want.error);
          CHECK(same_outcome(want, got));
          ++compared;
          errors += !want.out;
        }
      }
    }
  }
  CHECK(compared == int(std::size(kModels)) * 4 * int(files.size()));
  CHECK(errors < compared / 5);  // grey and CMYK inputs of processors that do not convert to RGB
}

TEST_CASE("pipelines never read the pixels region decoding leaves undefined", "[decode_region]") {
  const auto files = pipeline_inputs();
  int runs = 0;
  for (const char* model : {"openai__clip-vit-base-patch32", "facebook__dinov2-small", "facebook__convnext-tiny-224",
                            "facebook__levit-128S"}) {
    const pipelines::ImageProcessor proc = processor(model);
    for (bool load_image : {false, true}) {
      pipelines::CallOptions opts;
      opts.load_image = load_image;
      opts.return_tensors = false;
      opts.decode_region = false;
      const Plan plan = proc.plan({}, opts);
      // Grey and CMYK inputs would fail the batch where nothing converts them to RGB.
      if (!proc.plan({}, opts).load.convert_rgb && !load_image) continue;
      ++runs;
      const BatchFeature want = proc.prepare({}, opts).run(items_of(files));
      const Pipeline pipeline = build_pipeline(plan);
      for (uint8_t poison : {uint8_t(0), uint8_t(255)}) {
        INFO(model << " load_image " << load_image << " poison " << int(poison));
        PoisonLoader loader(files, plan, pipeline.image_ops().front(), poison);
        OutputOptions out;
        out.stacked = false;
        const BatchFeature got = pipeline.run(loader, RunOptions{}, out);
        CHECK(same_bytes(want, got));
        CHECK(loader.poisoned > int(files.size()) / 2);
      }
    }
  }
  CHECK(runs >= 6);
}

TEST_CASE("region decoding follows the EXIF orientation to the decoded image", "[decode_region]") {
  // A region in the oriented image maps to the rectangle of the decoded image its pixels come
  // from: poisoning every other pixel of the decoded image leaves the region intact.
  const std::string bytes = read_file(data_file("decode_region/photo_640x480.jpg"));
  const ops::DecodedImage plain = ops::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "p");
  class RegionOp final : public Op {
   public:
    explicit RegionOp(Rect r) : r_(r) {}
    std::string name() const override { return "region"; }
    TensorSpec infer(const TensorSpec& in) const override { return in; }
    void run(Sample&, const ExecContext&, bool) const override {}
    std::optional<Rect> input_region(const TensorSpec&) const override { return r_; }

   private:
    Rect r_;
  };
  LoadSpec spec;
  spec.exif_transpose = true;
  std::mt19937 rng(1);
  for (int orientation = 1; orientation <= 8; ++orientation) {
    ops::DecodedImage oriented_src = plain;
    oriented_src.exif_orientation = orientation;
    const Tensor oriented = ops::load_image_rgb(oriented_src);
    const int64_t h = oriented.dim(0), w = oriented.dim(1);
    for (int t = 0; t < 20; ++t) {
      const int64_t x = int64_t(rng() % uint32_t(w)), y = int64_t(rng() % uint32_t(h));
      const Rect r{x, y, 1 + int64_t(rng() % uint32_t(w - x)), 1 + int64_t(rng() % uint32_t(h - y))};
      ops::InputLoader loader({}, spec);
      loader.set_first_op(std::make_shared<RegionOp>(r));
      ops::ImageInfo info{"JPEG", "RGB", plain.pixels.dim(1), plain.pixels.dim(0), orientation};
      const ops::DecodePlan p = loader.decode_plan(info);
      REQUIRE(p.region);
      CHECK(p.region->width * p.region->height == r.width * r.height);
      // Poison the decoded image outside the plan's region, orient it, compare the region.
      ops::DecodedImage poisoned = plain;
      poisoned.pixels = plain.pixels.clone();
      poisoned.exif_orientation = orientation;
      uint8_t* d = poisoned.pixels.data<uint8_t>();
      const int64_t pw = plain.pixels.dim(1), ph = plain.pixels.dim(0);
      for (int64_t yy = 0; yy < ph; ++yy)
        for (int64_t xx = 0; xx < pw; ++xx)
          if (yy < p.region->y || yy >= p.region->y + p.region->height || xx < p.region->x ||
              xx >= p.region->x + p.region->width)
            std::memset(d + (yy * pw + xx) * 3, 0, 3);
      const Tensor got = ops::load_image_rgb(poisoned);
      INFO("orientation " << orientation);
      CHECK(first_difference(got, oriented, Rect{r.x, r.y, r.width, r.height}) == -1);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Approximate mode

namespace {

struct ApproxError {
  double max_norm = 0, mean_norm = 0, max_levels = 0;
};

// |a - b| over float32 pixel_values, also in 8-bit levels (|diff| * std * 255 per channel).
ApproxError approx_error(const Tensor& a, const Tensor& b, const std::vector<double>& std_per_channel) {
  REQUIRE(a.shape() == b.shape());
  REQUIRE(a.dtype() == DType::kFloat32);
  ApproxError e;
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const int64_t n = a.numel(), c = a.dim(1), plane = a.dim(2) * a.dim(3);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(pa[i]) - double(pb[i]));
    sum += d;
    e.max_norm = std::max(e.max_norm, d);
    e.max_levels = std::max(e.max_levels, d * std_per_channel[size_t((i / plane) % c)] * 255);
  }
  e.mean_norm = sum / double(n);
  return e;
}

}  // namespace

TEST_CASE("approximate mode is off by default and leaves non-JPEG inputs alone", "[decode_region][approximate]") {
  CHECK_FALSE(pipelines::CallOptions{}.approximate);
  const pipelines::ImageProcessor clip = processor("openai__clip-vit-base-patch32");
  const std::string photo = read_file(data_file("decode_region/photo_640x480.jpg"));
  pipelines::CallOptions exact;
  exact.decode_region = false;
  pipelines::CallOptions approximate;
  approximate.approximate = true;
  const BatchFeature by_default = clip.prepare().run({ops::InputItem::borrow_bytes(photo, "photo")});
  const BatchFeature reference = clip.prepare({}, exact).run({ops::InputItem::borrow_bytes(photo, "photo")});
  const BatchFeature approx = clip.prepare({}, approximate).run({ops::InputItem::borrow_bytes(photo, "photo")});
  CHECK(same_bytes(by_default, reference));
  CHECK_FALSE(same_bytes(approx, reference));  // the photo is reducible: approximate mode did act

  // PNG, BMP and WebP files, arrays, and JPEGs too small to reduce: the exact bytes.
  std::vector<std::pair<std::string, std::string>> files;
  for (const char* name : {"decode/png_c2_b8.png", "decode/bmp_24.bmp", "golden/images/mpl_Minduka_Present_Blue_Pack.png",
                           "golden/images/skimage_microaneurysms.png", "golden/images/opencv_HappyFish.jpg"})
    files.emplace_back(name, read_file(data_file(name)));
  for (const char* name : {"decode/webp_lossy.webp", "decode/webp_lossless.webp"})
    files.emplace_back(name, read_file(data_file(name)));
  for (const char* model : kModels) {
    INFO(model);
    const pipelines::ImageProcessor proc = processor(model);
    const pipelines::PreparedCall a = proc.prepare({}, approximate), e = proc.prepare({}, exact);
    for (const auto& [name, bytes] : files) {
      INFO(name);
      CHECK(same_outcome(run_one(a, name, bytes), run_one(e, name, bytes)));
    }
    Tensor array = ops::convert_rgb(ops::decode_image(reinterpret_cast<const uint8_t*>(photo.data()), photo.size(), "p"));
    CHECK(same_bytes(a.run({ops::InputItem::from_array(array, "array")}),
                     e.run({ops::InputItem::from_array(array, "array")})));
  }
}

TEST_CASE("approximate mode picks PIL draft's reduction and stays within its error bound", "[decode_region][approximate]") {
  const std::string photo = read_file(data_file("decode_region/photo_640x480.jpg"));
  const pipelines::ImageProcessor clip = processor("openai__clip-vit-base-patch32");
  // 640x480 -> 298x224: min(640 // 298, 480 // 224) = 2 -> decoded at 320x240.
  {
    pipelines::CallOptions o;
    o.approximate = true;
    const Plan plan = clip.plan({}, o);
    const Pipeline p = build_pipeline(plan);
    ops::InputLoader loader({}, plan.load);
    loader.set_first_op(p.image_ops().front(), true, true);
    CHECK(loader.decode_plan(ops::ImageInfo{"JPEG", "RGB", 640, 480, 1}).reduce == 2);
    CHECK(loader.decode_plan(ops::ImageInfo{"JPEG", "RGB", 2268, 1512, 1}).reduce == 4);   // 1512 // 224 = 6
    CHECK(loader.decode_plan(ops::ImageInfo{"JPEG", "RGB", 4000, 3000, 1}).reduce == 8);
    CHECK(loader.decode_plan(ops::ImageInfo{"JPEG", "RGB", 447, 447, 1}).reduce == 1);
    CHECK(!loader.decode_plan(ops::ImageInfo{"JPEG", "RGB", 640, 480, 1}).region);  // never combined
    ops::InputLoader exact_loader({}, plan.load);
    exact_loader.set_first_op(p.image_ops().front());
    CHECK(exact_loader.decode_plan(ops::ImageInfo{"JPEG", "RGB", 2268, 1512, 1}).reduce == 1);
  }
  // Error bound on the fixture (measured: max 0.105 normalized = 7.0 levels, mean 0.016; see
  // bench/README.md for the benchmark set).
  const std::vector<double> clip_std{0.26862954, 0.26130258, 0.27577711};
  pipelines::CallOptions exact, approximate;
  approximate.approximate = true;
  const Tensor want = clip.prepare({}, exact).run({ops::InputItem::borrow_bytes(photo, "photo")})["pixel_values"];
  const Tensor got = clip.prepare({}, approximate).run({ops::InputItem::borrow_bytes(photo, "photo")})["pixel_values"];
  const ApproxError e = approx_error(got, want, clip_std);
  INFO("max " << e.max_norm << " normalized, " << e.max_levels << " levels, mean " << e.mean_norm);
  CHECK(e.max_norm > 0);
  CHECK(e.max_levels <= 8.0);
  CHECK(e.mean_norm <= 0.02);
}
