// patchify (Qwen2-VL's patch layout), its fusion with rescale / normalize, smart_resize and the
// batch of patches: kernels against the scalar reference and an index-by-index oracle written
// from transformers' reshape / transpose, sizes against values transformers computed.
#include <catch2/catch.hpp>

#include <random>

#include "base/errors.h"
#include "ops/patchify/patchify.h"
#include "ops/resize/resize_op.h"
#include "registry/builder.h"
#include "registry/registry.h"
#include "tests/common/op_test_util.h"

using namespace pixelflow;
using namespace pixelflow::ops;
using nlohmann::json;

namespace {

// transformers' patches.reshape(1, T, C, gh/M, M, P, gw/M, M, P).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
// of the image repeated T times, element by element in the output's order.
Tensor oracle(const Tensor& chw, int64_t p, int64_t t, int64_t m) {
  const int64_t c = chw.dim(0), h = chw.dim(1), w = chw.dim(2);
  const int64_t bh = h / (m * p), bw = w / (m * p);
  Tensor out = Tensor::empty(chw.dtype(), {1, bh, bw, m, m, c, t, p, p});
  const size_t es = dtype_size(chw.dtype());
  auto* o = static_cast<uint8_t*>(out.raw_data());
  const auto* in = static_cast<const uint8_t*>(chw.raw_data());
  size_t k = 0;
  for (int64_t a = 0; a < bh; ++a)
    for (int64_t b = 0; b < bw; ++b)
      for (int64_t mh = 0; mh < m; ++mh)
        for (int64_t mw = 0; mw < m; ++mw)
          for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t ti = 0; ti < t; ++ti)
              for (int64_t py = 0; py < p; ++py)
                for (int64_t px = 0; px < p; ++px, ++k) {
                  const int64_t y = (a * m + mh) * p + py, x = (b * m + mw) * p + px;
                  std::memcpy(o + k * es, in + static_cast<size_t>((ch * h + y) * w + x) * es, es);
                }
  return out;
}

Tensor hwc_to_chw(const Tensor& hwc) {
  const int64_t h = hwc.dim(0), w = hwc.dim(1), c = hwc.dim(2);
  Tensor out = Tensor::empty(hwc.dtype(), {c, h, w});
  const size_t es = dtype_size(hwc.dtype());
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t ch = 0; ch < c; ++ch)
        std::memcpy(static_cast<uint8_t*>(out.raw_data()) + static_cast<size_t>((ch * h + y) * w + x) * es,
                    static_cast<const uint8_t*>(hwc.raw_data()) + static_cast<size_t>((y * w + x) * c + ch) * es, es);
  return out;
}

}  // namespace

TEST_CASE("patchify: kernel and reference equal the reshape/transpose oracle", "[ops][patchify]") {
  std::mt19937 rng(7);
  struct G {
    int64_t p, t, m;
  };
  for (G g : {G{14, 2, 2}, G{16, 2, 2}, G{1, 1, 1}, G{3, 3, 1}, G{2, 1, 3}, G{9, 2, 2}, G{8, 2, 1}}) {
    for (DType dtype : {DType::kFloat32, DType::kUInt8, DType::kFloat64}) {
      for (int64_t c : {1, 3}) {
        const int64_t bh = 1 + static_cast<int64_t>(rng() % 3), bw = 1 + static_cast<int64_t>(rng() % 4);
        const int64_t h = bh * g.m * g.p, w = bw * g.m * g.p;
        INFO("p " << g.p << " t " << g.t << " m " << g.m << " " << dtype_name(dtype) << " c " << c << " " << h << "x" << w);
        Tensor in = test::random_tensor(rng, dtype, {c, h, w}, -3, 3);
        const Tensor want = oracle(in, g.p, g.t, g.m);
        const PatchGrid grid{g.p, g.t, g.m};
        REQUIRE(grid.output_shape(c, h, w) == want.shape());
        Tensor ref = Tensor::empty(dtype, want.shape());
        patchify_reference(in, grid, ref);
        CHECK(test::same_bytes(ref, want));
        Tensor got = Tensor::empty(dtype, want.shape());
        patchify(in, grid, got);
        CHECK(test::same_bytes(got, want));
        // The op as the graph runs it.
        OpPtr op = make_op({"patchify", {{"patch_size", g.p}, {"temporal_patch_size", g.t}, {"merge_size", g.m}}});
        CHECK(test::same_bytes(test::run_ops({op}, in), want));
      }
    }
  }
}

TEST_CASE("patchify: sides that are not multiples of merge_size * patch_size are refused", "[ops][patchify]") {
  const PatchGrid grid{14, 2, 2};
  CHECK_THROWS_AS(grid.output_shape(3, 56, 57), InputError);
  CHECK_THROWS_WITH(grid.output_shape(3, 42, 56), Catch::Contains("multiples of 28"));
  OpPtr op = make_op({"patchify", {{"patch_size", 14}, {"temporal_patch_size", 2}, {"merge_size", 2}}});
  CHECK_THROWS_AS(op->infer({DType::kFloat32, {3, 28}}), InputError);
  CHECK_THROWS_AS(make_op({"patchify", {{"patch_size", 0}, {"temporal_patch_size", 2}, {"merge_size", 2}}}),
                  ConfigError);
}

TEST_CASE("patchify fused with rescale and normalize equals the unfused chain", "[ops][patchify][fusion]") {
  std::mt19937 rng(11);
  const json mean = {0.48145466, 0.4578275, 0.40821073}, std = {0.26862954, 0.26130258, 0.27577711};
  const json patch = {{"patch_size", 14}, {"temporal_patch_size", 2}, {"merge_size", 2}};
  const std::vector<std::vector<OpSpec>> chains = {
      {{"rescale", {{"rescale_factor", 1 / 255.0}}}, {"normalize", {{"image_mean", mean}, {"image_std", std}}}},
      {{"rescale", {{"rescale_factor", 1 / 255.0}}}},
      {{"normalize", {{"image_mean", 0.5}, {"image_std", 0.5}}}},
      {},
      {{"rescale", {{"rescale_factor", 1 / 127.5}, {"offset", true}}}, {"normalize", {{"image_mean", mean}, {"image_std", std}}},
       {"normalize", {{"image_mean", 0.1}, {"image_std", 2.0}}}},
  };
  for (size_t k = 0; k < chains.size(); ++k) {
    std::vector<OpSpec> specs = chains[k];
    specs.push_back({"to_channel_dimension_format", {{"data_format", "channels_first"}}});
    specs.push_back({"patchify", patch});
    const auto fused = build_ops(specs, BuildOptions{true});
    const auto unfused = build_ops(specs, BuildOptions{false});
    REQUIRE(fused.size() == 1);
    REQUIRE(unfused.size() == specs.size());
    for (DType dtype : {DType::kUInt8, DType::kFloat32, DType::kFloat64}) {
      INFO("chain " << k << " " << dtype_name(dtype));
      Tensor in = test::random_tensor(rng, dtype, {56, 84, 3}, 0, 255);
      const Tensor a = test::run_ops(fused, in), b = test::run_ops(unfused, in);
      REQUIRE(test::same_bytes(a, b));
      // And the chain computed step by step, then the oracle's layout.
      if (k == 0 && dtype == DType::kUInt8) {
        Tensor steps = test::run_ops(build_ops(chains[k], BuildOptions{false}), in);
        CHECK(test::same_bytes(a, oracle(hwc_to_chw(steps), 14, 2, 2)));
      }
    }
  }
}

TEST_CASE("smart_resize: the sizes transformers computes", "[ops][resize][patchify]") {
  struct Case {
    int64_t h, w, factor, min_pixels, max_pixels, out_h, out_w;
  };
  // transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize (5.0.0).
  for (Case c : {Case{1, 1, 28, 3136, 1003520, 56, 56}, Case{27, 29, 28, 3136, 1003520, 56, 84},
                 Case{1365, 2048, 28, 3136, 1003520, 812, 1204}, Case{3000, 4000, 28, 3136, 12845056, 2996, 4004},
                 Case{100, 2000, 28, 3136, 1003520, 112, 1988}, Case{10, 1999, 32, 65536, 16777216, 32, 3648},
                 Case{4000, 20, 28, 3136, 1003520, 4004, 28}, Case{719, 1281, 28, 3136, 200704, 308, 588},
                 Case{333, 333, 16, 100, 1000, 16, 16}}) {
    const ResizeRule r = ResizeRule::from_params(
        {{"smart_resize", {{"factor", c.factor}, {"min_pixels", c.min_pixels}, {"max_pixels", c.max_pixels}}}});
    INFO(c.h << "x" << c.w);
    CHECK(r.output_size(c.h, c.w) == std::make_pair(c.out_h, c.out_w));
  }
  const ResizeRule r = ResizeRule::from_params({{"smart_resize", {{"factor", 28}, {"min_pixels", 3136}, {"max_pixels", 1003520}}}});
  CHECK_THROWS_WITH(r.output_size(1, 201), "absolute aspect ratio must be smaller than 200, got 201.0");
  CHECK_NOTHROW(r.output_size(1, 200));
  // max_pixels 0 fails only where transformers divides by it; floats are bounds like ints.
  const ResizeRule zero = ResizeRule::from_params({{"smart_resize", {{"factor", 28}, {"min_pixels", 3136}, {"max_pixels", 0}}}});
  CHECK_THROWS_AS(zero.output_size(100, 100), InputError);
  CHECK(zero.output_size(10, 10) == std::make_pair(int64_t{56}, int64_t{56}));
  const ResizeRule floats =
      ResizeRule::from_params({{"smart_resize", {{"factor", 28}, {"min_pixels", 3136.0}, {"max_pixels", 12544.5}}}});
  CHECK(floats.output_size(1365, 2048) == ResizeRule::from_params({{"smart_resize", {{"factor", 28}, {"min_pixels", 3136}, {"max_pixels", 12544}}}}).output_size(1365, 2048));
}

TEST_CASE("collate_patches concatenates rows and lists the grids", "[ops][patchify]") {
  std::mt19937 rng(3);
  const PatchGrid grid{2, 2, 1};
  std::vector<Tensor> images;
  std::vector<Tensor> rows;
  for (auto [h, w] : {std::pair<int64_t, int64_t>{4, 6}, {2, 2}, {6, 2}}) {
    Tensor in = test::random_tensor(rng, DType::kFloat32, {3, h, w}, 0, 1);
    Tensor out = Tensor::empty(DType::kFloat32, grid.output_shape(3, h, w));
    patchify(in, grid, out);
    images.push_back(out);
  }
  const PatchBatch b = collate_patches(images);
  REQUIRE(b.pixel_values.shape() == Shape{6 + 1 + 3, 3 * 2 * 2 * 2});
  REQUIRE(b.image_grid_thw.shape() == Shape{3, 3});
  const std::vector<int64_t> grids(b.image_grid_thw.data<int64_t>(), b.image_grid_thw.data<int64_t>() + 9);
  CHECK(grids == std::vector<int64_t>{1, 2, 3, 1, 1, 1, 1, 3, 1});
  size_t offset = 0;
  for (const Tensor& t : images) {
    CHECK(std::memcmp(static_cast<const char*>(b.pixel_values.raw_data()) + offset, t.raw_data(), t.nbytes()) == 0);
    offset += t.nbytes();
  }
  // One image: the same memory, reshaped.
  const PatchBatch one = collate_patches({images[0]});
  CHECK(one.pixel_values.raw_data() == images[0].raw_data());
  CHECK(one.pixel_values.shape() == Shape{6, 24});
}
