// post_process_semantic_segmentation: PyTorch's bilinear tables, cases with known answers,
// fused kernels == scalar reference (random shapes, near ties, NaN/Inf, every work split),
// Hugging Face goldens (windows of the shared golden cases, see data/post_process), errors and
// the graph op.
#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "graph/npy.h"
#include "ops/post_process_semantic_segmentation/post_process_semantic_segmentation.h"

using namespace pixelflow;
using ops::BilinearArithmetic;
using ops::SegmentationMapOptions;
using ops::TargetSize;

namespace {

const std::string kData = std::string(PIXELFLOW_TEST_DATA_DIR) + "/post_process";

Tensor random_logits(std::mt19937& rng, Shape shape) {
  std::normal_distribution<float> normal;
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = normal(rng);
  return t;
}

// Logits full of near ties: few distinct values, and some classes one ulp away from others.
Tensor tie_logits(std::mt19937& rng, Shape shape) {
  std::uniform_int_distribution<int> level(-2, 2), pick(0, 3);
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  float* p = t.data<float>();
  const int64_t plane = t.dim(1) * t.dim(2);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = 0.37f * static_cast<float>(level(rng));
    const int r = pick(rng);
    if (i >= plane && r == 0) v = p[i - plane];                           // exact tie
    if (i >= plane && r == 1) v = std::nextafter(p[i - plane], 1e9f);     // one ulp above
    if (i >= plane && r == 2) v = std::nextafter(p[i - plane], -1e9f);    // one ulp below
    p[i] = v;
  }
  return t;
}

Tensor map_of(const Tensor& item, const std::optional<TargetSize>& size) {
  return Tensor::empty(DType::kInt64, size ? Shape{size->first, size->second}
                                           : Shape{item.dim(1), item.dim(2)});
}

Tensor kernel_map(const Tensor& item, const std::optional<TargetSize>& size,
                  const SegmentationMapOptions& opt = {}) {
  Tensor out = map_of(item, size);
  ops::segmentation_map(item, size, out, opt);
  return out;
}

Tensor reference_map(const Tensor& item, const std::optional<TargetSize>& size,
                     std::optional<BilinearArithmetic> a = {}) {
  Tensor out = map_of(item, size);
  ops::segmentation_map_reference(item, size, out, a);
  return out;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

int64_t count_diff(const Tensor& a, const Tensor& b) {
  int64_t n = 0;
  for (int64_t i = 0; i < a.numel(); ++i) n += a.data<int64_t>()[i] != b.data<int64_t>()[i];
  return n;
}

}  // namespace

TEST_CASE("pytorch_linear_axis follows PyTorch's float32 index and weight formulas",
          "[post_process_semantic_segmentation]") {
  SECTION("upsampling 2 -> 4") {
    auto a = ops::pytorch_linear_axis<float>(2, 4);
    // src = 0.5 * (i + 0.5) - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25
    CHECK(a.index0 == std::vector<int32_t>{0, 0, 0, 1});
    CHECK(a.index1 == std::vector<int32_t>{1, 1, 1, 1});
    CHECK(a.lambda1 == std::vector<float>{0.f, 0.25f, 0.75f, 0.25f});
    CHECK(a.lambda0 == std::vector<float>{1.f, 0.75f, 0.25f, 0.75f});
  }
  SECTION("downsampling 4 -> 2") {
    auto a = ops::pytorch_linear_axis<float>(4, 2);
    CHECK(a.index0 == std::vector<int32_t>{0, 2});
    CHECK(a.index1 == std::vector<int32_t>{1, 3});
    CHECK(a.lambda1 == std::vector<float>{0.5f, 0.5f});
  }
  SECTION("same size: plain copy weights") {
    auto a = ops::pytorch_linear_axis<float>(5, 5);
    CHECK(a.index0 == std::vector<int32_t>{0, 1, 2, 3, 4});
    CHECK(a.index1 == a.index0);
    CHECK(a.lambda0 == std::vector<float>(5, 1.f));
    CHECK(a.lambda1 == std::vector<float>(5, 0.f));
  }
  SECTION("one source pixel") {
    auto a = ops::pytorch_linear_axis<float>(1, 4);
    CHECK(a.index0 == std::vector<int32_t>(4, 0));
    CHECK(a.index1 == std::vector<int32_t>(4, 0));
    // lambda1 = clamp(src, 0, 1) with src = 0.25 * (i + 0.5) - 0.5
    CHECK(a.lambda1 == std::vector<float>{0.f, 0.f, 0.125f, 0.375f});
  }
  SECTION("non-dyadic scale rounds in float32, not double") {
    auto a = ops::pytorch_linear_axis<float>(64, 451);
    const float scale = 64.f / 451.f;
    for (int i = 0; i < 451; ++i) {
      float src = scale * (static_cast<float>(i) + 0.5f) - 0.5f;
      if (src < 0) src = 0;
      const int k = std::min(static_cast<int>(std::floor(src)), 63);
      REQUIRE(a.index0[size_t(i)] == k);
      REQUIRE(a.lambda1[size_t(i)] == std::min(std::max(src - static_cast<float>(k), 0.f), 1.f));
    }
    // The float64 table (float64 logits) differs somewhere: that's torch's double opmath.
    auto d = ops::pytorch_linear_axis<double>(64, 451);
    bool differs = false;
    for (size_t i = 0; i < 451; ++i) differs |= static_cast<float>(d.lambda1[i]) != a.lambda1[i];
    CHECK(differs);
  }
}

TEST_CASE("PyTorch's choice of bilinear kernel", "[post_process_semantic_segmentation]") {
  using ops::pytorch_bilinear_arithmetic;
  CHECK(pytorch_bilinear_arithmetic(150, 128, 128, 512, 512) == BilinearArithmetic::kGeneric);
  CHECK(pytorch_bilinear_arithmetic(150, 128, 128, 64, 64) == BilinearArithmetic::kChannelsLast);
  CHECK(pytorch_bilinear_arithmetic(150, 128, 128, 64, 65) == BilinearArithmetic::kGeneric);
  CHECK(pytorch_bilinear_arithmetic(19, 1, 1, 300, 300) == BilinearArithmetic::kChannelsLast);
  CHECK(pytorch_bilinear_arithmetic(3, 1, 1, 300, 300) == BilinearArithmetic::kGeneric);
  CHECK(pytorch_bilinear_arithmetic(19, 1, 2, 300, 300) == BilinearArithmetic::kGeneric);
}

TEST_CASE("known answers: exact interpolation, ties, identity size, NaN and Inf",
          "[post_process_semantic_segmentation]") {
  SECTION("linear ramp upsampled x2 is interpolated exactly") {
    // class 0 = 0, class 1 = x - 40 (integers): with weights 1/4 and 3/4 every value is exact,
    // so class 1 wins exactly where the interpolated source position exceeds 40 (ties -> 0).
    const int64_t h = 3, w = 96, H = 6, W = 192;
    Tensor logits = Tensor::zeros(DType::kFloat32, {1, 2, h, w});
    float* p = logits.data<float>();
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) p[h * w + y * w + x] = static_cast<float>(x - 40);
    auto maps = ops::post_process_semantic_segmentation(logits, {{H, W}});
    REQUIRE(maps.size() == 1);
    const Tensor& m = maps[0];
    REQUIRE(m.dtype() == DType::kInt64);
    REQUIRE(m.shape() == Shape{H, W});
    for (int64_t x = 0; x < W; ++x) {
      const double src = std::min(std::max((x + 0.5) * 0.5 - 0.5, 0.0), double(w - 1));
      const int64_t want = src - 40 > 0 ? 1 : 0;
      for (int64_t y = 0; y < H; ++y) REQUIRE(m.data<int64_t>()[y * W + x] == want);
    }
    CHECK(same(m, reference_map(logits[0], TargetSize{H, W})));
  }

  SECTION("ties go to the first maximum") {
    std::mt19937 rng(7);
    Tensor logits = random_logits(rng, {1, 6, 20, 70});
    const int64_t plane = 20 * 70;
    float* p = logits.data<float>();
    for (int64_t i = 0; i < plane; ++i) p[2 * plane + i] = p[4 * plane + i] = 10.f + float(i % 3);
    for (const auto& size : {std::optional<TargetSize>{}, std::optional<TargetSize>{{45, 130}}}) {
      Tensor m = kernel_map(logits[0], size);
      for (int64_t i = 0; i < m.numel(); ++i) REQUIRE(m.data<int64_t>()[i] == 2);
      CHECK(same(m, reference_map(logits[0], size)));
    }
    Tensor flat = Tensor::zeros(DType::kFloat32, {2, 5, 33, 80});
    for (const auto& t : ops::post_process_semantic_segmentation(flat, {{100, 100}, {20, 300}}))
      for (int64_t i = 0; i < t.numel(); ++i) REQUIRE(t.data<int64_t>()[i] == 0);
  }

  SECTION("target size equal to the logits' size gives the plain argmax for finite values") {
    std::mt19937 rng(11);
    Tensor logits = random_logits(rng, {1, 21, 40, 100});
    Tensor plain = kernel_map(logits[0], std::nullopt);
    CHECK(same(plain, reference_map(logits[0], std::nullopt)));
    CHECK(same(kernel_map(logits[0], TargetSize{40, 100}), plain));
  }

  SECTION("torch.argmax's NaN rule; Inf; -Inf turns into NaN through a*1 + a*0") {
    Tensor logits = Tensor::zeros(DType::kFloat32, {1, 6, 2, 70});
    const int64_t plane = 2 * 70;
    float* p = logits.data<float>();
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    p[1 * plane + 0] = 5.f;
    p[2 * plane + 0] = nan;   // first NaN wins ...
    p[4 * plane + 0] = nan;   // ... over a later one
    p[3 * plane + 1] = inf;   // +inf wins
    p[2 * plane + 2] = -inf;  // -inf loses without resizing; with it, -inf*1 + -inf*0 is NaN
    for (bool parallel : {false, true}) {
      SegmentationMapOptions opt;
      opt.parallel = parallel;
      Tensor m = kernel_map(logits[0], std::nullopt, opt);
      CHECK(m.data<int64_t>()[0] == 2);
      CHECK(m.data<int64_t>()[1] == 3);
      CHECK(m.data<int64_t>()[2] == 0);
      CHECK(same(m, reference_map(logits[0], std::nullopt)));
      Tensor r = kernel_map(logits[0], TargetSize{2, 70}, opt);
      CHECK(r.data<int64_t>()[0] == 2);
      CHECK(r.data<int64_t>()[1] == 3);  // +inf*1 + +inf*0 is NaN as well: class 3 is the NaN
      CHECK(r.data<int64_t>()[2] == 2);
      CHECK(same(r, reference_map(logits[0], TargetSize{2, 70})));
    }
  }

  SECTION("float64 logits give the float32 answer when the arithmetic is exact in both") {
    Tensor l32 = Tensor::empty(DType::kFloat32, {2, 3, 8, 9});
    Tensor l64 = Tensor::empty(DType::kFloat64, {2, 3, 8, 9});
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> v(-8, 8);
    for (int64_t i = 0; i < l32.numel(); ++i) {
      const int x = v(rng);
      l32.data<float>()[i] = float(x);
      l64.data<double>()[i] = double(x);
    }
    auto a = ops::post_process_semantic_segmentation(l32, {{16, 18}, {4, 9}});
    auto b = ops::post_process_semantic_segmentation(l64, {{16, 18}, {4, 9}});
    REQUIRE(a.size() == 2);
    CHECK(same(a[0], b[0]));
    CHECK(same(a[1], b[1]));
    auto c = ops::post_process_semantic_segmentation(l64, {});
    CHECK(same(c[1], ops::post_process_semantic_segmentation(l32, {})[1]));
  }
}

TEST_CASE("fused kernels == scalar reference", "[post_process_semantic_segmentation]") {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> classes(1, 40), small(1, 48), wide(1, 100), out_h(1, 260),
      out_w(64, 300);
  int checked = 0;
  for (int iter = 0; iter < 60; ++iter) {
    const int64_t C = classes(rng), h = small(rng), w = wide(rng), H = out_h(rng), W = out_w(rng);
    Tensor logits = iter % 2 ? tie_logits(rng, {1, C, h, w}) : random_logits(rng, {1, C, h, w});
    SegmentationMapOptions opt;
    opt.arithmetic = BilinearArithmetic::kGeneric;  // the kernels' arithmetic, at any size
    opt.tile_width = 64 + 32 * (iter % 4);
    opt.max_source_rows = 2 + iter % 9;
    opt.max_band_rows = 1 + iter % 70;
    opt.parallel = iter % 3 != 0;
    INFO("C=" << C << " h=" << h << " w=" << w << " -> " << H << "x" << W << " iter " << iter);
    const Tensor item = logits[0];
    REQUIRE(same(kernel_map(item, TargetSize{H, W}, opt),
                 reference_map(item, TargetSize{H, W}, BilinearArithmetic::kGeneric)));
    if (w >= 64) REQUIRE(same(kernel_map(item, std::nullopt, opt), reference_map(item, std::nullopt)));
    ++checked;
  }
  CHECK(checked == 60);

  SECTION("real sizes: 128 -> 512 (150 classes), 64 -> 300x451, 32 -> 224, downsampling") {
    struct Case { int64_t C, h, w, H, W; };
    for (const Case& k : {Case{150, 128, 128, 512, 512}, Case{19, 64, 64, 300, 451},
                          Case{150, 32, 32, 224, 224}, Case{21, 129, 97, 64, 70},
                          Case{7, 200, 300, 100, 150}}) {
      Tensor logits = random_logits(rng, {1, k.C, k.h, k.w});
      INFO("C=" << k.C << " " << k.h << "x" << k.w << " -> " << k.H << "x" << k.W);
      REQUIRE(same(kernel_map(logits[0], TargetSize{k.H, k.W}),
                   reference_map(logits[0], TargetSize{k.H, k.W})));
    }
  }

  SECTION("one thread") {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    Tensor logits = tie_logits(rng, {2, 13, 30, 70});
    auto a = ops::post_process_semantic_segmentation(logits, {{90, 200}, {31, 65}});
    auto b = ops::post_process_semantic_segmentation_reference(logits, {{90, 200}, {31, 65}});
    CHECK(same(a[0], b[0]));
    CHECK(same(a[1], b[1]));
  }

  SECTION("NaN, Inf and huge values: torch's NaN rule") {
    Tensor logits = random_logits(rng, {1, 12, 24, 80});
    float* p = logits.data<float>();
    std::uniform_int_distribution<int64_t> at(0, logits.numel() - 1);
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(), 3e38f, -3e38f};
    for (int i = 0; i < 60; ++i) p[at(rng)] = specials[i % 5];
    for (const auto& size : {std::optional<TargetSize>{}, std::optional<TargetSize>{{24, 80}},
                             std::optional<TargetSize>{{77, 301}}, std::optional<TargetSize>{{10, 64}}}) {
      SegmentationMapOptions opt;
      opt.arithmetic = BilinearArithmetic::kGeneric;
      REQUIRE(same(kernel_map(logits[0], size, opt), reference_map(logits[0], size, BilinearArithmetic::kGeneric)));
    }
  }
}

TEST_CASE("PyTorch's channels-last arithmetic for small outputs", "[post_process_semantic_segmentation]") {
  // H + W <= 128: PyTorch runs its channels-last kernel, whose sums associate differently;
  // on near ties (classes one ulp apart) that changes some argmaxes.
  std::mt19937 rng(99);
  int64_t differ = 0, total = 0;
  for (int iter = 0; iter < 200; ++iter) {
    Tensor logits = tie_logits(rng, {1, 11, 5, 7});
    const TargetSize size{17, 23};
    Tensor auto_map = kernel_map(logits[0], size);
    REQUIRE(same(auto_map, reference_map(logits[0], size, BilinearArithmetic::kChannelsLast)));
    differ += count_diff(auto_map, reference_map(logits[0], size, BilinearArithmetic::kGeneric));
    total += auto_map.numel();
  }
  CHECK(differ > 0);
  CHECK(differ < total / 10);
}

TEST_CASE("Hugging Face goldens (windows of the shared cases)", "[post_process_semantic_segmentation][golden]") {
  std::ifstream f(kData + "/cases.json");
  REQUIRE(f.good());
  const auto cases = nlohmann::json::parse(f);
  REQUIRE(cases.size() == 5);
  for (const auto& c : cases) {
    INFO("fixture " << c["id"].get<std::string>());
    const Tensor window = load_npy(kData + "/" + c["logits"].get<std::string>());
    const Tensor expected = load_npy(kData + "/" + c["expected"].get<std::string>());
    REQUIRE(window.dtype() == DType::kFloat32);
    REQUIRE(expected.dtype() == DType::kUInt8);
    const auto shape = c["logits_shape"].get<std::vector<int64_t>>();
    const int64_t C = shape[0], h = shape[1], w = shape[2];
    const int64_t r0 = c["window"][0], c0 = c["window"][1], y0 = c["block"][0], x0 = c["block"][1];
    std::optional<TargetSize> size;
    if (!c["target_size"].is_null()) size = TargetSize{c["target_size"][0], c["target_size"][1]};
    const int64_t W = size ? size->second : w;
    for (float fill : {0.f, 1e30f, std::numeric_limits<float>::quiet_NaN()}) {
      // Full-size logits: the window pasted in, `fill` elsewhere. A huge fill would win any
      // argmax it reached, so the kernels never read outside the window for the checked block;
      // NaN does the same for the scalar path that NaN inputs take.
      Tensor logits = Tensor::empty(DType::kFloat32, {2, C, h, w});
      std::fill(logits.data<float>(), logits.data<float>() + logits.numel(), fill);
      const int64_t item = c["item"];
      for (int64_t k = 0; k < C; ++k)
        for (int64_t r = 0; r < window.dim(1); ++r)
          std::memcpy(logits.data<float>() + ((item * C + k) * h + r0 + r) * w + c0,
                      window.data<float>() + (k * window.dim(1) + r) * window.dim(2),
                      sizeof(float) * size_t(window.dim(2)));
      std::vector<TargetSize> sizes;
      if (size) sizes = {*size, *size};
      for (bool reference : {false, true}) {
        const auto maps = reference ? ops::post_process_semantic_segmentation_reference(logits, sizes)
                                    : ops::post_process_semantic_segmentation(logits, sizes);
        REQUIRE(maps.size() == 2);
        const int64_t* m = maps[size_t(item)].data<int64_t>();
        int64_t bad = 0;
        for (int64_t y = 0; y < expected.dim(0); ++y)
          for (int64_t x = 0; x < expected.dim(1); ++x)
            bad += m[(y0 + y) * W + x0 + x] != int64_t(expected.data<uint8_t>()[y * expected.dim(1) + x]);
        INFO((reference ? "reference" : "kernel") << ", fill " << fill);
        CHECK(bad == 0);
      }
    }
  }
}

TEST_CASE("errors name the problem", "[post_process_semantic_segmentation]") {
  Tensor logits = Tensor::zeros(DType::kFloat32, {2, 3, 4, 5});
  SECTION("not 4-D") {
    Tensor three = Tensor::zeros(DType::kFloat32, {3, 4, 5});
    CHECK_THROWS_WITH(ops::post_process_semantic_segmentation(three, {}),
                      Catch::Contains("must be 4-D") && Catch::Contains("(3, 4, 5)"));
  }
  SECTION("not float") {
    Tensor u8 = Tensor::zeros(DType::kUInt8, {1, 3, 4, 5});
    CHECK_THROWS_AS(ops::post_process_semantic_segmentation(u8, {}), InputError);
    CHECK_THROWS_WITH(ops::post_process_semantic_segmentation(u8, {}), Catch::Contains("uint8"));
  }
  SECTION("as many target sizes as the batch") {
    CHECK_THROWS_AS(ops::post_process_semantic_segmentation(logits, {{8, 8}}), InputError);
    CHECK_THROWS_WITH(ops::post_process_semantic_segmentation(logits, {{8, 8}, {8, 8}, {8, 8}}),
                      Catch::Contains("Make sure that you pass in as many target sizes as the batch "
                                      "dimension of the logits"));
    CHECK_THROWS_AS(ops::post_process_semantic_segmentation_reference(logits, {{8, 8}}), InputError);
  }
  SECTION("non-positive target sizes") {
    CHECK_THROWS_AS(ops::post_process_semantic_segmentation(logits, {{8, 8}, {0, 8}}), InputError);
    CHECK_THROWS_WITH(ops::post_process_semantic_segmentation(logits, {{8, -1}, {8, 8}}),
                      Catch::Contains("(8, -1)"));
    CHECK_THROWS_AS(ops::post_process_semantic_segmentation(logits, {{8, int64_t(1) << 40}, {8, 8}}),
                    InputError);
  }
  SECTION("no classes; nothing to interpolate") {
    Tensor none = Tensor::zeros(DType::kFloat32, {1, 0, 4, 5});
    CHECK_THROWS_AS(ops::post_process_semantic_segmentation(none, {}), InputError);
    Tensor empty = Tensor::zeros(DType::kFloat32, {1, 3, 0, 5});
    CHECK_THROWS_AS(ops::post_process_semantic_segmentation(empty, {{4, 4}}), InputError);
    // Without resizing, torch's argmax of an empty map is an empty map.
    auto maps = ops::post_process_semantic_segmentation(empty, {});
    REQUIRE(maps.size() == 1);
    CHECK(maps[0].shape() == Shape{0, 5});
  }
  SECTION("empty batch") {
    Tensor zero = Tensor::zeros(DType::kFloat32, {0, 3, 4, 5});
    CHECK(ops::post_process_semantic_segmentation(zero, {}).empty());
  }
}

TEST_CASE("graph op post_process_semantic_segmentation", "[post_process_semantic_segmentation]") {
  std::mt19937 rng(3);
  Tensor logits = random_logits(rng, {1, 9, 16, 70});
  SECTION("with a target size") {
    ops::PostProcessSemanticSegmentationOp op(nlohmann::json{{"target_size", {40, 150}}});
    CHECK(op.name() == "post_process_semantic_segmentation");
    CHECK(op.infer({DType::kFloat32, {9, 16, 70}}) == TensorSpec{DType::kInt64, {40, 150}});
    Sample s;
    s.image = logits[0];
    BufferPool pool;
    ExecContext ctx;
    ctx.pool = &pool;
    op.run(s, ctx, true);
    CHECK(same(s.image, reference_map(logits[0], TargetSize{40, 150})));
  }
  SECTION("without") {
    ops::PostProcessSemanticSegmentationOp op(nlohmann::json::object());
    CHECK(op.infer({DType::kFloat32, {9, 16, 70}}) == TensorSpec{DType::kInt64, {16, 70}});
    Sample s;
    s.image = logits[0];
    op.run(s, ExecContext{}, false);
    CHECK(same(s.image, reference_map(logits[0], std::nullopt)));
  }
  SECTION("bad parameters and inputs") {
    CHECK_THROWS_AS(ops::PostProcessSemanticSegmentationOp(nlohmann::json{{"target_size", {0, 5}}}),
                    ConfigError);
    CHECK_THROWS_WITH(ops::PostProcessSemanticSegmentationOp(nlohmann::json{{"target_size", "big"}}),
                      Catch::Contains("target_size"));
    ops::PostProcessSemanticSegmentationOp op(nlohmann::json::object());
    CHECK_THROWS_AS(op.infer({DType::kFloat32, {16, 70}}), InputError);
    CHECK_THROWS_AS(op.infer({DType::kUInt8, {3, 16, 70}}), InputError);
  }
}
