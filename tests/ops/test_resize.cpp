// resize: Pillow 9.4 fixtures (tests/data/resize, made by make_fixtures.py there), Halide kernels
// against the scalar reference over generated sizes, Hugging Face's float path, argument checks.
#include <catch2/catch.hpp>

#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/errors.h"
#include "graph/kernels.h"
#include "graph/npy.h"
#include "graph/tensor.h"
#include "ops/resize/resize.h"
#include "ops/resize/resize_kernels.h"
#include "ops/resize/resize_op.h"

using namespace pixelflow;
using namespace pixelflow::ops;

namespace {

const std::string kDir = std::string(PIXELFLOW_TEST_DATA_DIR) + "/resize/";

nlohmann::json load_cases() {
  std::ifstream f(kDir + "cases.json");
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}

Tensor random_image(std::mt19937& rng, int64_t h, int64_t w, int64_t c) {
  Tensor t = Tensor::empty(DType::kUInt8, {h, w, c});
  uint8_t* d = t.data<uint8_t>();
  const int kind = static_cast<int>(rng() % 3);
  const double fx = 1 + rng() % 9, fy = 1 + rng() % 7;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t ch = 0; ch < c; ++ch) {
        uint8_t v;
        if (kind == 0) {
          v = static_cast<uint8_t>(rng());
        } else if (kind == 1) {
          v = (rng() & 1) ? 255 : 0;  // hard edges drive the negative lobes to the clamps
        } else {
          double s = (std::sin(x / fx) + std::cos(y / fy)) * 64 + 128 + static_cast<int>(rng() % 31) - 15;
          v = static_cast<uint8_t>(std::clamp(s, 0.0, 255.0));
        }
        d[(y * w + x) * c + ch] = v;
      }
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// Halide path and scalar reference on one case; both into fresh outputs.
void check_kernel_vs_reference(const Tensor& in, int64_t oh, int64_t ow, Resample f,
                               const Rect& win) {
  Tensor fast = Tensor::empty(DType::kUInt8, {win.height, win.width, in.dim(2)});
  Tensor ref = Tensor::empty(DType::kUInt8, {win.height, win.width, in.dim(2)});
  std::memset(fast.raw_data(), 0xA5, fast.nbytes());  // every byte must be written
  resize_u8(in, oh, ow, f, win, fast);
  resize_u8_reference(in, oh, ow, f, win, ref);
  INFO("input " << shape_str(in.shape()) << " -> " << oh << "x" << ow << " " << resample_name(f)
                << " window (" << win.x << ", " << win.y << ", " << win.width << ", "
                << win.height << ")");
  REQUIRE(same_bytes(fast, ref));
}

}  // namespace

TEST_CASE("resize_u8 equals Pillow 9.4 on the fixtures", "[resize]") {
  const nlohmann::json cases = load_cases();
  REQUIRE(cases.at("pillow") == "9.4.0");
  const Tensor expected = load_npy(kDir + "expected_u8.npy");
  const uint8_t* exp = expected.data<uint8_t>();
  int checked = 0;
  int per_filter[6] = {};
  for (const auto& c : cases.at("u8")) {
    const Tensor in = load_npy(kDir + c.at("input").get<std::string>());
    const int64_t oh = c.at("out_h"), ow = c.at("out_w");
    const Resample f = static_cast<Resample>(c.at("filter").get<int>());
    const auto w = c.at("window");
    const Rect win{w[0], w[1], w[2], w[3]};
    const size_t off = c.at("offset"), size = c.at("size");
    REQUIRE(off + size <= static_cast<size_t>(expected.numel()));
    INFO(c.dump());
    for (bool reference : {false, true}) {
      Tensor out = Tensor::empty(DType::kUInt8, {win.height, win.width, in.dim(2)});
      REQUIRE(static_cast<size_t>(out.numel()) == size);
      if (reference)
        resize_u8_reference(in, oh, ow, f, win, out);
      else
        resize_u8(in, oh, ow, f, win, out);
      REQUIRE(std::memcmp(out.raw_data(), exp + off, size) == 0);
    }
    ++per_filter[static_cast<int>(f)];
    ++checked;
  }
  REQUIRE(checked == 252);
  for (int n : per_filter) REQUIRE(n == 42);
}

TEST_CASE("resize_u8 Halide kernels equal the scalar reference", "[resize]") {
  std::mt19937 rng(1234);
  SECTION("generated sizes, filters, channels and windows") {
    for (int i = 0; i < 600; ++i) {
      const int64_t c = std::array<int64_t, 4>{1, 3, 3, 4}[rng() % 4];
      auto dim = [&](int64_t max) -> int64_t {
        const uint32_t k = rng() % 10;
        return k < 2 ? 1 + rng() % 4 : 1 + rng() % max;
      };
      const int64_t h = dim(150), w = dim(150);
      auto out_dim = [&](int64_t s) -> int64_t {
        switch (rng() % 5) {
          case 0: return 1 + rng() % std::max<int64_t>(1, s / 2);  // downscale
          case 1: return s + 1 + rng() % (s * 2 + 1);                // upscale
          case 2: return s;                                           // same size
          case 3: return 1 + rng() % 6;                               // tiny
          default: return 1 + rng() % 200;
        }
      };
      const int64_t oh = out_dim(h), ow = out_dim(w);
      const Resample f = static_cast<Resample>(rng() % 6);
      Rect win = Rect::full(oh, ow);
      if (rng() % 2) {  // anything from a crop to a window hanging over every side
        win.x = static_cast<int64_t>(rng() % (ow + 20)) - 10;
        win.y = static_cast<int64_t>(rng() % (oh + 20)) - 10;
        win.width = rng() % (ow + 25);
        win.height = rng() % (oh + 25);
      }
      check_kernel_vs_reference(random_image(rng, h, w, c), oh, ow, f, win);
    }
  }
  SECTION("extreme ratios and large images") {
    struct Geo {
      int64_t h, w, oh, ow;
    };
    const Geo geos[] = {{1, 1, 1, 500},    {1, 1, 300, 2},  {1000, 1, 1, 1},   {1, 1000, 1, 3},
                        {2000, 3, 7, 1},   {3, 2, 2, 2000}, {480, 640, 224, 298}, {640, 480, 298, 224},
                        {300, 1200, 5, 9}, {31, 33, 33, 31}};
    for (const Geo& g : geos)
      for (int64_t c : {1, 3})
        for (int f = 0; f < 6; ++f) {
          const Tensor in = random_image(rng, g.h, g.w, c);
          check_kernel_vs_reference(in, g.oh, g.ow, static_cast<Resample>(f),
                                    Rect::full(g.oh, g.ow));
          // HF's center crop of the same resize, larger than the image on one side.
          const int64_t ch = std::min<int64_t>(g.oh, 224), cw = g.ow + 3;
          check_kernel_vs_reference(in, g.oh, g.ow, static_cast<Resample>(f),
                                    Rect{(g.ow - cw) / 2, (g.oh - ch) / 2, cw, ch});
        }
  }
  SECTION("windows outside the image, empty windows") {
    const Tensor in = random_image(rng, 20, 30, 3);
    check_kernel_vs_reference(in, 10, 15, Resample::kBicubic, Rect{100, 0, 5, 5});
    check_kernel_vs_reference(in, 10, 15, Resample::kBicubic, Rect{0, -50, 15, 10});
    check_kernel_vs_reference(in, 10, 15, Resample::kLanczos, Rect{3, 3, 0, 4});
    check_kernel_vs_reference(in, 10, 15, Resample::kNearest, Rect{-3, -3, 0, 0});
    Tensor out = Tensor::empty(DType::kUInt8, {5, 5, 3});
    std::memset(out.raw_data(), 7, out.nbytes());
    resize_u8(in, 10, 15, Resample::kBilinear, Rect{15, 10, 5, 5}, out);
    for (int64_t i = 0; i < out.numel(); ++i) REQUIRE(out.data<uint8_t>()[i] == 0);
  }
}

namespace {

namespace rk = pixelflow::ops::resize_kernels;

// Restores the process-wide kernel selection when a test ends.
struct SelectionGuard {
  KernelFamily& horizontal = kernel_family(rk::kHorizontal);
  KernelFamily& vertical = kernel_family(rk::kVertical);
  size_t h = horizontal.selected();
  size_t v = vertical.selected();
  bool dot = rk::dot_product_allowed();
  ~SelectionGuard() {
    horizontal.select(h);
    vertical.select(v);
    rk::set_dot_product_allowed(dot);
  }
};

// Generated cases and the benchmark geometries, kernel path against the scalar reference.
void check_variant(std::mt19937& rng, int random_cases) {
  for (int i = 0; i < random_cases; ++i) {
    const int64_t c = std::array<int64_t, 3>{1, 3, 4}[rng() % 3];
    const int64_t h = 1 + rng() % 90, w = 1 + rng() % 90;
    const int64_t oh = 1 + rng() % 70, ow = 1 + rng() % 70;
    const Resample f = static_cast<Resample>(1 + rng() % 5);
    Rect win = Rect::full(oh, ow);
    if (rng() % 2) win = Rect{static_cast<int64_t>(rng() % 7) - 3, static_cast<int64_t>(rng() % 7) - 3,
                                std::max<int64_t>(0, ow - static_cast<int64_t>(rng() % 3)), oh + 2};
    check_kernel_vs_reference(random_image(rng, h, w, c), oh, ow, f, win);
  }
  const Tensor big = random_image(rng, 480, 640, 3);
  check_kernel_vs_reference(big, 224, 298, Resample::kBicubic, Rect{37, 0, 224, 224});
  check_kernel_vs_reference(big, 224, 224, Resample::kBilinear, Rect::full(224, 224));
  check_kernel_vs_reference(big, 384, 512, Resample::kLanczos, Rect{64, 0, 384, 384});
  check_kernel_vs_reference(random_image(rng, 333, 257, 4), 101, 97, Resample::kHamming,
                            Rect::full(101, 97));
  check_kernel_vs_reference(random_image(rng, 77, 1000, 1), 5, 31, Resample::kBox,
                            Rect::full(5, 31));
}

}  // namespace

TEST_CASE("every compiled resize kernel variant equals the scalar reference", "[resize]") {
  SelectionGuard guard;
  KernelFamily& fh = guard.horizontal;
  KernelFamily& fv = guard.vertical;
  const size_t nh = fh.size(), nv = fv.size();
  REQUIRE(nh >= 2);
  REQUIRE(nv >= 2);
  std::mt19937 rng(2024);
  // Each variant of one pass with the default of the other, with and without the dot-product
  // formulation (where the CPU has it; the int32 fallback otherwise).
  for (bool dot : {true, false}) {
    rk::set_dot_product_allowed(dot);
    for (size_t i = 0; i < nh; ++i) {
      INFO("resize_horizontal_" << fh.variant(i).variant << " (" << fh.variant(i).knobs << "), dot " << dot);
      fh.select(i);
      fv.select(size_t{0});
      check_variant(rng, 40);
    }
    for (size_t i = 1; i < nv; ++i) {
      INFO("resize_vertical_" << fv.variant(i).variant << " (" << fv.variant(i).knobs << "), dot " << dot);
      fh.select(size_t{0});
      fv.select(i);
      check_variant(rng, 40);
    }
  }
}

TEST_CASE("resize kernel variants are listed and selected by index or name", "[resize]") {
  SelectionGuard guard;
  for (KernelFamily* f : {&guard.horizontal, &guard.vertical}) {
    INFO(f->name());
    REQUIRE(std::string(f->variant(0).variant) == "default");
    REQUIRE(std::string(f->variant(0).knobs).empty());
    const size_t n = f->size();
    for (size_t i = 0; i < n; ++i) {
      REQUIRE(f->select(std::string(f->variant(i).variant)));
      REQUIRE(f->selected() == i);
    }
    REQUIRE_FALSE(f->select(std::string("no_such_variant")));
    REQUIRE(f->selected() == n - 1);
    REQUIRE_THROWS_AS(f->select(n), std::out_of_range);
  }
}

TEST_CASE("resize_u8 is thread-safe and its cached tables follow the geometry", "[resize]") {
  std::mt19937 rng(99);
  const Tensor a = random_image(rng, 97, 131, 3), b = random_image(rng, 64, 48, 1);
  auto work = [&](int seed, bool* ok) {
    std::mt19937 r(seed);
    *ok = true;
    for (int i = 0; i < 40 && *ok; ++i) {
      const Tensor& in = (r() % 2) ? a : b;
      const int64_t oh = 1 + r() % 120, ow = 1 + r() % 120;
      const Resample f = static_cast<Resample>(r() % 6);
      const Rect win{static_cast<int64_t>(r() % 5), 0, ow, oh};
      Tensor fast = Tensor::empty(DType::kUInt8, {oh, ow, in.dim(2)});
      Tensor ref = Tensor::empty(DType::kUInt8, {oh, ow, in.dim(2)});
      resize_u8(in, oh, ow, f, win, fast);
      resize_u8_reference(in, oh, ow, f, win, ref);
      *ok = same_bytes(fast, ref);
    }
  };
  bool ok1 = false, ok2 = false;
  std::thread t1(work, 1, &ok1), t2(work, 2, &ok2);
  t1.join();
  t2.join();
  REQUIRE(ok1);
  REQUIRE(ok2);
}

TEST_CASE("resize_float_hf follows Hugging Face's PIL conversion", "[resize]") {
  const nlohmann::json cases = load_cases();
  int checked = 0, errors = 0;
  for (const auto& c : cases.at("float")) {
    INFO(c.dump());
    const Tensor in = load_npy(kDir + c.at("input").get<std::string>());
    const int64_t oh = c.at("out_h"), ow = c.at("out_w");
    const Resample f = static_cast<Resample>(c.at("filter").get<int>());
    if (c.contains("error")) {
      try {
        resize_float_hf(in, oh, ow, f, "img.npy");
        FAIL("no error raised");
      } catch (const InputError& e) {
        REQUIRE(std::string(e.what()) == "img.npy: " + c.at("error").get<std::string>());
      }
      ++errors;
    } else {
      const Tensor want = load_npy(kDir + c.at("expected").get<std::string>());
      const Tensor got = resize_float_hf(in, oh, ow, f, "img.npy");
      REQUIRE(got.dtype() == want.dtype());
      REQUIRE(same_bytes(got, want));
    }
    ++checked;
  }
  REQUIRE(checked == 6);
  REQUIRE(errors == 2);

  // The 0/1 float image is "integral": Hugging Face returns uint8 0/1, not a rescaled float.
  Tensor binary = Tensor::zeros(DType::kFloat32, {4, 4, 1});
  binary.data<float>()[5] = 1.0f;
  REQUIRE(resize_float_hf(binary, 2, 2, Resample::kNearest, "x").dtype() == DType::kUInt8);
  // NaN is neither integral nor in [0, 1].
  Tensor nan = Tensor::zeros(DType::kFloat64, {2, 2, 3});
  nan.data<double>()[3] = std::nan("");
  REQUIRE_THROWS_AS(resize_float_hf(nan, 3, 3, Resample::kBilinear, "x"), InputError);
  // uint8 passes straight through.
  std::mt19937 rng(5);
  const Tensor u8 = random_image(rng, 9, 7, 3);
  REQUIRE(same_bytes(resize_float_hf(u8, 4, 5, Resample::kBox, "x"),
                     resize_u8(u8, 4, 5, Resample::kBox)));
}

TEST_CASE("resize rejects bad arguments with clear errors", "[resize]") {
  const Tensor in = Tensor::zeros(DType::kUInt8, {4, 5, 3});
  Tensor out = Tensor::empty(DType::kUInt8, {2, 2, 3});
  const Rect win = Rect::full(2, 2);
  REQUIRE_THROWS_AS(resize_u8(in, 0, 2, Resample::kBicubic, win, out), InputError);
  REQUIRE_THROWS_AS(resize_u8(in, 2, -1, Resample::kBicubic, win, out), InputError);
  REQUIRE_THROWS_AS(resize_u8(in, 2, int64_t(1) << 32, Resample::kBicubic, win, out), InputError);
  REQUIRE_THROWS_AS(resize_u8(in, 2, 2, static_cast<Resample>(6), win, out), InputError);
  Tensor wrong = Tensor::empty(DType::kUInt8, {2, 3, 3});
  REQUIRE_THROWS_AS(resize_u8(in, 2, 2, Resample::kBicubic, win, wrong), InputError);
  REQUIRE_THROWS_AS(resize_u8(Tensor::zeros(DType::kUInt8, {4, 5, 2}), 2, 2, Resample::kBox, win, out),
                    InputError);
  REQUIRE_THROWS_AS(resize_u8(Tensor::zeros(DType::kFloat32, {4, 5, 3}), 2, 2, Resample::kBox, win, out),
                    InputError);
  REQUIRE_THROWS_AS(resize_u8(Tensor::zeros(DType::kUInt8, {0, 5, 3}), 2, 2, Resample::kBox, win, out),
                    InputError);
  REQUIRE_THROWS_AS(resize_u8_reference(in, 0, 2, Resample::kBox, win, out), InputError);
  REQUIRE_THROWS_AS(resize_float_hf(Tensor::zeros(DType::kFloat32, {4, 5, 2}), 2, 2, Resample::kBox, "a.npy"),
                    InputError);
  REQUIRE_THROWS_AS(resize_float_hf(Tensor::zeros(DType::kInt32, {4, 5, 3}), 2, 2, Resample::kBox, "a.npy"),
                    InputError);
  try {
    resample_from_int(7, "resample");
    FAIL("no error raised");
  } catch (const ConfigError& e) {
    REQUIRE(e.key_path() == "resample");
    REQUIRE(std::string(e.what()).find("3 BICUBIC") != std::string::npos);
  }
  REQUIRE(resample_from_int(3, "resample") == Resample::kBicubic);
  REQUIRE(std::string(resample_name(Resample::kHamming)) == "HAMMING");
}

TEST_CASE("resize output sizes: empty inputs and overflowing sizes are refused, never computed", "[resize]") {
  auto rule_of = [](const nlohmann::json& params) { return ResizeRule::from_params(params); };
  auto error_of = [](const auto& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "<no error>";
  };
  // Hugging Face divides by the shorter side (ZeroDivisionError): an empty image is refused.
  const ResizeRule shortest = rule_of({{"size", {{"shortest_edge", 224}}}});
  for (const auto& hw : {std::pair<int64_t, int64_t>{0, 10}, {10, 0}, {0, 0}}) {
    const int64_t h = hw.first, w = hw.second;  // clang 14 cannot capture a structured binding
    INFO(h << "x" << w);
    CHECK_THROWS_AS(shortest.output_size(h, w), InputError);
    CHECK_THAT(error_of([&] { shortest.output_size(h, w); }), Catch::Contains("no pixels"));
  }
  const ResizeRule dpt = rule_of({{"size", {{"height", 384}, {"width", 384}}}, {"keep_aspect_ratio", true},
                                  {"ensure_multiple_of", 32}});
  CHECK_THROWS_AS(dpt.output_size(0, 7), InputError);
  // size * long_side overflowed int64_t (UB), giving sizes like -9223372036854775808.
  const ResizeRule largest = rule_of({{"size", {{"shortest_edge", 2147483647}}}});
  const std::string overflow = error_of([&] { largest.output_size(1, int64_t(1) << 40); });
  CHECK_THAT(overflow, Catch::StartsWith("resize (shortest_edge 2147483647) from (1, 1099511627776)"));
  CHECK(overflow.find("-9223372036854775808") == std::string::npos);
  // A long side beyond Pillow's C int.
  CHECK_THAT(error_of([&] { largest.output_size(10, 20); }), Catch::Contains("exceeds 2147483647 pixels"));
  CHECK_THAT(error_of([&] { dpt.output_size(384, int64_t(1) << 40); }), Catch::Contains("exceeds 2147483647 pixels"));
  // Sizes themselves are bounded where they are read, naming the key.
  for (const char* key : {"shortest_edge", "height"}) {
    nlohmann::json size = {{"shortest_edge", 1}};
    if (std::string(key) == "height") size = {{"height", int64_t(1) << 40}, {"width", 2}};
    else size = {{"shortest_edge", INT64_MAX}};
    try {
      rule_of({{"size", size}});
      FAIL("no error");
    } catch (const ConfigError& e) {
      CHECK(e.key_path() == std::string("size.") + key);
      CHECK_THAT(std::string(e.what()), Catch::Contains("must be at most 2147483647"));
    }
  }
  CHECK_THROWS_AS(rule_of({{"size_divisor", INT64_MAX}}), ConfigError);
  CHECK_THROWS_AS(rule_of({{"size", {{"height", 1}, {"width", 1}}}, {"ensure_multiple_of", INT64_MAX}}), ConfigError);
  // A float that no int64_t holds (converting it was UB).
  CHECK_THROWS_AS(rule_of({{"size", {{"shortest_edge", 1e300}}}}), ConfigError);
  // Ordinary sizes are unchanged.
  CHECK(shortest.output_size(480, 640) == std::make_pair(int64_t(224), int64_t(298)));
  CHECK(largest.output_size(1, 1) == std::make_pair(int64_t(2147483647), int64_t(2147483647)));
}

TEST_CASE("resize refuses an output too large to hold, from the sizes alone", "[resize]") {
  const ResizeOp op(nlohmann::json{{"size", {{"shortest_edge", 2147483647}}}, {"resample", 2}});
  Sample s;
  s.image = Tensor::zeros(DType::kUInt8, {1, 1, 3});
  try {
    op.run(s, ExecContext{}, true);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("too large"));
  }
}

TEST_CASE("ResizeOp splits a large output into bands of rows run in parallel, same bytes", "[resize]") {
  std::mt19937 rng(21);
  Tensor in = Tensor::empty(DType::kUInt8, {1365, 2048, 3});
  for (int64_t i = 0; i < in.numel(); ++i) in.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  for (int filter : {1, 2, 3}) {
    const ops::ResizeOp op({{"smart_resize", {{"factor", 28}, {"min_pixels", 3136}, {"max_pixels", 1003520}}},
                            {"resample", filter}});
    Tensor want = Tensor::empty(DType::kUInt8, {812, 1204, 3});
    ops::resize_u8(in, 812, 1204, static_cast<ops::Resample>(filter), Rect::full(812, 1204), want);
    for (int threads : {1, 2}) {  // 2: four bands (the machine may have no more cores)
      INFO("filter " << filter << ", " << threads << " threads");
      tbb::task_arena arena(threads);
      Sample s;
      s.image = in;
      arena.execute([&] { op.run(s, ExecContext{}, false); });
      REQUIRE(s.image.shape() == want.shape());
      CHECK(std::memcmp(s.image.raw_data(), want.raw_data(), want.nbytes()) == 0);
    }
  }
}
