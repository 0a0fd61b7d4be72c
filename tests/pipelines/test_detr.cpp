// The DETR family: the resize rules (detr_resize, max_height / max_width), Batching::kPad
// (bottom / right padding + pixel_mask) and COCO-detection annotations -> labels. Expected values
// from transformers 5.0 (get_size_with_aspect_ratio, Yolos's copy, get_image_size_for_max_height_width,
// DetrImageProcessor()([480x640, 300x200], annotations=...)).
#include <catch2/catch.hpp>

#include <cstring>

#include "ops/resize/resize_op.h"
#include "pipelines/image_processor.h"
#include "pipelines/processor_config.h"

using namespace pixelflow;
using namespace pixelflow::pipelines;
using nlohmann::json;

namespace {

std::pair<int64_t, int64_t> out(const json& params, int64_t h, int64_t w) {
  return ops::ResizeRule::from_params(params).output_size(h, w);
}

ops::InputItem zeros(int64_t h, int64_t w) {
  Tensor t = Tensor::zeros(DType::kUInt8, {h, w, 3});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(i * 7);
  return ops::InputItem::from_array(t, "img");
}

ImageProcessor detr() {
  ProcessorConfig cfg = processor_config_from_dict(json{{"image_processor_type", "DetrImageProcessor"}}, "test");
  return ImageProcessor(std::move(cfg));
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace

TEST_CASE("detr_resize: DETR's get_size_with_aspect_ratio (round(), int())", "[detr][resize]") {
  const json p = {{"detr_resize", {{"shortest_edge", 800}, {"longest_edge", 1333}}}};
  using P = std::pair<int64_t, int64_t>;
  CHECK(out(p, 480, 640) == P{800, 1066});
  CHECK(out(p, 640, 480) == P{1066, 800});
  CHECK(out(p, 1, 2000) == P{1, 2000});
  CHECK(out(p, 2000, 1) == P{2000, 1});
  CHECK(out(p, 33, 700) == P{63, 1333});
  CHECK(out(p, 800, 800) == P{800, 800});
  CHECK(out(p, 799, 1201) == P{800, 1202});
  CHECK(out(p, 100, 2000) == P{67, 1333});
  CHECK(out(p, 1333, 800) == P{1333, 800});
  const json nomax = {{"detr_resize", {{"shortest_edge", 800}, {"longest_edge", nullptr}}}};
  CHECK(out(nomax, 480, 640) == P{800, 1066});
  CHECK(out(nomax, 1, 2000) == P{800, 1600000});
}

TEST_CASE("detr_resize with yolos: width < height first, multiples of 16", "[detr][resize]") {
  const json p = {{"detr_resize", {{"shortest_edge", 800}, {"longest_edge", 1333}, {"yolos", true}}}};
  using P = std::pair<int64_t, int64_t>;
  CHECK(out(p, 480, 640) == P{800, 1056});
  CHECK(out(p, 640, 480) == P{1056, 800});
  CHECK(out(p, 1, 2000) == P{0, 2000});
  CHECK(out(p, 2000, 1) == P{1328, 0});
  CHECK(out(p, 33, 700) == P{48, 1328});
  CHECK(out(p, 799, 1201) == P{800, 1200});
  CHECK(out(p, 100, 2000) == P{64, 1328});
  CHECK(out(p, 1333, 800) == P{1328, 800});
}

TEST_CASE("size {max_height, max_width}: get_image_size_for_max_height_width", "[detr][resize]") {
  const json p = {{"size", {{"max_height", 500}, {"max_width", 300}}}};
  using P = std::pair<int64_t, int64_t>;
  CHECK(out(p, 480, 640) == P{225, 300});
  CHECK(out(p, 640, 480) == P{400, 300});
  CHECK(out(p, 33, 700) == P{14, 300});
  CHECK(out(p, 799, 1201) == P{199, 300});
  CHECK(out(p, 1333, 800) == P{499, 300});
}

TEST_CASE("DetrImageProcessor pads to the batch's largest with pixel_mask, labels as transformers", "[detr][pad]") {
  const ImageProcessor proc = detr();
  for (bool stacked : {true, false}) {
    INFO("return_tensors " << stacked);
    CallOptions opts;
    opts.return_tensors = stacked;
    std::vector<ops::InputItem> items = {zeros(480, 640), zeros(300, 200)};
    const json ann = json::parse(R"({"image_id": 7, "annotations": [
      {"bbox": [10.5, 20, 100, 50], "category_id": 3, "area": 5000.0},
      {"bbox": [-5, -5, 30, 1000], "category_id": 1, "area": 12.0, "iscrowd": 0},
      {"bbox": [1, 1, 0, 5], "category_id": 2, "area": 1.0},
      {"bbox": [1, 1, 5, 5], "category_id": 2, "area": 1.0, "iscrowd": 1}]})");
    for (auto& item : items) item.annotation = std::make_shared<const json>(ann);
    const BatchFeature bf = proc.prepare(json::object(), opts).run(std::move(items));
    const std::vector<Tensor> pv = bf.list("pixel_values"), mask = bf.list("pixel_mask");
    REQUIRE(pv.size() == 2);
    CHECK(pv[1].shape() == Shape{3, 1200, 1066});
    CHECK(mask[1].shape() == Shape{1200, 1066});
    CHECK(mask[1].dtype() == DType::kInt64);
    int64_t ones = 0;
    for (int64_t i = 0; i < mask[1].numel(); ++i) ones += mask[1].data<int64_t>()[i];
    CHECK(ones == 1200 * 800);
    CHECK(pv[1][0].data<float>()[1065] == 0.0f);  // padding: zeros after normalize
    const std::vector<Tensor> size = bf.list("labels.size"), boxes = bf.list("labels.boxes"),
                              area = bf.list("labels.area"), classes = bf.list("labels.class_labels");
    CHECK(bf.keys() == std::vector<std::string>{"pixel_values", "pixel_mask", "labels.size", "labels.image_id",
                                                "labels.class_labels", "labels.boxes", "labels.area",
                                                "labels.iscrowd", "labels.orig_size"});
    CHECK(size[0].data<int64_t>()[0] == 1200);
    CHECK(size[0].data<int64_t>()[1] == 1066);
    REQUIRE(boxes[0].shape() == Shape{2, 4});
    CHECK(classes[0].data<int64_t>()[0] == 3);
    CHECK(classes[0].data<int64_t>()[1] == 1);
    const uint32_t want[8] = {1036097945, 1031798784, 1042284544, 1032730851,
                              1017118720, 1051372203, 1025507328, 1059760811};
    for (int k = 0; k < 8; ++k) CHECK(bits(boxes[0].data<float>()[k]) == want[k]);
    CHECK(bits(area[0].data<float>()[0]) == 1180229846u);
    CHECK(bits(area[0].data<float>()[1]) == 1107640320u);
    CHECK(bf.list("labels.orig_size")[1].data<int64_t>()[0] == 300);
  }
}

TEST_CASE("DETR errors name the key", "[detr][errors]") {
  const ImageProcessor proc = detr();
  CHECK_THROWS_WITH(proc.prepare({{"size", {{"shortest_edge", 800}}}}),
                    Catch::Contains("size") && Catch::Contains("'shortest_edge' and 'longest_edge'"));
  CHECK_THROWS_WITH(proc.prepare({{"format", "coco"}}), Catch::Contains("format"));
  std::vector<ops::InputItem> items = {zeros(40, 40)};
  items[0].annotation = std::make_shared<const json>(json{{"image_id", 1}});
  CHECK_THROWS_WITH(proc.prepare().run(std::move(items)), Catch::Contains("annotations") &&
                                                              Catch::Contains("Invalid COCO detection annotations"));
  std::vector<ops::InputItem> big = {zeros(40, 40)};
  CHECK_THROWS_WITH(proc.prepare({{"pad_size", {{"height", 10}, {"width", 10}}}}).run(std::move(big)),
                    Catch::Contains("pad_size"));
}
