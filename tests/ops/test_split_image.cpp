// Idefics3 / SmolVLM's geometry and pixels: the resize rules (get_resize_output_image_size,
// resize_for_vision_encoder), their resize (to_pil_image + Image.resize: "P" for one channel,
// premultiplied RGBA), split_image's tiles and global image, convert_to_rgb's compositing onto
// white. Expected values from transformers 5.0.0 (models/idefics3/image_processing_idefics3.py)
// with Pillow 9.4.
#include <catch2/catch.hpp>

#include "base/errors.h"
#include "ops/convert_to_rgb/convert_to_rgb.h"
#include "ops/resize/resize.h"
#include "ops/resize/resize_op.h"
#include "ops/split_image/split_image.h"
#include "pipelines/image_processor.h"
#include "pipelines/processor_config.h"
#include "tests/common/op_test_util.h"

using namespace pixelflow;
using namespace pixelflow::ops;
using pixelflow::test::run_op;
using pixelflow::test::run_ops;
using pixelflow::test::tensor_of;
using pixelflow::test::same_bytes;
using pixelflow::test::values_of;
using nlohmann::json;

namespace {

struct Case {
  int64_t h, w, side, out_h, out_w;
};

std::vector<uint8_t> pattern(int64_t n, int mul, int add) {
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<uint8_t>((i * mul + add) % 256);
  return v;
}

}  // namespace

TEST_CASE("split_image: get_resize_output_image_size(resolution_max_side)", "[ops][split_image]") {
  for (Case c : {Case{480, 640, 1456, 1092, 1456}, Case{640, 480, 1456, 1456, 1092}, Case{1, 1, 1456, 1456, 1456},
                 Case{3, 4000, 1456, 2, 1456}, Case{4000, 3, 1456, 1456, 2}, Case{999, 1000, 1456, 1454, 1456},
                 Case{1000, 999, 1456, 1456, 1454}, Case{300, 7000, 5000, 175, 4096}, Case{7000, 300, 5000, 4096, 175},
                 Case{5, 4097, 8192, 5, 4096}, Case{1, 20, 7, 1, 7}, Case{333, 333, 364, 364, 364},
                 Case{17, 1, 33, 33, 2}}) {
    INFO(c.h << "x" << c.w << " -> " << c.side);
    const ResizeRule r = ResizeRule::from_params({{"resolution_max_side", c.side}});
    CHECK(r.output_size(c.h, c.w) == std::make_pair(c.out_h, c.out_w));
  }
}

TEST_CASE("split_image: resize_for_vision_encoder", "[ops][split_image]") {
  for (Case c : {Case{1080, 1456, 364, 1092, 1456}, Case{1456, 1080, 364, 1456, 1092}, Case{1, 5000, 364, 364, 5096},
                 Case{5000, 1, 364, 5096, 364}, Case{364, 364, 364, 364, 364}, Case{365, 10, 364, 728, 364},
                 Case{10, 365, 364, 364, 728}, Case{1, 1, 364, 364, 364}, Case{727, 1093, 512, 1024, 1536},
                 Case{2, 3, 1, 2, 3}}) {
    INFO(c.h << "x" << c.w << " -> multiples of " << c.side);
    const ResizeRule r = ResizeRule::from_params({{"vision_encoder_max_size", c.side}});
    CHECK(r.output_size(c.h, c.w) == std::make_pair(c.out_h, c.out_w));
  }
}

TEST_CASE("split_image: the processor's resize (to_pil_image, Image.resize)", "[ops][split_image]") {
  SECTION("RGBA: resized premultiplied") {
    const Tensor in = tensor_of<uint8_t>({5, 7, 4}, pattern(5 * 7 * 4, 37, 11));
    const std::vector<uint8_t> want = {24,  59,  115, 82,  80,  138, 121, 101, 132, 126, 122, 137, 161, 134, 177, 194,
                                       52,  105, 105, 102, 118, 112, 121, 118, 122, 117, 150, 171, 83,  107, 147, 95,
                                       79,  133, 112, 122, 148, 119, 132, 137, 132, 126, 169, 196, 32,  103, 138, 79};
    CHECK(values_of<uint8_t>(resize_pil(in, 3, 4, Resample::kLanczos, "x")) == want);
    const Tensor op_out = run_op({"resize", {{"size", {{"height", 3}, {"width", 4}}}, {"resample", 1}, {"pil_image", true}}}, in);
    CHECK(values_of<uint8_t>(op_out) == want);
  }
  SECTION("one channel: a P image, so NEAREST") {
    const Tensor in = tensor_of<uint8_t>({5, 7, 1}, pattern(5 * 7, 37, 11));
    const std::vector<uint8_t> want = {11, 85, 159, 233, 17, 91, 165, 239, 23, 97, 171, 245};
    CHECK(values_of<uint8_t>(resize_pil(in, 3, 4, Resample::kLanczos, "x")) == want);
    const Tensor op_out = run_op({"resize", {{"size", {{"height", 3}, {"width", 4}}}, {"resample", 1}, {"pil_image", true}}}, in);
    CHECK(values_of<uint8_t>(op_out) == want);
  }
  SECTION("float in [0, 1]: uint8 out") {
    std::vector<float> v(5 * 7 * 3);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(static_cast<double>(i) / 104.0);
    const Tensor in = tensor_of<float>({5, 7, 3}, v);
    const std::vector<uint8_t> want = {19,  21,  24,  31,  34,  36,  45,  47,  50,  57,  60,  62,
                                       105, 108, 110, 118, 120, 123, 131, 134, 136, 144, 146, 149,
                                       192, 194, 197, 204, 207, 209, 218, 220, 223, 230, 233, 235};
    const Tensor out = run_op({"resize", {{"size", {{"height", 3}, {"width", 4}}}, {"resample", 1}, {"pil_image", true}}}, in);
    REQUIRE(out.dtype() == DType::kUInt8);
    CHECK(values_of<uint8_t>(out) == want);
  }
}

TEST_CASE("split_image: tiles row-major, then the global image", "[ops][split_image]") {
  const SplitImageOp op({{"max_image_size", {{"longest_edge", 4}}}, {"resample", 1}});
  const Tensor in = tensor_of<uint8_t>({8, 12, 3}, pattern(8 * 12 * 3, 13, 5));
  CHECK(op.infer({DType::kUInt8, {8, 12, 3}}).shape == Shape{12, 12, 3});
  const Tensor out = run_op({"split_image", {{"max_image_size", {{"longest_edge", 4}}}, {"resample", 1}}}, in);
  REQUIRE(out.shape() == Shape{12, 12, 3});
  CHECK(*op.grid(out.shape()) == std::make_pair(int64_t(2), int64_t(3)));
  const std::vector<Rect> t = op.tiles(out.shape());
  REQUIRE(t.size() == 7);
  CHECK(t[0] == Rect{0, 0, 4, 4});
  CHECK(t[1] == Rect{4, 0, 4, 4});
  CHECK(t[3] == Rect{0, 4, 4, 4});
  CHECK(t[6] == Rect{0, 8, 4, 4});
  // The image itself on top, the global image (transformers' last frame) below it.
  const std::vector<uint8_t> global = {63,  68,  85,  142, 156, 155, 134, 147, 88,  94,  107, 126, 187, 153, 164, 101,
                                       69,  78,  158, 180, 190, 83,  95,  106, 115, 124, 144, 167, 174, 116, 87,  100,
                                       92,  160, 172, 191, 121, 56,  75,  138, 159, 153, 118, 129, 105, 97,  111, 131};
  const auto v = values_of<uint8_t>(out);
  CHECK(std::equal(v.begin(), v.begin() + 8 * 12 * 3, values_of<uint8_t>(in).begin()));
  std::vector<uint8_t> got;
  for (int64_t y = 8; y < 12; ++y) got.insert(got.end(), v.begin() + (y * 12) * 3, v.begin() + (y * 12 + 4) * 3);
  CHECK(got == global);
  SECTION("an M x M image stays whole, not split") {
    const Tensor small = tensor_of<uint8_t>({4, 4, 3}, pattern(48, 3, 1));
    const Tensor same = run_op({"split_image", {{"max_image_size", {{"longest_edge", 4}}}, {"resample", 1}}}, small);
    CHECK(values_of<uint8_t>(same) == values_of<uint8_t>(small));
    CHECK(*op.grid(same.shape()) == std::make_pair(int64_t(0), int64_t(0)));
    CHECK(op.tiles(same.shape()) == std::vector<Rect>{Rect{0, 0, 4, 4}});
  }
  SECTION("sides must be multiples of M") {
    CHECK_THROWS_AS(run_op({"split_image", {{"max_image_size", {{"longest_edge", 4}}}, {"resample", 1}}},
                           tensor_of<uint8_t>({6, 8, 3}, pattern(144, 1, 0))),
                    InputError);
    CHECK_THROWS_AS(SplitImageOp({{"max_image_size", 4}, {"resample", 1}}), ConfigError);
  }
}

TEST_CASE("convert_to_rgb: L replicated, RGBA composited onto white", "[ops][split_image]") {
  // convert_to_rgb(np.array([[[c, c, c, a]]])) in transformers.
  struct Px {
    int c, a, want;
  };
  for (Px p : {Px{0, 0, 255}, Px{100, 0, 255}, Px{100, 1, 254}, Px{100, 128, 177}, Px{200, 254, 200}, Px{7, 255, 7},
               Px{255, 17, 255}})
    CHECK(int(composite_over_white(uint8_t(p.c), uint8_t(p.a))) == p.want);
  const Tensor rgba = tensor_of<uint8_t>({1, 2, 4}, {100, 50, 0, 128, 1, 2, 3, 255});
  CHECK(values_of<uint8_t>(run_op({"convert_to_rgb", nlohmann::json::object()}, rgba)) ==
        std::vector<uint8_t>{177, 152, 127, 1, 2, 3});
  const Tensor l = tensor_of<uint8_t>({1, 2, 1}, {9, 200});
  CHECK(values_of<uint8_t>(run_op({"convert_to_rgb", nlohmann::json::object()}, l)) ==
        std::vector<uint8_t>{9, 9, 9, 200, 200, 200});
  CHECK_THROWS_AS(run_op({"convert_to_rgb", nlohmann::json::object()}, tensor_of<uint8_t>({1, 1, 2}, {1, 2})),
                  InputError);
}

TEST_CASE("Idefics3: frames per sample through run_groups, padded, with pixel_attention_mask", "[ops][split_image]") {
  using pipelines::CallOptions;
  using pipelines::ImageProcessor;
  const ImageProcessor proc(pipelines::processor_config_from_json_text(
      R"({"image_processor_type": "Idefics3ImageProcessor", "size": {"longest_edge": 50},
          "max_image_size": {"longest_edge": 16}})",
      "test"));
  const auto image = [](int64_t h, int64_t w, int add) {
    return InputItem::from_array(tensor_of(Shape{h, w, 3}, pattern(h * w * 3, 7, add)), "image");
  };
  // Expected from transformers 5.0.0: 40 x 70 and 8 x 12 each 3 x 4 tiles + the global image
  // (26 frames), none, 33 x 33: 4 x 4 + 1 (17).
  std::vector<std::vector<InputItem>> groups{{image(40, 70, 1), image(8, 12, 2)}, {}, {image(33, 33, 3)}};
  CallOptions opts;
  opts.return_tensors = true;
  const BatchFeature bf = proc.prepare(json{{"return_row_col_info", true}}, opts).run_groups(groups);
  const Tensor& pv = bf.tensor("pixel_values");
  CHECK(shape_str(pv.shape()) == shape_str({3, 26, 3, 16, 16}));
  const Tensor& mask = bf.tensor("pixel_attention_mask");
  CHECK(shape_str(mask.shape()) == shape_str({3, 26, 16, 16}));
  const int64_t per = 16 * 16;
  for (auto [g, real] : {std::pair<int64_t, int64_t>{0, 26}, {1, 0}, {2, 17}}) {
    INFO("sample " << g);
    for (int64_t f = 0; f < 26; ++f) {
      CHECK(mask.data<int64_t>()[(g * 26 + f) * per] == (f < real ? 1 : 0));
      if (f >= real) {  // padding frames are zeros
        const Tensor frame = pv[g][f];
        for (int64_t k = 0; k < frame.numel(); ++k) REQUIRE(frame.data<float>()[k] == 0.0f);
      }
    }
  }
  const std::vector<Tensor> rows = bf.list("rows"), cols = bf.list("cols");
  REQUIRE(rows.size() == 3);
  CHECK(values_of<int64_t>(rows[0]) == std::vector<int64_t>{3, 3});
  CHECK(values_of<int64_t>(cols[0]) == std::vector<int64_t>{4, 4});
  CHECK(rows[1].numel() == 0);
  CHECK(values_of<int64_t>(rows[2]) == std::vector<int64_t>{4});
  // run(): every input a sample of its own; without return_tensors one array per sample.
  RunReport report;
  const BatchFeature one =
      proc.prepare(json::object(), CallOptions{}).run({image(8, 12, 2), image(16, 16, 4)}, &report);
  CHECK(report.kept == std::vector<int64_t>{0, 1});  // each input a row (dataset runs)
  const std::vector<Tensor> samples = one.list("pixel_values");
  REQUIRE(samples.size() == 2);
  CHECK(shape_str(samples[0].shape()) == shape_str({17, 3, 16, 16}));
  CHECK(shape_str(samples[1].shape()) == shape_str({17, 3, 16, 16}));
}

TEST_CASE("Idefics3: the layout is inferred with num_channels (1, 3, 4)", "[ops][split_image]") {
  using pipelines::CallOptions;
  using pipelines::ImageProcessor;
  const ImageProcessor proc(pipelines::processor_config_from_json_text(
      R"({"image_processor_type": "Idefics3ImageProcessor", "size": {"longest_edge": 20},
          "max_image_size": {"longest_edge": 8}})",
      "test"));
  CallOptions opts;
  opts.return_tensors = true;
  // An RGBA (H, W, 4) array: channels last, as transformers infers it (not an error).
  const Tensor rgba = tensor_of(Shape{10, 12, 4}, pattern(10 * 12 * 4, 5, 1));
  const BatchFeature inferred = proc.prepare(json::object(), opts).run({InputItem::from_array(rgba, "rgba")});
  const BatchFeature given =
      proc.prepare(json{{"input_data_format", "channels_last"}}, opts).run({InputItem::from_array(rgba, "rgba")});
  CHECK(same_bytes(inferred.tensor("pixel_values"), given.tensor("pixel_values")));
  // (4, H, 3): channels first with 4 channels, as num_channels (1, 3, 4) reads it.
  const Tensor cf = tensor_of(Shape{4, 9, 3}, pattern(4 * 9 * 3, 3, 2));
  const BatchFeature first = proc.prepare(json::object(), opts).run({InputItem::from_array(cf, "cf")});
  const BatchFeature first_given =
      proc.prepare(json{{"input_data_format", "channels_first"}}, opts).run({InputItem::from_array(cf, "cf")});
  CHECK(same_bytes(first.tensor("pixel_values"), first_given.tensor("pixel_values")));
}
