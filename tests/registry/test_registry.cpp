// The op registry (registry/registry.h): every op of op_list.def by name, errors naming the key.
#include <catch2/catch.hpp>

#include <algorithm>

#include "base/errors.h"
#include "registry/registry.h"

using namespace pixelflow;

namespace {

// The ConfigError make_op(spec) throws (FAIL when it throws none or another type).
ConfigError config_error_of(const OpSpec& spec) {
  try {
    make_op(spec);
  } catch (const ConfigError& e) {
    return e;
  } catch (const std::exception& e) {
    FAIL("not a ConfigError: " << e.what());
  }
  FAIL("no error for " << spec.name << " " << spec.params.dump());
  throw;  // unreachable
}

}  // namespace

TEST_CASE("registry names ops and reports bad parameters by key", "[registry]") {
  const ConfigError unknown = config_error_of({"resise", {}});
  CHECK(unknown.key_path() == "resise");
  CHECK_THAT(unknown.problem(), Catch::Contains("unknown op") && Catch::Contains("resize"));

  const ConfigError crop = config_error_of({"center_crop", {{"crop_size", {{"height", 0}, {"width", 3}}}}});
  CHECK(crop.key_path() == "center_crop.crop_size.height");
  CHECK_THAT(crop.what(), Catch::Contains("center_crop.crop_size.height"));

  CHECK(config_error_of({"rescale", {{"rescale_factor", "x"}}}).key_path() == "rescale.rescale_factor");
  CHECK(config_error_of({"pad", {{"size_divisor", -1}}}).key_path() == "pad.size_divisor");
  CHECK(config_error_of({"astype", {{"dtype", "int8"}}}).key_path() == "astype.dtype");
  CHECK(config_error_of({"color_quantize", {{"clusters", {{1, 2}}}}}).key_path() == "color_quantize.clusters[0]");
  CHECK(config_error_of({"to_channel_dimension_format", {{"data_format", "hwc"}}}).key_path() ==
        "to_channel_dimension_format.data_format");
}

TEST_CASE("every op of op_list.def is registered under its Hugging Face name", "[registry]") {
  std::vector<std::string> names = registered_ops();
  std::sort(names.begin(), names.end());
  const std::vector<std::string> want = {"astype", "center_crop", "color_quantize", "convert_to_rgb", "crop_to_patches", "flip_channel_order", "llava_next_patches",
                                         "normalize", "pad", "pan_and_scan", "patchify", "post_process_object_detection",
                                         "post_process_semantic_segmentation",
                                         "reduce_label", "rescale", "resize", "split_image", "to_channel_dimension_format"};
  REQUIRE(names == want);
  // Ops that only apply to images refuse the labels target.
  CHECK_THROWS_AS(make_op({"normalize", {{"image_mean", 0.5}, {"image_std", 0.5}}, Target::kLabels}), ConfigError);
  CHECK(make_op({"reduce_label", nlohmann::json::object(), Target::kLabels})->target() == Target::kLabels);
}
