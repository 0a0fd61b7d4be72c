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
  const std::vector<Rect> t = op.tiles({13, 10, 3}, 1);  // best 10 x 7 + base 3
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

TEST_CASE("llava_next_patches: a [height, width] base and OneVision's grouped images", "[ops][llava_next]") {
  const nlohmann::json params = {{"image_grid_pinpoints", {{10, 7}}}, {"patch_size", 4}, {"base_size", {3, 5}},
                                 {"resample", 3}, {"grouped_pad_color", {1, 2, 3}}};
  const LlavaNextPatchesOp op(params);
  const std::vector<Rect> t = op.tiles({13, 12, 3}, 1);  // best 10 x 7 + base 3 x 5
  REQUIRE(t.size() == 1 + 3 * 2);
  CHECK(t[0] == Rect{7, 10, 5, 3});
  CHECK(op.infer({DType::kUInt8, {20, 30, 3}}).shape == Shape{13, 12, 3});
  // An image of a group of several: its padded square is its one window.
  CHECK(op.tiles({9, 9, 3}, 2) == std::vector<Rect>{Rect{0, 0, 9, 9}});

  BufferPool pool;
  ExecContext ctx;
  ctx.pool = &pool;
  Sample s;
  s.source = "wide.png";
  s.image = Tensor::empty(DType::kUInt8, {2, 4, 3});
  for (int64_t i = 0; i < 24; ++i) s.image.data<uint8_t>()[i] = static_cast<uint8_t>(100 + i);
  s.attributes.set(InputGroup{2});
  op.run(s, ctx, false);
  // pad_to_square: a 4 x 4 square of (1, 2, 3), the image on rows 1..2 ((4 - 2) // 2 = 1).
  REQUIRE(s.image.shape() == Shape{4, 4, 3});
  const uint8_t* o = s.image.data<uint8_t>();
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 4; ++x)
      for (int64_t c = 0; c < 3; ++c) {
        const int64_t want = (y == 1 || y == 2) ? 100 + ((y - 1) * 4 + x) * 3 + c : c + 1;
        CHECK(o[(y * 4 + x) * 3 + c] == want);
      }
  // transformers raises when image_mean's length is not the number of channels.
  Sample gray;
  gray.source = "gray.png";
  gray.image = Tensor::empty(DType::kUInt8, {2, 3, 1});
  gray.attributes.set(InputGroup{3});
  CHECK_THROWS_WITH(op.run(gray, ctx, false), Catch::Contains("gray.png") && Catch::Contains("background_color"));
  // A square image stays as it is; a lone image is tiled.
  Sample square;
  square.image = Tensor::empty(DType::kUInt8, {3, 3, 3});
  square.attributes.set(InputGroup{2});
  op.run(square, ctx, false);
  CHECK(square.image.shape() == Shape{3, 3, 3});
  Sample alone;
  alone.image = Tensor::empty(DType::kUInt8, {20, 30, 3});
  op.run(alone, ctx, false);
  CHECK(alone.image.shape() == Shape{13, 12, 3});
}

TEST_CASE("llava_next_patches: the canvas where transformers' pad() misreads the resized layout", "[ops][llava_next]") {
  // transformers 5.0.0: get_image_patches of a 2 x 2 x 3 image with pinpoints [[64, 1]]: resized to
  // 1 x 1 x 3, read as channels first by pad(), padded to 1 x 64 x 3 (the pixel at column 31).
  PatchCanvas cv = patch_canvas(2, 2, 3, false, {{64, 1}}, "");
  CHECK(std::vector<int64_t>{cv.h, cv.w, cv.top, cv.left, cv.image_h, cv.image_w} ==
        std::vector<int64_t>{1, 64, 0, 31, 1, 1});
  // The usual case: the best resolution, centred.
  cv = patch_canvas(480, 640, 3, false, {{336, 672}, {672, 336}, {672, 672}}, "");
  CHECK(std::vector<int64_t>{cv.h, cv.w, cv.top, cv.left, cv.image_h, cv.image_w} ==
        std::vector<int64_t>{672, 672, 84, 0, 504, 672});
  // Channels first, 3 channels: read right whatever the resized height.
  cv = patch_canvas(2, 2, 3, true, {{64, 1}}, "");
  CHECK(std::vector<int64_t>{cv.h, cv.w, cv.top, cv.left} == std::vector<int64_t>{64, 1, 31, 0});
  // Channels first with 4 channels and a resized width of 1: read as channels last, the height
  // padded by the width's padding (none here: the width is exact).
  cv = patch_canvas(40, 2, 4, true, {{8, 1}}, "");
  CHECK(std::vector<int64_t>{cv.h, cv.w, cv.top, cv.left, cv.image_h, cv.image_w} ==
        std::vector<int64_t>{8, 1, 0, 0, 8, 1});
  // Misreads that pad the channels (transformers then fails stacking the patches), and 4 channels
  // read neither way: InputError naming the input.
  CHECK_THROWS_WITH(patch_canvas(5, 5, 3, false, {{1, 2}}, "a.png"),
                    Catch::Contains("a.png") && Catch::Contains("pads its channels"));
  CHECK_THROWS_WITH(patch_canvas(40, 30, 4, false, {{64, 64}}, "b.png"),
                    Catch::Contains("b.png") && Catch::Contains("Unable to infer channel dimension format"));
}
