// pan_and_scan (Gemma 3): the crops transformers cuts, by size.
#include <catch2/catch.hpp>

#include "base/errors.h"
#include "ops/pan_and_scan/pan_and_scan.h"

using namespace pixelflow;
using namespace pixelflow::ops;

TEST_CASE("pan_and_scan: the crops Gemma3ImageProcessor.pan_and_scan cuts", "[ops][pan_and_scan]") {
  struct Case {
    int64_t h, w, min_crop, max_crops;
    double ratio;
    std::vector<std::pair<int64_t, int64_t>> crops;  // (height, width), row-major
  };
  // transformers 5.0.0, on zero images of these sizes.
  const std::vector<Case> cases = {
      {500, 2048, 256, 4, 1.2, {{500, 512}, {500, 512}, {500, 512}, {500, 512}}},
      {1365, 300, 256, 4, 1.2, {{342, 300}, {342, 300}, {342, 300}, {339, 300}}},
      {100, 100, 10, 4, 1.2, {}},
      {100, 350, 100, 7, 1.0, {{100, 117}, {100, 117}, {100, 116}}},
      {100, 351, 50, 3, 1.2, {{100, 117}, {100, 117}, {100, 117}}},
      {10, 100, 2, 3, 1.2, {{10, 34}, {10, 34}, {10, 32}}},
      {7, 40, 3, 5, 2.0, {{7, 8}, {7, 8}, {7, 8}, {7, 8}, {7, 8}}},
  };
  for (const Case& c : cases) {
    INFO(c.h << "x" << c.w);
    const PanAndScanOp op({{"pan_and_scan_min_crop_size", c.min_crop}, {"pan_and_scan_max_num_crops", c.max_crops},
                           {"pan_and_scan_min_ratio_to_activate", c.ratio}});
    const std::vector<Rect> got = op.crops(c.h, c.w);
    REQUIRE(got.size() == c.crops.size());
    int64_t x = 0, y = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].height == c.crops[i].first);
      CHECK(got[i].width == c.crops[i].second);
      // Side by side along the long axis, from the top-left corner.
      CHECK(got[i].x == x);
      CHECK(got[i].y == y);
      (c.w >= c.h ? x : y) += c.w >= c.h ? got[i].width : got[i].height;
    }
  }
  const PanAndScanOp zero({{"pan_and_scan_min_crop_size", 1}, {"pan_and_scan_max_num_crops", 0},
                           {"pan_and_scan_min_ratio_to_activate", 1.0}});
  CHECK_THROWS_AS(zero.crops(10, 40), InputError);
  CHECK_THROWS_AS(PanAndScanOp({{"pan_and_scan_min_crop_size", 0}, {"pan_and_scan_max_num_crops", 2},
                                {"pan_and_scan_min_ratio_to_activate", 1.0}}),
                  ConfigError);
}
