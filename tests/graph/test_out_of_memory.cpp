// Running out of memory is one truthful error that ends the call (graph/pipeline.cpp,
// graph/tensor.cpp).
#include <catch2/catch.hpp>

#include <atomic>
#include <new>
#include <string>

#include "base/errors.h"
#include "graph/pipeline.h"

using namespace pixelflow;

namespace {

// n inputs of 4x4x3 uint8; counts the loads.
class CountingLoader final : public Loader {
 public:
  explicit CountingLoader(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  void load(Sample& s, const ExecContext& ctx) const override {
    loads.fetch_add(1);
    s.source = "img" + std::to_string(s.index);
    s.image = Tensor::zeros(DType::kUInt8, {4, 4, 3}, ctx.pool);
  }
  mutable std::atomic<int64_t> loads{0};

 private:
  int64_t n_;
};

// Fails on input `fail_at` the way `kind` says; other inputs get an output of `shape`.
class FailingOp final : public Op {
 public:
  enum class Kind { kBadAlloc, kInputError, kNone };
  FailingOp(Kind kind, int64_t fail_at, Shape shape = {2, 2}) : kind_(kind), fail_at_(fail_at), shape_(std::move(shape)) {}
  std::string name() const override { return "failing"; }
  TensorSpec infer([[maybe_unused]] const TensorSpec& in) const override { return {DType::kFloat32, shape_}; }
  void run(Sample& s, const ExecContext& ctx, bool last) const override {
    if (s.index == fail_at_ && kind_ == Kind::kBadAlloc) throw std::bad_alloc();
    if (s.index == fail_at_ && kind_ == Kind::kInputError) throw InputError("synthetic failure");
    s.image = last ? ctx.output_for(s, DType::kFloat32, shape_) : ctx.new_tensor(DType::kFloat32, shape_);
  }

 private:
  Kind kind_;
  int64_t fail_at_;
  Shape shape_;
};

}  // namespace

TEST_CASE("out of memory ends the call with one truthful error", "[pipeline][out_of_memory]") {
  const int64_t n = 2000;
  RunOptions run{2, 4};

  // An input's bad_alloc: that input is named, the call stops (even with skip_failed).
  for (bool skip : {false, true}) {
    Pipeline p({std::make_shared<FailingOp>(FailingOp::Kind::kBadAlloc, 3)});
    CountingLoader loader(n);
    RunOptions r = run;
    r.skip_failed = skip;
    RunReport report;
    REQUIRE_THROWS_MATCHES(p.run(loader, r, {}, &report), OutOfMemoryError,
                           Catch::Matchers::Message("img3: out of memory while processing this input"));
    CHECK(loader.loads < 100);
  }

  // The stacked batch output cannot be had: the error names the output, its shape and size, and
  // no input; the other inputs are not processed.
  {
    Pipeline p({std::make_shared<FailingOp>(FailingOp::Kind::kNone, -1, Shape{int64_t(1) << 31, int64_t(1) << 31, 3})});
    CountingLoader loader(n);
    OutputOptions out;
    out.image_key = "pixel_values";
    try {
      p.run(loader, run, out);
      FAIL("no error");
    } catch (const OutOfMemoryError& e) {
      CHECK_THAT(e.what(), Catch::StartsWith("out of memory allocating the batch output pixel_values (2000, "
                                             "2147483648, 2147483648, 3) float32, "));
      CHECK(std::string(e.what()).find("img") == std::string::npos);
    }
    CHECK(loader.loads < 100);
  }

  // Any failing input ends the call early too (unless skip_failed); the first failing input in
  // input order is still the one reported.
  {
    Pipeline p({std::make_shared<FailingOp>(FailingOp::Kind::kInputError, 5)});
    CountingLoader loader(n);
    REQUIRE_THROWS_WITH(p.run(loader, run), Catch::Equals("img5: synthetic failure"));
    CHECK(loader.loads < 100);
  }
}

TEST_CASE("Tensor::empty reports the array it could not allocate", "[out_of_memory]") {
  // Sizes past the address space are refused before calling the allocator.
  REQUIRE_THROWS_MATCHES(Tensor::empty(DType::kFloat32, {int64_t(1) << 40, int64_t(1) << 40}), OutOfMemoryError,
                         Catch::Matchers::Message("out of memory allocating (1099511627776, 1099511627776) "
                                                  "float32: more bytes than the address space holds"));
  CHECK(describe_array(DType::kFloat32, {5000, 3, 224, 224}) == "(5000, 3, 224, 224) float32, 3.0 GB");
  CHECK(byte_size_str(512) == "512 bytes");
  CHECK(byte_size_str(1500000) == "1.5 MB");
  CHECK(Tensor::empty(DType::kUInt8, {0, int64_t(1) << 62}).nbytes() == 0);
}
