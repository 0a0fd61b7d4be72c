// astype: NumPy's ndarray.astype(dtype) on a sample's image or labels (segmentation maps to
// int64 labels in BEiT/Segformer/DPT). NumPy's casts, checked against their definition:
// integers wrap modulo 2^bits, floats truncate toward zero, anything to bool is `x != 0`.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <random>

#include "base/errors.h"
#include "tests/common/hf_reference.h"

using namespace pixelflow;
using namespace pixelflow::test;

namespace {

OpSpec astype_spec(const std::string& dtype, Target target = Target::kImage) {
  return {"astype", {{"dtype", dtype}}, target};
}

}  // namespace

TEST_CASE("astype: known answers (truncation toward zero, wrapping, labels to int64)", "[astype]") {
  Tensor f = tensor_of<float>({2, 3}, {2.7f, -2.7f, 0.5f, 255.0f, 1e6f, -0.0f});
  Tensor i64 = run_op(astype_spec("int64"), f);
  REQUIRE(i64.dtype() == DType::kInt64);
  REQUIRE(i64.shape() == Shape{2, 3});
  REQUIRE(values_of<int64_t>(i64) == std::vector<int64_t>{2, -2, 0, 255, 1000000, 0});

  Tensor big = tensor_of<int64_t>({4}, {300, -1, 256, 255});
  REQUIRE(values_of<uint8_t>(run_op(astype_spec("uint8"), big)) == std::vector<uint8_t>{44, 255, 0, 255});

  Tensor u8 = tensor_of<uint8_t>({2, 2}, {0, 1, 150, 255});
  Tensor labels = run_op(astype_spec("int64", Target::kLabels), u8);
  REQUIRE(labels.dtype() == DType::kInt64);
  REQUIRE(values_of<int64_t>(labels) == std::vector<int64_t>{0, 1, 150, 255});

  Tensor d = run_op(astype_spec("float64"), u8);
  REQUIRE(d.dtype() == DType::kFloat64);
  REQUIRE(values_of<double>(d) == std::vector<double>{0, 1, 150, 255});
}

TEST_CASE("astype: the same dtype keeps the array", "[astype]") {
  Tensor u8 = tensor_of<uint8_t>({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor out = run_op(astype_spec("uint8"), u8);
  REQUIRE(same_bytes(out, u8));
}

TEST_CASE("astype: infer() gives the dtype asked and the input's shape", "[astype]") {
  OpPtr op = make_op(astype_spec("float32"));
  REQUIRE(op->infer({DType::kUInt8, {5, 7, 3}}) == TensorSpec{DType::kFloat32, {5, 7, 3}});
  REQUIRE(make_op(astype_spec("int64", Target::kLabels))->target() == Target::kLabels);
}

TEST_CASE("astype equals NumPy's casts between every pair of dtypes", "[astype]") {
  std::mt19937 rng(7);
  const DType from = GENERATE(DType::kBool, DType::kUInt8, DType::kUInt16, DType::kInt32, DType::kInt64,
                              DType::kFloat32, DType::kFloat64);
  const char* to = GENERATE("bool", "uint8", "uint16", "int32", "int64", "float32", "float64");
  // Values every target holds (float -> uint8 of a negative number or of 300.0 is undefined in
  // C and platform-dependent in NumPy, so it is not asked): [0, 200] with fractions for floats.
  const bool is_float = from == DType::kFloat32 || from == DType::kFloat64;
  // Floats to bool: fractions below 1 are the library bug below, tested there.
  const bool float_to_bool = is_float && std::string(to) == "bool";
  Tensor in = random_tensor(rng, from, {17, 5}, float_to_bool ? 1 : 0, is_float ? 200.99 : 200);
  if (float_to_bool) std::memset(in.raw_data(), 0, dtype_size(from) * 5);  // a row of zeros
  const OpSpec spec = astype_spec(to);
  Tensor got = run_op(spec, in);
  const DType to_dtype = make_op(spec)->infer({from, {1}}).dtype;
  REQUIRE(std::string(dtype_name(to_dtype)) == to);
  Tensor want = numpy_astype(in, to_dtype);
  INFO(dtype_name(from) << " -> " << to);
  REQUIRE(same_bytes(got, want));
}

// NumPy's astype(bool) is `x != 0` (True for 0.5 and 256; an earlier version cast through uint8).
TEST_CASE("astype to bool is x != 0 for fractions and wide integers", "[astype]") {
  Tensor f = tensor_of<float>({3}, {0.5f, -0.25f, 0.0f});
  Tensor b = run_op(astype_spec("bool"), f);
  CHECK(values_of<bool>(b) == std::vector<bool>{true, true, false});
  Tensor i = tensor_of<int64_t>({2}, {256, 512});
  CHECK(values_of<bool>(run_op(astype_spec("bool"), i)) == std::vector<bool>{true, true});
}

TEST_CASE("astype: an unknown or missing dtype is a ConfigError naming the key", "[astype]") {
  for (const nlohmann::json& params :
       {nlohmann::json{{"dtype", "int8"}}, nlohmann::json{{"dtype", 64}}, nlohmann::json{{"dtype", "Int64"}},
        nlohmann::json::object()}) {
    INFO(params.dump());
    try {
      make_op({"astype", params});
      FAIL("no error");
    } catch (const ConfigError& e) {
      CHECK_THAT(e.key_path(), Catch::EndsWith("dtype"));
      CHECK_THAT(e.what(), Catch::Contains("int64"));  // lists the dtypes it takes
    }
  }
}
