#include <catch2/catch.hpp>

#include "graph/tensor.h"

using namespace pixelflow;

TEST_CASE("tensor shapes, views and pool reuse", "[tensor]") {
  Tensor t = Tensor::zeros(DType::kFloat32, {2, 3, 4});
  REQUIRE(t.numel() == 24);
  REQUIRE(t.nbytes() == 96);
  t.data<float>()[12] = 5.f;
  Tensor v = t[1];
  REQUIRE(v.shape() == Shape{3, 4});
  REQUIRE(v.data<float>()[0] == 5.f);
  REQUIRE_THROWS(t.data<double>());
  REQUIRE_THROWS(t[2]);
  REQUIRE(shape_str({2, 3}) == "(2, 3)");
  REQUIRE(shape_str({7}) == "(7,)");

  BufferPool pool;
  void* first;
  {
    Tensor a = Tensor::empty(DType::kUInt8, {1000}, &pool);
    first = a.raw_data();
  }
  REQUIRE(pool.cached_bytes() >= 1000);
  Tensor b = Tensor::empty(DType::kUInt8, {900}, &pool);
  REQUIRE(b.raw_data() == first);
}
