// reduce_label: BeitImageProcessor.reduce_label (also Segformer, DPT, MobileNetV2, MobileViT with
// do_reduce_labels), in the map's own dtype:
//   label[label == 0] = 255; label = label - 1; label[label == 254] = 255
// The oracle is that code as a plain loop.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <type_traits>

#include "base/errors.h"
#include "tests/common/hf_reference.h"

using namespace pixelflow;
using namespace pixelflow::test;

namespace {

const OpSpec kReduce{"reduce_label", nlohmann::json::object(), Target::kLabels};

}  // namespace

TEST_CASE("reduce_label: background 0 becomes 255, classes move down by one, 255 stays", "[reduce_label]") {
  Tensor in = tensor_of<uint8_t>({2, 4}, {0, 1, 2, 150, 254, 255, 3, 0});
  Tensor out = run_op(kReduce, in);
  REQUIRE(out.dtype() == DType::kUInt8);
  REQUIRE(out.shape() == Shape{2, 4});
  // 254 - 1 = 253; 255 - 1 = 254 -> 255.
  REQUIRE(values_of<uint8_t>(out) == std::vector<uint8_t>{255, 0, 1, 149, 253, 255, 2, 255});
  // The input is not modified (HF works on its own copy).
  REQUIRE(values_of<uint8_t>(in) == std::vector<uint8_t>{0, 1, 2, 150, 254, 255, 3, 0});
}

TEST_CASE("reduce_label: wide integer maps follow the same three steps in their dtype", "[reduce_label]") {
  // 256 - 1 = 255 (kept), -1 - 1 = -2, 1000 - 1 = 999: no wrapping to 8 bits.
  Tensor in = tensor_of<int64_t>({6}, {0, 256, -1, 1000, 255, 1});
  Tensor out = run_op(kReduce, in);
  REQUIRE(out.dtype() == DType::kInt64);
  REQUIRE(values_of<int64_t>(out) == std::vector<int64_t>{255, 255, -2, 999, 255, 0});
  Tensor f = tensor_of<float>({3}, {0.0f, 2.5f, 255.0f});
  REQUIRE(values_of<float>(run_op(kReduce, f)) == std::vector<float>{255.0f, 1.5f, 255.0f});
}

TEST_CASE("reduce_label equals BEiT's reduce_label for every dtype and size", "[reduce_label]") {
  std::mt19937 rng(21);
  const DType dtype = GENERATE(DType::kUInt8, DType::kUInt16, DType::kInt32, DType::kInt64, DType::kFloat32,
                               DType::kFloat64);
  for (const auto& size : {std::pair<int64_t, int64_t>{1, 1}, {1, 13}, {13, 1}, {5, 7}, {64, 65}}) {
    const int64_t h = size.first, w = size.second;  // not a structured binding: clang 14 cannot capture those
    // Classes 0..151 and 255 (ADE20k-like), with many zeros.
    Tensor in = random_tensor(rng, dtype, {h, w}, 0, 151);
    with_dtype(dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bool>) {
        T* p = in.data<T>();
        for (int64_t i = 0; i < in.numel(); ++i) {
          if (rng() % 5 == 0) p[i] = T(0);
          if (rng() % 7 == 0) p[i] = T(255);
          if (std::is_floating_point_v<T>) p[i] = static_cast<T>(std::floor(static_cast<double>(p[i])));
        }
        Tensor got = run_op(kReduce, in);
        INFO(dtype_name(dtype) << " " << h << "x" << w);
        REQUIRE(same_bytes(got, hf_reduce_label(in)));
      }
    });
  }
}

TEST_CASE("reduce_label: boolean maps are an InputError", "[reduce_label]") {
  Tensor b = tensor_of<bool>({1, 2}, {true, false});
  REQUIRE_THROWS_AS(run_op(kReduce, b), InputError);
}

TEST_CASE("reduce_label applies to the labels by default, and to images when asked", "[reduce_label]") {
  OpPtr op = make_op(kReduce);
  REQUIRE(op->target() == Target::kLabels);
  REQUIRE(op->infer({DType::kUInt8, {3, 4}}) == TensorSpec{DType::kUInt8, {3, 4}});
  Sample s;
  s.image = tensor_of<uint8_t>({1, 1, 1}, {0});
  s.labels = tensor_of<uint8_t>({1, 2}, {0, 5});
  op->run(s, ExecContext{}, true);
  REQUIRE(values_of<uint8_t>(s.labels) == std::vector<uint8_t>{255, 4});
  REQUIRE(values_of<uint8_t>(s.image) == std::vector<uint8_t>{0});  // untouched
  Tensor img = run_op({"reduce_label", nlohmann::json::object(), Target::kImage}, tensor_of<uint8_t>({1, 1, 1}, {0}));
  REQUIRE(values_of<uint8_t>(img) == std::vector<uint8_t>{255});
}
