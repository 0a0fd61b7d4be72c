// pad: DPT's pad_image (transformers models/dpt/image_processing_dpt.py):
//   new_size = ceil(size / size_divisor) * size_divisor; pad_size = new_size - size;
//   pad_size_left = pad_size // 2; pad_size_right = pad_size - pad_size_left;
//   pad(image, ((top, bottom), (left, right))) with constant 0 (image_transforms.pad).
// The oracle is that formula as a plain loop (tests/common/hf_reference.h).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <tuple>

#include "base/errors.h"
#include "tests/common/hf_reference.h"

using namespace pixelflow;
using namespace pixelflow::test;

namespace {

OpSpec pad_spec(nlohmann::json divisor) { return {"pad", {{"size_divisor", divisor}}}; }

}  // namespace

TEST_CASE("pad: known answer, smaller half of the padding before", "[pad]") {
  // 3 x 5 under size_divisor 4 -> 4 x 8: 0 rows above, 1 below; 1 column left, 2 right.
  std::vector<uint8_t> v(15);
  for (int i = 0; i < 15; ++i) v[i] = static_cast<uint8_t>(i + 1);
  Tensor out = run_op(pad_spec(4), tensor_of<uint8_t>({3, 5, 1}, v));
  REQUIRE(out.dtype() == DType::kUInt8);
  REQUIRE(out.shape() == Shape{4, 8, 1});
  const std::vector<uint8_t> want = {
      0, 1,  2,  3,  4,  5,  0, 0,  //
      0, 6,  7,  8,  9,  10, 0, 0,  //
      0, 11, 12, 13, 14, 15, 0, 0,  //
      0, 0,  0,  0,  0,  0,  0, 0,
  };
  REQUIRE(values_of<uint8_t>(out) == want);
}

TEST_CASE("pad: float images are padded with 0.0 in their own dtype", "[pad]") {
  // DPT pads after normalize: the zeros are 0.0 in the normalized value space, not -mean/std.
  Tensor in = tensor_of<float>({1, 1, 3}, {-1.5f, 0.25f, 2.0f});
  Tensor out = run_op(pad_spec(3), in);
  REQUIRE(out.dtype() == DType::kFloat32);
  REQUIRE(out.shape() == Shape{3, 3, 3});
  std::vector<float> want(27, 0.0f);
  want[(1 * 3 + 1) * 3 + 0] = -1.5f;
  want[(1 * 3 + 1) * 3 + 1] = 0.25f;
  want[(1 * 3 + 1) * 3 + 2] = 2.0f;
  const std::vector<float> got = values_of<float>(out);
  REQUIRE(got == want);
  for (float f : got)
    if (f == 0.0f) REQUIRE_FALSE(std::signbit(f));  // +0.0, as np.pad's constant 0
}

TEST_CASE("pad: sizes that are multiples already, and size_divisor 1, leave the image as it is", "[pad]") {
  std::mt19937 rng(3);
  for (auto [h, w, d] : {std::tuple{32, 64, 32}, {7, 5, 1}, {1, 1, 1}, {6, 9, 3}}) {
    Tensor in = random_tensor(rng, DType::kUInt8, {h, w, 3});
    Tensor out = run_op(pad_spec(d), in);
    INFO(h << "x" << w << " / " << d);
    REQUIRE(same_bytes(out, in));
  }
}

TEST_CASE("pad: infer() gives the padded shape", "[pad]") {
  OpPtr op = make_op(pad_spec(32));
  for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {31, 33}, {384, 383}, {100, 1}}) {
    TensorSpec spec = op->infer({DType::kFloat32, {h, w, 3}});
    const int64_t nh = (h + 31) / 32 * 32, nw = (w + 31) / 32 * 32;
    REQUIRE(spec == TensorSpec{DType::kFloat32, {nh, nw, 3}});
  }
}

TEST_CASE("pad equals DPT's pad_image for every dtype, channel count and size", "[pad]") {
  std::mt19937 rng(11);
  const DType dtype = GENERATE(DType::kUInt8, DType::kUInt16, DType::kInt32, DType::kInt64, DType::kFloat32,
                               DType::kFloat64);
  const int64_t c = GENERATE(0, 1, 3, 4);  // 0: a 2-D (H, W) array
  const int64_t d = GENERATE(2, 7, 32);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {1, 9}, {9, 1}, {3, 5}, {2, 67}, {67, 2}, {33, 31}}) {
    Shape shape = c == 0 ? Shape{h, w} : Shape{h, w, c};
    Tensor in = random_tensor(rng, dtype, shape, -100, 100);
    Tensor got = run_op(pad_spec(d), in);
    Tensor want = hf_pad(in, d);
    INFO(dtype_name(dtype) << " " << shape_str(shape) << " size_divisor " << d);
    REQUIRE(got.shape() == want.shape());
    REQUIRE(same_bytes(got, want));
  }
}

TEST_CASE("pad: a bad size_divisor is a ConfigError naming the key", "[pad]") {
  for (const nlohmann::json& bad : {nlohmann::json(0), nlohmann::json(-32), nlohmann::json("32"),
                                    nlohmann::json(2.5), nlohmann::json(nullptr)}) {
    INFO(bad.dump());
    try {
      make_op(pad_spec(bad));
      FAIL("no error");
    } catch (const ConfigError& e) {
      CHECK_THAT(e.key_path(), Catch::Contains("size_divisor"));
      CHECK_THAT(e.what(), Catch::Contains("size_divisor"));
    }
  }
  try {
    make_op({"pad", nlohmann::json::object()});
    FAIL("no error for a missing size_divisor");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.key_path(), Catch::Contains("size_divisor"));
  }
  REQUIRE_THROWS_AS(make_op({"pad", pad_spec(32).params, Target::kLabels}), ConfigError);
}
