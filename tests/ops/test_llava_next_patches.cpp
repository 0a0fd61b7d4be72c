// llava_next_patches (LLaVA-NeXT's anyres): the resolution and patch sizes transformers computes,
// and the windows cut from the op's output.
#include <catch2/catch.hpp>

#include "base/errors.h"
#include "ops/llava_next_patches/llava_next_patches.h"

using namespace pixelflow;
using namespace pixelflow::ops;

TEST_CASE("llava_next_patches: select_best_resolution and get_patch_output_size", "[ops][llava_next]") {
  const std::vector<std::pair<int64_t, int64_t>> pins = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
  struct Case {
    int64_t h, w, best_h, best_w, out_h, out_w;
  };
  // transformers 5.0.0 (image_processing_utils).
  for (Case c : {Case{480, 640, 672, 672, 504, 672}, Case{1365, 2048, 672, 672, 448, 672},
                 Case{100, 2000, 336, 1008, 51, 1008}, Case{2000, 100, 1008, 336, 1008, 51},
                 Case{336, 336, 336, 672, 336, 336}, Case{1, 1, 336, 672, 336, 336}, Case{700, 300, 1008, 336, 785, 336}}) {
    INFO(c.h << "x" << c.w);
    CHECK(select_best_resolution(c.h, c.w, pins) == std::make_pair(c.best_h, c.best_w));
    CHECK(patch_output_size(c.h, c.w, c.best_h, c.best_w) == std::make_pair(c.out_h, c.out_w));
  }
  CHECK_THROWS_AS(select_best_resolution(10, 10, {}), InputError);
}

TEST_CASE("llava_next_patches: the base image, then row-major patches (smaller at the edges)", "[ops][llava_next]") {
  const LlavaNextPatchesOp op({{"image_grid_pinpoints", {{10, 7}}}, {"patch_size", 4}, {"base_size", 3}, {"resample", 3}});
  const std::vector<Rect> t = op.tiles({13, 10, 3});  // best 10 x 7 + base 3
  REQUIRE(t.size() == 1 + 3 * 2);
  CHECK(t[0] == Rect{7, 10, 3, 3});
  CHECK(t[1] == Rect{0, 0, 4, 4});
  CHECK(t[2] == Rect{4, 0, 3, 4});
  CHECK(t[5] == Rect{0, 8, 4, 2});
  CHECK(t[6] == Rect{4, 8, 3, 2});
  CHECK(op.infer({DType::kUInt8, {20, 30, 3}}).shape == Shape{13, 10, 3});
  CHECK_THROWS_AS(LlavaNextPatchesOp({{"image_grid_pinpoints", {{10}}}, {"patch_size", 4}, {"base_size", 3}, {"resample", 3}}),
                  ConfigError);
}
