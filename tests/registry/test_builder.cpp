// The builder (registry/builder.h): a plan built with fusion gives the bytes of the same plan
// built op by op, for every fusion it makes (resize + center_crop; [center_crop] + rescale /
// normalize + [flip_channel_order] + [to_channel_dimension_format]; a center_crop moved before
// rescale steps), over sizes, channel counts and dtypes. One test body, instantiated per plan.
#include <catch2/catch.hpp>

#include <random>

#include "base/errors.h"
#include "registry/builder.h"
#include "tests/common/op_test_util.h"

using namespace pixelflow;
using namespace pixelflow::test;
using nlohmann::json;

namespace {

struct PlanCase {
  std::string label;
  std::vector<OpSpec> plan;
  std::vector<DType> dtypes;
  std::vector<int64_t> channels;
  double lo = 0, hi = 1;
};

const json kClipMean = {0.48145466, 0.4578275, 0.40821073}, kClipStd = {0.26862954, 0.26130258, 0.27577711};

OpSpec resize_shortest(int64_t edge, int resample) {
  return {"resize", {{"size", {{"shortest_edge", edge}}}, {"resample", resample}}};
}
OpSpec resize_exact(int64_t h, int64_t w, int resample) {
  return {"resize", {{"size", {{"height", h}, {"width", w}}}, {"resample", resample}}};
}
OpSpec crop(int64_t h, int64_t w) { return {"center_crop", {{"crop_size", {{"height", h}, {"width", w}}}}}; }
OpSpec rescale(double f, bool offset = false) {
  json p = {{"rescale_factor", f}};
  if (offset) p["offset"] = true;
  return {"rescale", p};
}
OpSpec normalize(json mean, json std) { return {"normalize", {{"image_mean", mean}, {"image_std", std}}}; }
OpSpec layout(const char* f) { return {"to_channel_dimension_format", {{"data_format", f}}}; }
const OpSpec kFlip{"flip_channel_order", json::object()};

std::vector<PlanCase> plan_cases() {
  std::vector<PlanCase> cases;
  for (int r = 0; r <= 5; ++r) {
    cases.push_back({"CLIP-like, resample " + std::to_string(r),
                     {resize_shortest(32, r), crop(30, 28), rescale(1 / 255.0), normalize(kClipMean, kClipStd),
                      layout("channels_first")},
                     {DType::kUInt8},
                     {3}});
    cases.push_back({"resize then a crop larger than the resize (zero padding), resample " + std::to_string(r),
                     {resize_exact(9, 12, r), crop(13, 11)},
                     {DType::kUInt8},
                     {1, 3, 4}});
  }
  cases.push_back({"crop, rescale, normalize, flip, channels_first (MobileViT-like)",
                   {crop(17, 19), rescale(1 / 255.0), normalize(0.5, 0.5), kFlip, layout("channels_first")},
                   {DType::kUInt8, DType::kFloat32, DType::kFloat64},
                   {3},
                   0,
                   255});
  cases.push_back({"rescale before the crop (the crop moves first)",
                   {rescale(1 / 255.0), crop(8, 21), normalize(kClipMean, kClipStd), layout("channels_first")},
                   {DType::kUInt8, DType::kFloat32},
                   {3},
                   0,
                   255});
  cases.push_back({"rescale with offset, channels_last (EfficientNet-like)",
                   {rescale(1 / 127.5, true), layout("channels_last")},
                   {DType::kUInt8, DType::kFloat32},
                   {1, 3},
                   0,
                   255});
  cases.push_back({"normalize alone on 8-bit data (table)",
                   {normalize({0.1, 0.2, 0.3}, 2.0), layout("channels_first")},
                   {DType::kUInt8},
                   {3}});
  cases.push_back({"two normalizes and a flip", {normalize(0.5, 0.25), normalize(0.0, {0.3, 0.2, 0.1}), kFlip},
                   {DType::kUInt8, DType::kFloat32}, {3}, -2, 2});
  cases.push_back({"DPT-like with pad after normalize",
                   {resize_exact(20, 24, 3), rescale(1 / 255.0), normalize(0.5, 0.5), {"pad", {{"size_divisor", 16}}},
                    layout("channels_first")},
                   {DType::kUInt8},
                   {3}});
  return cases;
}

}  // namespace

TEST_CASE("fused and unfused builds of a plan give the same bytes", "[builder][fusion]") {
  static const std::vector<PlanCase> cases = plan_cases();
  const size_t i = GENERATE(range(size_t{0}, plan_cases().size()));
  const PlanCase& c = cases[i];
  const std::vector<OpPtr> fused = build_ops(c.plan, {true});
  const std::vector<OpPtr> unfused = build_ops(c.plan, {false});
  INFO(c.label);
  REQUIRE(unfused.size() == c.plan.size());
  REQUIRE(fused.size() < unfused.size());  // the plan does fuse: the comparison is not vacuous
  std::mt19937 rng(static_cast<uint32_t>(77 + i));
  for (DType dtype : c.dtypes) {
    for (int64_t ch : c.channels) {
      for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {2, 3}, {5, 1}, {1, 40}, {31, 33}, {17, 120},
                          {120, 17}, {64, 64}}) {
        Tensor in = random_tensor(rng, dtype, {h, w, ch}, c.lo, c.hi);
        INFO(dtype_name(dtype) << " " << shape_str(in.shape()));
        Tensor a = run_ops(fused, in), b = run_ops(unfused, in);
        REQUIRE(std::string(dtype_name(a.dtype())) == dtype_name(b.dtype()));
        REQUIRE(shape_str(a.shape()) == shape_str(b.shape()));
        REQUIRE(same_bytes(a, b));
      }
    }
  }
}

TEST_CASE("the fusions the builder makes", "[builder][fusion]") {
  auto names = [](const std::vector<OpPtr>& ops) {
    std::vector<std::string> n;
    for (const auto& op : ops) n.push_back(op->name());
    return n;
  };
  const std::vector<OpSpec> clip = {resize_shortest(32, 3), crop(30, 28), rescale(1 / 255.0),
                                    normalize(kClipMean, kClipStd), layout("channels_first")};
  const auto fused = names(build_ops(clip, {true}));
  REQUIRE(fused.size() == 2);
  CHECK(fused[0] == "resize+center_crop");
  CHECK_THAT(fused[1], Catch::Contains("rescale") && Catch::Contains("normalize"));
  REQUIRE(names(build_ops(clip, {false})) ==
          std::vector<std::string>{"resize", "center_crop", "rescale", "normalize", "to_channel_dimension_format"});
}

TEST_CASE("build_ops: errors in a plan name the op's key", "[builder]") {
  try {
    build_ops({rescale(1 / 255.0), {"pad", {{"size_divisor", 0}}}});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.key_path(), Catch::Contains("size_divisor"));
  }
  REQUIRE_THROWS_AS(build_ops({{"no_such_op", json::object()}}), ConfigError);
}
