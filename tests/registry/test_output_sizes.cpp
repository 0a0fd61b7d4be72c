// Absurd output sizes in a plan are refused before anything is allocated (registry/builder.cpp).
#include <catch2/catch.hpp>

#include <cstdint>

#include "base/errors.h"
#include "registry/builder.h"

using namespace pixelflow;

TEST_CASE("a plan asking for absurd output sizes is refused before any allocation", "[builder][out_of_memory]") {
  auto plan_with = [](OpSpec spec) {
    Plan plan;
    plan.image_ops = {std::move(spec)};
    return plan;
  };
  const Plan huge_resize = plan_with({"resize", {{"size", {{"height", 200000}, {"width", 200000}}}, {"resample", 2}}});
  REQUIRE_THROWS_MATCHES(build_pipeline(huge_resize), ConfigError,
                         Catch::Matchers::Message("size: resize to 200000 x 200000 = 40000000000 pixels per image, "
                                                  "more than the limit of 178956970 (the pixel limit of "
                                                  "--max-image-pixels, PIXELFLOW_MAX_IMAGE_PIXELS or "
                                                  "load.max_image_pixels, at least 178956970; 0: no limit)"));
  const Plan huge_edge = plan_with({"resize", {{"size", {{"shortest_edge", 20000}}}, {"resample", 2}}});
  REQUIRE_THROWS_WITH(build_pipeline(huge_edge), Catch::StartsWith("size.shortest_edge: resize to 20000 x 20000"));
  Plan huge_crop = plan_with({"center_crop", {{"crop_size", {{"height", 100000}, {"width", 3000}}}}});
  REQUIRE_THROWS_WITH(build_pipeline(huge_crop), Catch::StartsWith("crop_size: center_crop to 100000 x 3000"));
  Plan overflow = plan_with({"center_crop", {{"crop_size", {{"height", int64_t(1) << 40}, {"width", int64_t(1) << 40}}}}});
  // Sides beyond a C int are refused where the op reads its parameters, by key.
  REQUIRE_THROWS_WITH(build_pipeline(overflow), Catch::StartsWith("center_crop.crop_size.height: must be at most 2147483647"));
  Plan huge_pad = plan_with({"pad", {{"size_divisor", 20000}}});
  REQUIRE_THROWS_WITH(build_pipeline(huge_pad), Catch::StartsWith("size_divisor: pad to 20000 x 20000"));
  // Labels too.
  Plan labels;
  labels.label_ops = {{"center_crop", {{"crop_size", {{"height", 100000}, {"width", 3000}}}}, Target::kLabels}};
  REQUIRE_THROWS_WITH(build_pipeline(labels), Catch::StartsWith("crop_size: "));

  // A raised pixel limit raises the bound; a lowered one does not lower it below the default
  // (an input limit of 100 pixels still allows 224 x 224 outputs); 0 turns the check off.
  huge_crop.load.max_pixels = 300000000;
  CHECK_NOTHROW(build_pipeline(huge_crop));
  Plan normal = plan_with({"resize", {{"size", {{"height", 224}, {"width", 224}}}, {"resample", 2}}});
  normal.load.max_pixels = 100;
  CHECK_NOTHROW(build_pipeline(normal));
  Plan unlimited = huge_resize;
  unlimited.load.max_pixels = 0;
  CHECK_NOTHROW(build_pipeline(unlimited));
  // Output sizes that follow the input (size_divisor resize, capped shortest edge) are not checked.
  CHECK_NOTHROW(build_pipeline(plan_with({"resize", {{"size", {{"shortest_edge", 20000}, {"longest_edge", 30000}}},
                                                      {"resample", 2}}})));
}
