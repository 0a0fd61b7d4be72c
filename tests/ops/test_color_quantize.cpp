// color_quantize: ImageGPT's color_quantize (transformers models/imagegpt/image_processing_imagegpt.py):
//   x = x.reshape(-1, 3); a2 = np.sum(np.square(x), axis=1); b2 = np.sum(np.square(clusters.T), axis=0)
//   ab = np.matmul(x, clusters.T); d = a2[:, None] - 2 * ab + b2[None, :]; np.argmin(d, axis=1)
// with clusters a float64 array: the pixel's squared norm in the pixel's dtype, the rest in
// float64, the first minimum wins. Output int64 (H * W,).
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <random>

#include "base/errors.h"
#include "tests/common/hf_reference.h"

using namespace pixelflow;
using namespace pixelflow::test;
using nlohmann::json;

namespace {

OpSpec quantize_spec(const std::vector<std::array<double, 3>>& clusters) {
  json c = json::array();
  for (const auto& k : clusters) c.push_back({k[0], k[1], k[2]});
  return {"color_quantize", {{"clusters", c}}};
}

const std::vector<std::array<double, 3>> kCorners = {
    {-1, -1, -1}, {1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}, {1, 1, 1}, {0, 0, 0},
};

}  // namespace

TEST_CASE("color_quantize: nearest cluster per pixel, row-major, int64 (H * W,)", "[color_quantize]") {
  // 2 x 2 image, normalized as ImageGPT does (values in [-1, 1]).
  Tensor img = tensor_of<float>({2, 2, 3}, {
                                               -0.9f, -0.8f, -1.0f,  // -> 0
                                               0.1f, 0.0f, -0.1f,    // -> 5
                                               0.9f, 0.7f, 0.95f,    // -> 4
                                               0.8f, -0.9f, -0.7f,   // -> 1
                                           });
  Tensor ids = run_op(quantize_spec(kCorners), img);
  REQUIRE(ids.dtype() == DType::kInt64);
  REQUIRE(ids.shape() == Shape{4});
  REQUIRE(values_of<int64_t>(ids) == std::vector<int64_t>{0, 5, 4, 1});
}

TEST_CASE("color_quantize: on a tie the first cluster wins (np.argmin)", "[color_quantize]") {
  // (0, 0, 0) is at distance 1 of the four clusters; duplicates too.
  Tensor img = tensor_of<float>({1, 1, 3}, {0, 0, 0});
  REQUIRE(values_of<int64_t>(run_op(quantize_spec({{5, 5, 5}, {0, 0, 1}, {1, 0, 0}, {0, 1, 0}}), img)) ==
          std::vector<int64_t>{1});
  REQUIRE(values_of<int64_t>(run_op(quantize_spec({{0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}}), img)) ==
          std::vector<int64_t>{0});
}

TEST_CASE("color_quantize: uint8 pixels (do_normalize=False) square with NumPy's uint8 wrap",
          "[color_quantize]") {
  // np.square(uint8(16)) == 0: a2 wraps, but it is the same for every cluster, so the nearest
  // cluster is still the right one.
  Tensor img = tensor_of<uint8_t>({1, 2, 3}, {16, 0, 0, 200, 210, 220});
  Tensor ids = run_op(quantize_spec({{0, 0, 0}, {16, 0, 0}, {200, 200, 200}}), img);
  REQUIRE(values_of<int64_t>(ids) == std::vector<int64_t>{1, 2});
}

TEST_CASE("color_quantize equals ImageGPT's formula on random images and clusters", "[color_quantize]") {
  std::mt19937 rng(31);
  const DType dtype = GENERATE(DType::kFloat32, DType::kFloat64, DType::kUInt8);
  const int k = GENERATE(1, 2, 16, 512);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<std::array<double, 3>> clusters(k);
  const double scale = dtype == DType::kUInt8 ? 255 : 1;
  for (auto& c : clusters)
    for (double& v : c) v = dtype == DType::kUInt8 ? std::floor((u(rng) + 1) / 2 * scale) : u(rng);
  const OpSpec spec = quantize_spec(clusters);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {1, 17}, {17, 1}, {8, 9}, {32, 32}}) {
    Tensor img = random_tensor(rng, dtype, {h, w, 3}, -1, 1);
    Tensor got = run_op(spec, img);
    INFO(dtype_name(dtype) << " " << h << "x" << w << ", " << k << " clusters");
    REQUIRE(got.shape() == Shape{h * w});
    REQUIRE(same_bytes(got, imagegpt_color_quantize(img, clusters)));
  }
}

TEST_CASE("color_quantize: bad clusters are ConfigErrors naming the key", "[color_quantize]") {
  auto key_of = [](const json& params) -> std::string {
    try {
      make_op({"color_quantize", params});
    } catch (const ConfigError& e) {
      return e.key_path();
    }
    return "(no ConfigError)";
  };
  CHECK_THAT(key_of(json::object()), Catch::EndsWith("clusters"));
  CHECK_THAT(key_of({{"clusters", json::array()}}), Catch::EndsWith("clusters"));
  CHECK_THAT(key_of({{"clusters", "red"}}), Catch::EndsWith("clusters"));
  CHECK_THAT(key_of({{"clusters", {{1, 2, 3}, {1, 2}}}}), Catch::EndsWith("clusters[1]"));
  CHECK_THAT(key_of({{"clusters", {{1, 2, "x"}}}}), Catch::EndsWith("clusters[0][2]"));
}

TEST_CASE("color_quantize: images that are not (H, W, 3) float/uint8 are InputErrors", "[color_quantize]") {
  const OpSpec spec = quantize_spec(kCorners);
  OpPtr op = make_op(spec);
  REQUIRE(op->infer({DType::kFloat32, {4, 5, 3}}) == TensorSpec{DType::kInt64, {20}});
  REQUIRE_THROWS_AS(op->infer({DType::kFloat32, {4, 5, 4}}), InputError);
  REQUIRE_THROWS_AS(op->infer({DType::kFloat32, {4, 5}}), InputError);
  REQUIRE_THROWS_AS(run_op(spec, Tensor::zeros(DType::kFloat32, {2, 2, 1})), InputError);
  REQUIRE_THROWS_AS(run_op(spec, Tensor::zeros(DType::kInt32, {2, 2, 3})), InputError);
}
