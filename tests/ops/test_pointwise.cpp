// Kernels of the per-pixel ops (rescale, normalize, crop, flip, layout) against their scalar
// references, over generated sizes, windows, layouts and dtypes.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "base/errors.h"
#include "ops/center_crop/center_crop.h"
#include "ops/pointwise/pointwise.h"
#include "ops/remap/remap.h"

using namespace pixelflow;
using namespace pixelflow::ops;

namespace {

Tensor random_image(DType t, int64_t h, int64_t w, int64_t c, std::mt19937& rng) {
  Tensor img = Tensor::empty(t, {h, w, c});
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int64_t i = 0; i < img.numel(); ++i) {
    if (t == DType::kUInt8) img.data<uint8_t>()[i] = static_cast<uint8_t>(byte(rng));
    else if (t == DType::kFloat32) img.data<float>()[i] = static_cast<float>(unit(rng));
    else img.data<double>()[i] = unit(rng) * 255.0;
  }
  return img;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

const std::vector<double> kClipMean{0.48145466, 0.4578275, 0.40821073};
const std::vector<double> kClipStd{0.26862954, 0.26130258, 0.27577711};

}  // namespace

TEST_CASE("pointwise reference follows NumPy's dtype rules", "[pointwise]") {
  std::vector<PointwiseStep> rn{PointwiseStep::rescale(1 / 255.0),
                                PointwiseStep::normalize(kClipMean, kClipStd)};
  CHECK(pointwise_dtype(rn, DType::kUInt8) == DType::kFloat32);
  CHECK(pointwise_dtype(rn, DType::kFloat64) == DType::kFloat32);
  std::vector<PointwiseStep> n{PointwiseStep::normalize({0.5}, {0.5}, true, true)};
  CHECK(pointwise_dtype(n, DType::kFloat64) == DType::kFloat64);
  CHECK(pointwise_dtype(n, DType::kUInt8) == DType::kFloat32);

  // HF: float32(uint8 * (1/255) in float64), then (x - float32(mean)) / float32(std).
  Tensor px = Tensor::empty(DType::kUInt8, {1, 1, 3});
  px.data<uint8_t>()[0] = 200;
  px.data<uint8_t>()[1] = 0;
  px.data<uint8_t>()[2] = 255;
  Tensor out = pointwise_reference(px, rn);
  for (int c = 0; c < 3; ++c) {
    double v = px.data<uint8_t>()[c];
    float r = static_cast<float>(v * (1 / 255.0));
    float want = (r - static_cast<float>(kClipMean[c])) / static_cast<float>(kClipStd[c]);
    CHECK(out.data<float>()[c] == want);
  }
  // Reciprocal multiplication would differ on some values: make sure we divide.
  std::vector<PointwiseStep> div{PointwiseStep::normalize({0.0}, {0.3}, true, true)};
  int differ = 0;
  for (int v = 0; v < 256; ++v) {
    float x = static_cast<float>(v);
    float by_div = x / 0.3f;
    float by_mul = x * (1.0f / 0.3f);
    differ += by_div != by_mul;
    CHECK(pointwise_table(div, 1)[v] == by_div);
  }
  CHECK(differ > 0);
}

TEST_CASE("a mean of the wrong length is an input error", "[pointwise]") {
  std::vector<PointwiseStep> n{PointwiseStep::normalize(kClipMean, kClipStd)};
  Tensor one = Tensor::zeros(DType::kUInt8, {4, 4, 1});
  REQUIRE_THROWS_AS(pointwise_reference(one, n), InputError);
  REQUIRE_THROWS_WITH(pointwise_reference(one, n),
                      Catch::Contains("mean must have 1 elements if it is an iterable, got 3"));
}

TEST_CASE("fused pointwise kernels equal the scalar chain", "[pointwise]") {
  std::mt19937 rng(7);
  const std::vector<std::vector<PointwiseStep>> chains = {
      {},
      {PointwiseStep::rescale(1 / 255.0)},
      {PointwiseStep::normalize(kClipMean, kClipStd)},
      {PointwiseStep::rescale(1 / 255.0), PointwiseStep::normalize(kClipMean, kClipStd)},
      {PointwiseStep::rescale(0.00784313725490196, true)},
      {PointwiseStep::rescale(1 / 255.0), PointwiseStep::normalize({0.5}, {0.5}, true, true),
       PointwiseStep::normalize({0.0}, {0.4785, 0.46, 0.44}, true, false)},
  };
  for (DType t : {DType::kUInt8, DType::kFloat32, DType::kFloat64}) {
    for (size_t ci = 0; ci < chains.size(); ++ci) {
      for (int64_t c : {1, 3}) {
        const auto& chain = chains[ci];
        bool per_channel = false;
        for (const auto& s : chain)
          per_channel |= s.kind == PointwiseStep::Kind::kNormalize && (!s.mean_scalar && s.mean.size() != 1 || !s.std_scalar && s.std.size() != 1);
        if (per_channel && c != 3) continue;
        for (int trial = 0; trial < 4; ++trial) {
          int64_t h = 1 + rng() % 40, w = 1 + rng() % 40;
          Tensor img = random_image(t, h, w, c, rng);
          int64_t ch = 1 + rng() % 50, cw = 1 + rng() % 50;
          Rect win = center_crop_window(h, w, ch, cw);
          for (bool flip : {false, true}) {
            for (bool chw : {false, true}) {
              DType out_t = pointwise_dtype(chain, t);
              Shape shape = chw ? Shape{c, ch, cw} : Shape{ch, cw, c};
              Tensor got = Tensor::empty(out_t, shape), want = Tensor::empty(out_t, shape);
              pointwise_fused(img, win, chain, flip, chw, got);
              pointwise_fused_reference(img, win, chain, flip, chw, want);
              INFO("dtype " << dtype_name(t) << " chain " << ci << " c " << c << " " << h << "x" << w
                            << " crop " << ch << "x" << cw << " flip " << flip << " chw " << chw);
              REQUIRE(same_bytes(got, want));
            }
          }
        }
      }
    }
  }
}

TEST_CASE("unfused pointwise steps equal the reference", "[pointwise]") {
  std::mt19937 rng(11);
  for (DType t : {DType::kUInt8, DType::kFloat32, DType::kFloat64}) {
    Tensor img = random_image(t, 17, 23, 3, rng);
    for (const auto& step : {PointwiseStep::rescale(1 / 255.0), PointwiseStep::rescale(0.5, true),
                             PointwiseStep::normalize(kClipMean, kClipStd)}) {
      REQUIRE(same_bytes(pointwise_step(img, step), pointwise_reference(img, {step})));
    }
  }
}

TEST_CASE("remap kernel equals reference for every dtype", "[remap]") {
  std::mt19937 rng(3);
  for (DType t : {DType::kUInt8, DType::kFloat32, DType::kFloat64}) {
    for (int trial = 0; trial < 10; ++trial) {
      int64_t h = 1 + rng() % 30, w = 1 + rng() % 30, c = trial % 2 ? 3 : 1;
      Tensor img = random_image(t, h, w, c, rng);
      Rect win = center_crop_window(h, w, 1 + rng() % 40, 1 + rng() % 40);
      for (bool flip : {false, true})
        for (bool chw : {false, true}) {
          Shape shape = chw ? Shape{c, win.height, win.width} : Shape{win.height, win.width, c};
          Tensor got = Tensor::empty(t, shape), want = Tensor::empty(t, shape);
          remap_hwc(img, win, flip, chw, got);
          remap_hwc_reference(img, win, flip, chw, want);
          REQUIRE(same_bytes(got, want));
        }
    }
  }
}

TEST_CASE("center crop window uses floor division like Python", "[center_crop]") {
  Rect a = center_crop_window(480, 640, 224, 224);
  CHECK(a.x == 208);
  CHECK(a.y == 128);
  Rect b = center_crop_window(5, 5, 8, 9);  // smaller than the crop: (5-8)//2 = -2
  CHECK(b.y == -2);
  CHECK(b.x == -2);
  Rect c = center_crop_window(7, 7, 4, 4);  // odd pixel goes bottom/right
  CHECK(c.y == 1);
  CHECK(c.x == 1);
}
