// Kernel families: every compiled variant computes the same bits, and tuning files select
// variants per CPU.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "base/errors.h"
#include "graph/halide_runtime.h"
#include "graph/kernels.h"
#include "ops/center_crop/center_crop.h"
#include "ops/pointwise/pointwise.h"

using namespace pixelflow;
using namespace pixelflow::ops;
namespace fs = std::filesystem;

namespace {

// Restores every family's selection when the test ends.
struct KeepSelection {
  std::vector<std::pair<KernelFamily*, size_t>> saved;
  KeepSelection() {
    for (auto* f : kernel_families()) saved.emplace_back(f, f->selected());
  }
  ~KeepSelection() {
    for (auto& [f, i] : saved) f->select(i);
  }
};

}  // namespace

TEST_CASE("every family has variants with distinct names", "[kernels]") {
  auto families = kernel_families();
  REQUIRE(!families.empty());
  for (auto* f : families) {
    REQUIRE(f->size() >= 1);
    for (size_t i = 0; i < f->size(); ++i)
      for (size_t j = i + 1; j < f->size(); ++j)
        REQUIRE(std::string(f->variant(i).variant) != f->variant(j).variant);
  }
  REQUIRE_THROWS_WITH(kernel_family("no_such_kernel"), Catch::Contains("rescale_normalize_uint8"));
}

TEST_CASE("typed kernel families check their signature against Halide's metadata", "[kernels]") {
  // resize_vertical(input, coeffs, starts, int taps, output), as generated.
  using VerticalFn = int (*)(halide_buffer_t*, halide_buffer_t*, halide_buffer_t*, int, halide_buffer_t*);
  const TypedKernelFamily<VerticalFn> vertical("resize_vertical");
  REQUIRE(vertical.get() != nullptr);
  using TooFew = int (*)(halide_buffer_t*, halide_buffer_t*);
  REQUIRE_THROWS_AS(TypedKernelFamily<TooFew>("resize_vertical"), KernelError);
  REQUIRE_THROWS_WITH(TypedKernelFamily<TooFew>("resize_vertical"), Catch::Contains("wrong signature"));
  using FloatTaps = int (*)(halide_buffer_t*, halide_buffer_t*, halide_buffer_t*, float, halide_buffer_t*);
  REQUIRE_THROWS_WITH(TypedKernelFamily<FloatTaps>("resize_vertical"),
                      Catch::Contains("parameter 3 is float32") && Catch::Contains("taps (int32)"));
  using BufferTaps = int (*)(halide_buffer_t*, halide_buffer_t*, halide_buffer_t*, halide_buffer_t*, halide_buffer_t*);
  REQUIRE_THROWS_WITH(TypedKernelFamily<BufferTaps>("resize_vertical"), Catch::Contains("a buffer"));
}

TEST_CASE("the variants of a family must take the same arguments", "[kernels]") {
  auto first_of = [](const std::string& family) -> const CompiledKernel* {
    for (const auto& k : compiled_kernels())
      if (k.family == family) return &k;
    return nullptr;
  };
  for (const auto& k : compiled_kernels()) REQUIRE(k.metadata != nullptr);
  const CompiledKernel* horizontal = first_of("resize_horizontal");
  const CompiledKernel* vertical = first_of("resize_vertical");
  const CompiledKernel* u8 = first_of("rescale_normalize_uint8");
  const CompiledKernel* f32 = first_of("rescale_normalize_float32");
  REQUIRE((horizontal && vertical && u8 && f32));
  REQUIRE_NOTHROW(kernel_families());  // the real families pass
  REQUIRE_NOTHROW(KernelFamily("same", {vertical, vertical}));
  REQUIRE_THROWS_AS(KernelFamily("mixed", {vertical, horizontal}), KernelError);
  REQUIRE_THROWS_WITH(KernelFamily("mixed", {vertical, horizontal}),
                      Catch::Contains("kernel family mixed: variant default takes 13 arguments"));
  // Same C signature, buffers of another element type.
  REQUIRE_THROWS_WITH(KernelFamily("types", {u8, f32}),
                      Catch::Contains("argument 0 input (input buffer, float32, 3-D)") &&
                          Catch::Contains("input (input buffer, uint8, 3-D)"));
}

TEST_CASE("every variant of the pointwise kernels gives the reference's bits", "[kernels]") {
  KeepSelection keep;
  std::mt19937 rng(5);
  std::vector<PointwiseStep> chains[] = {
      {PointwiseStep::rescale(1 / 255.0), PointwiseStep::normalize({0.48145466, 0.4578275, 0.40821073},
                                                                   {0.26862954, 0.26130258, 0.27577711})},
      {PointwiseStep::rescale(1 / 255.0), PointwiseStep::normalize({0.5}, {0.5}, true, true),
       PointwiseStep::normalize({0.0}, {0.3, 0.2, 0.1}, true, false)},  // table kernel
  };
  for (const char* family : {"rescale_normalize_uint8", "pointwise_lut"}) {
    KernelFamily& f = kernel_family(family);
    for (size_t v = 0; v < f.size(); ++v) {
      f.select(v);
      for (const auto& chain : chains) {
        for (int trial = 0; trial < 5; ++trial) {
          int64_t h = 1 + rng() % 50, w = 1 + rng() % 70;
          Tensor img = Tensor::empty(DType::kUInt8, {h, w, 3});
          for (int64_t i = 0; i < img.numel(); ++i) img.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
          Rect win = center_crop_window(h, w, 1 + rng() % 60, 1 + rng() % 60);
          Shape shape{3, win.height, win.width};
          Tensor got = Tensor::empty(DType::kFloat32, shape), want = Tensor::empty(DType::kFloat32, shape);
          pointwise_fused(img, win, chain, trial % 2 == 1, true, got);
          pointwise_fused_reference(img, win, chain, trial % 2 == 1, true, want);
          INFO(family << " variant " << f.variant(v).variant);
          REQUIRE(std::memcmp(got.raw_data(), want.raw_data(), got.nbytes()) == 0);
        }
      }
    }
  }
}

TEST_CASE("Halide's parallel loops run on the TBB pool", "[kernels]") {
  KeepSelection keep;
  KernelFamily& f = kernel_family("rescale_normalize_uint8");
  REQUIRE(f.select("rows"));
  Tensor img = Tensor::empty(DType::kUInt8, {300, 200, 3});
  for (int64_t i = 0; i < img.numel(); ++i) img.data<uint8_t>()[i] = static_cast<uint8_t>(i * 7);
  std::vector<PointwiseStep> chain{PointwiseStep::rescale(1 / 255.0), PointwiseStep::normalize({0.5}, {0.5}, true, true)};
  Rect all{0, 0, 200, 300};
  Tensor got = Tensor::empty(DType::kFloat32, {3, 300, 200}), want = Tensor::empty(DType::kFloat32, {3, 300, 200});
  const uint64_t before = halide_parallel_loops_on_tbb();
  pointwise_fused(img, all, chain, false, true, got);
  REQUIRE(halide_parallel_loops_on_tbb() > before);
  pointwise_fused_reference(img, all, chain, false, true, want);
  REQUIRE(std::memcmp(got.raw_data(), want.raw_data(), got.nbytes()) == 0);
}

TEST_CASE("tuning files select variants for this CPU only", "[kernels]") {
  KeepSelection keep;
  auto dir = fs::temp_directory_path() / "pixelflow_test_tuning";
  fs::remove_all(dir);
  const std::string path = (dir / "tuning.json").string();
  KernelFamily& f = kernel_family("rescale_normalize_uint8");
  REQUIRE(f.size() >= 2);

  REQUIRE_FALSE(load_tuning(path));  // no file: defaults stay
  KernelSelection sel = current_selection();
  sel["rescale_normalize_uint8"] = f.variant(1).variant;
  sel["kernel_from_another_build"] = "whatever";
  save_tuning(path, sel, R"({"note": "test"})");
  f.select(size_t{0});
  REQUIRE(load_tuning(path));
  REQUIRE(f.selected() == 1);

  // Another CPU's entry does not apply here.
  {
    std::ifstream in(path);
    nlohmann::json j = nlohmann::json::parse(in);
    nlohmann::json entry = j["hosts"][cpu_key()];
    j["hosts"].erase(cpu_key());
    j["hosts"]["Some Other CPU | sse41"] = entry;
    std::ofstream(path) << j.dump();
  }
  f.select(size_t{0});
  REQUIRE_FALSE(load_tuning(path));
  REQUIRE(f.selected() == 0);

  std::ofstream(path) << "{ not json";
  REQUIRE_THROWS_AS(load_tuning(path), ConfigError);
  REQUIRE_THROWS_WITH(load_tuning(path), Catch::Contains(path));
  fs::remove_all(dir);
}
