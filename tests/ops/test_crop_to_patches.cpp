// crop_to_patches (GOT-OCR2's tiling): the grid transformers picks, and the tiles as windows of
// the resized canvas plus the thumbnail.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "base/errors.h"
#include "ops/crop_to_patches/crop_to_patches.h"
#include "ops/resize/resize.h"
#include "registry/registry.h"
#include "tests/common/op_test_util.h"

using namespace pixelflow;
using namespace pixelflow::ops;

TEST_CASE("crop_to_patches: the grid get_optimal_tiled_canvas picks", "[ops][crop_to_patches]") {
  struct Case {
    int64_t h, w, th, tw, lo, hi, columns, rows;
  };
  // transformers.models.got_ocr2.image_processing_got_ocr2.get_optimal_tiled_canvas (5.0.0).
  for (Case c : {Case{100, 100, 384, 384, 1, 12, 1, 1}, Case{1365, 2048, 1024, 1024, 1, 6, 3, 2},
                 Case{2000, 100, 384, 384, 1, 12, 1, 12}, Case{300, 900, 384, 384, 1, 12, 3, 1},
                 Case{10, 10, 384, 384, 2, 9, 2, 2}, Case{384, 768, 384, 384, 1, 12, 2, 1},
                 Case{1000, 1000, 384, 384, 1, 12, 3, 3}, Case{5, 7, 3, 3, 1, 4, 2, 2},
                 Case{100, 300, 96, 128, 2, 9, 3, 1}, Case{700, 700, 384, 384, 3, 3, 1, 3}}) {
    INFO(c.h << "x" << c.w);
    CHECK(optimal_tiled_canvas(c.h, c.w, c.th, c.tw, c.lo, c.hi) == std::make_pair(c.columns, c.rows));
  }
  // No grid has between min and max tiles: one tile.
  CHECK(optimal_tiled_canvas(50, 80, 10, 10, 5, 3) == std::make_pair(int64_t{1}, int64_t{1}));
}

TEST_CASE("crop_to_patches: tiles are the resized canvas cut row-major, then the thumbnail", "[ops][crop_to_patches]") {
  std::mt19937 rng(5);
  Tensor in = test::random_tensor(rng, DType::kUInt8, {45, 70, 3});
  OpPtr op = make_op({"crop_to_patches",
                      {{"min_patches", 1}, {"max_patches", 6}, {"patch_size", {{"height", 16}, {"width", 12}}},
                       {"resample", 3}}});
  const Tensor tiles = test::run_ops({op}, in);
  const auto [columns, rows] = optimal_tiled_canvas(45, 70, 16, 12, 1, 6);
  REQUIRE(tiles.shape() == Shape{columns * rows + 1, 16, 12, 3});
  Tensor canvas = resize_u8(in, 16 * rows, 12 * columns, Resample::kBicubic);
  for (int64_t i = 0; i < columns * rows; ++i)
    for (int64_t y = 0; y < 16; ++y) {
      const int64_t cy = (i / columns) * 16 + y, cx = (i % columns) * 12;
      CHECK(std::memcmp(static_cast<const uint8_t*>(tiles[i].raw_data()) + y * 12 * 3,
                        canvas.data<uint8_t>() + (cy * 12 * columns + cx) * 3, 12 * 3) == 0);
    }
  Tensor thumb = resize_u8(in, 16, 12, Resample::kBicubic);
  CHECK(std::memcmp(tiles[columns * rows].raw_data(), thumb.raw_data(), thumb.nbytes()) == 0);
  // One tile: no thumbnail.
  OpPtr one = make_op({"crop_to_patches",
                       {{"min_patches", 1}, {"max_patches", 1}, {"patch_size", {{"height", 16}, {"width", 12}}},
                        {"resample", 3}}});
  CHECK(test::run_ops({one}, in).shape() == Shape{1, 16, 12, 3});
  CHECK_THROWS_AS(op->infer({DType::kUInt8, {45, 70}}), InputError);
}
