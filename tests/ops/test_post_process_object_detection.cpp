// post_process_object_detection: cases with known answers (softmax, sigmoid top-k with torch's tie
// order, box conversion and scaling, threshold), op == scalar reference on random and tied
// logits, Hugging Face goldens (data/post_process/object_detection, made by
// tests/tools/make_detection_goldens.py), errors, and the graph op.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "graph/npy.h"
#include "ops/post_process_object_detection/detection_math.h"
#include "ops/post_process_object_detection/post_process_object_detection.h"
#include "pipelines/post_processing.h"

using namespace pixelflow;
using ops::DetectionParams;
using ops::DetectionScoring;
using ops::Detections;
using ops::ItemBoxScale;

namespace {

const std::string kData = std::string(PIXELFLOW_TEST_DATA_DIR) + "/post_process/object_detection";

template <class T>
Tensor make(const Shape& shape, const std::vector<T>& values) {
  Tensor t = Tensor::empty(dtype_of<T>(), shape);
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

Tensor random_tensor(std::mt19937& rng, const Shape& shape, float lo, float hi, bool round) {
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::empty(DType::kFloat32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = round ? std::round(u(rng)) : u(rng);
  return t;
}

DetectionParams params(DetectionScoring s, double threshold, std::optional<int64_t> top_k = std::nullopt) {
  DetectionParams p;
  p.scoring = s;
  p.threshold = threshold;
  p.top_k = top_k;
  return p;
}

bool same(const Detections& a, const Detections& b) {
  if (a.labels != b.labels || a.scores.size() != b.scores.size() || a.boxes.size() != b.boxes.size()) return false;
  for (size_t i = 0; i < a.scores.size(); ++i)
    if (std::memcmp(&a.scores[i], &b.scores[i], sizeof(double)) != 0) return false;
  for (size_t i = 0; i < a.boxes.size(); ++i)
    if (std::memcmp(&a.boxes[i], &b.boxes[i], sizeof(double)) != 0) return false;
  return true;
}

}  // namespace

TEST_CASE("softmax scoring: known answers, threshold is strict, boxes to corners and scaled", "[post_process_object_detection]") {
  // Query 0: equal logits -> 0.25 for every class; query 1: class 1 dominates; query 2: only the
  // dropped "no object" class does.
  const Tensor logits = make<float>({3, 4}, {0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 20});
  const Tensor boxes = make<float>({3, 4}, {0.5f, 0.5f, 0.2f, 0.4f, 0.25f, 0.75f, 0.5f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f});
  Detections d = ops::detect_objects(logits, boxes, std::nullopt, params(DetectionScoring::kSoftmax, 0.2));
  REQUIRE(d.labels == std::vector<int64_t>{0, 1});
  CHECK(d.scores[0] == 0.25);
  CHECK(std::abs(d.scores[1] - std::exp(10.0) / (std::exp(10.0) + 3)) < 1e-6);
  const float hw = 0.5f * 0.2f, hh = 0.5f * 0.4f;
  CHECK(d.boxes[0] == double(0.5f - hw));
  CHECK(d.boxes[1] == double(0.5f - hh));
  CHECK(d.boxes[2] == double(0.5f + hw));
  CHECK(d.boxes[3] == double(0.5f + hh));
  // 0.25 > 0.25 is false: the first query goes.
  d = ops::detect_objects(logits, boxes, std::nullopt, params(DetectionScoring::kSoftmax, 0.25));
  REQUIRE(d.labels == std::vector<int64_t>{1});
  // Scaled by (w, h, w, h) in float32: (h, w) = (100, 201).
  d = ops::detect_objects(logits, boxes, ItemBoxScale{100, 201, DType::kFloat32},
                          params(DetectionScoring::kSoftmax, 0.2));
  CHECK(d.boxes[0] == double((0.5f - hw) * 201.0f));
  CHECK(d.boxes[1] == double((0.5f - hh) * 100.0f));
  CHECK(d.boxes[6] == double((0.25f + 0.25f) * 201.0f));
  // A float64 scale makes the product float64.
  d = ops::detect_objects(logits, boxes, ItemBoxScale{100, 201, DType::kFloat64},
                          params(DetectionScoring::kSoftmax, 0.2));
  CHECK(d.boxes[0] == double(0.5f - hw) * 201.0);
}

TEST_CASE("sigmoid top-k: torch's order for ties, labels and queries from the flat index", "[post_process_object_detection]") {
  // torch.topk(sigmoid([0, 2, -1, 3, 0, 2]), 3) -> indices [3, 5, 1] (nth_element, then sort).
  const Tensor logits = make<float>({2, 3}, {0, 2, -1, 3, 0, 2});
  const Tensor boxes = make<float>({2, 4}, {0.5f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.5f, 0.5f});
  Detections d = ops::detect_objects(logits, boxes, std::nullopt, params(DetectionScoring::kSigmoidTopK, 0.5, 3));
  REQUIRE(d.labels == std::vector<int64_t>{0, 2, 1});  // indices 3, 5, 1
  CHECK(d.scores[0] == double(1.0f / (1.0f + std::exp(-3.0f))));
  CHECK(d.boxes[0] == 0.0);   // query 1: 0.25 - 0.25
  CHECK(d.boxes[4] == 0.0);   // query 1 again
  CHECK(d.boxes[8] == 0.25);  // query 0: 0.5 - 0.25
  // All six (k = 6 of 6): [3, 5, 1, 0, 4, 2]; the 0.5 scores are not > 0.5.
  d = ops::detect_objects(logits, boxes, std::nullopt, params(DetectionScoring::kSigmoidTopK, -1, 1000));
  REQUIRE(d.labels == std::vector<int64_t>{0, 2, 1, 0, 1, 2});
  // top_k 0: nothing; RT-DETR's k = number of queries.
  CHECK(ops::detect_objects(logits, boxes, std::nullopt, params(DetectionScoring::kSigmoidTopK, -1, 0)).size() == 0);
  CHECK(ops::detect_objects(logits, boxes, std::nullopt, params(DetectionScoring::kSigmoidTopK, -1)).size() == 2);
  // torch.topk(zeros(200), 199)[:10] = [37, 25, 26, ..., 33] (libstdc++ nth_element on ties).
  std::vector<std::pair<double, int64_t>> queue;
  for (int64_t i = 0; i < 200; ++i) queue.emplace_back(0.0, i);
  ops::detection::torch_top_k(queue, 199);
  const std::vector<int64_t> want = {37, 25, 26, 27, 28, 29, 30, 31, 32, 33};
  for (size_t i = 0; i < want.size(); ++i) CHECK(queue[i].second == want[i]);
}

TEST_CASE("the op equals the scalar reference on random and tied logits", "[post_process_object_detection]") {
  std::mt19937 rng(7);
  for (auto scoring : {DetectionScoring::kSoftmax, DetectionScoring::kMax, DetectionScoring::kSigmoidTopK}) {
    for (auto [q, c] : {std::pair<int64_t, int64_t>{1, 2}, {5, 3}, {100, 92}, {300, 91}, {17, 40}}) {
      for (bool ties : {false, true}) {
        for (double thr : {-1.0, 0.3, 0.7}) {
          const Tensor logits = random_tensor(rng, {q, c}, -6, 6, ties);
          const Tensor boxes = random_tensor(rng, {q, 4}, 0, 1, false);
          std::optional<ItemBoxScale> scale;
          if (thr > 0) scale = ItemBoxScale{480, 641, thr > 0.5 ? DType::kFloat64 : DType::kFloat32};
          for (std::optional<int64_t> k : {std::optional<int64_t>{}, std::optional<int64_t>{100}, std::optional<int64_t>{3}}) {
            const DetectionParams p = params(scoring, thr, k);
            INFO(ops::detection_scoring_name(scoring) << " " << q << "x" << c << " ties " << ties << " thr " << thr);
            CHECK(same(ops::detect_objects(logits, boxes, scale, p), ops::detect_objects_reference(logits, boxes, scale, p)));
          }
        }
      }
    }
  }
}

TEST_CASE("Hugging Face goldens, through pipelines::post_process_object_detection", "[post_process_object_detection]") {
  std::ifstream f(kData + "/cases.json");
  REQUIRE(f.good());
  const auto index = nlohmann::json::parse(f);
  int64_t values = 0, bit_equal = 0;
  for (const auto& c : index["cases"]) {
    const std::string name = c["name"];
    INFO(name);
    const Tensor logits = load_npy(kData + "/" + name + "_logits.npy");
    const Tensor boxes = load_npy(kData + "/" + name + "_boxes.npy");
    pipelines::DetectionOptions opts;
    opts.threshold = c["threshold"].get<double>();
    if (c.contains("target_sizes")) {
      opts.target_sizes.emplace();
      for (const auto& t : c["target_sizes"]) opts.target_sizes->emplace_back(t[0].get<double>(), t[1].get<double>());
    }
    if (c.contains("top_k")) opts.top_k = c["top_k"].get<int64_t>();
    if (c.contains("use_focal_loss")) opts.use_focal_loss = c["use_focal_loss"].get<bool>();
    const auto results = pipelines::post_process_object_detection(c["class"], logits, boxes, opts);
    REQUIRE(static_cast<int64_t>(results.size()) == c["batch"].get<int64_t>());
    for (size_t i = 0; i < results.size(); ++i) {
      const std::string stem = kData + "/" + name + "_" + std::to_string(i);
      const Tensor scores = load_npy(stem + "_scores.npy"), labels = load_npy(stem + "_labels.npy"),
                   out_boxes = load_npy(stem + "_out_boxes.npy");
      REQUIRE(results[i].labels.shape() == labels.shape());
      REQUIRE(results[i].scores.dtype() == DType::kFloat32);
      REQUIRE(results[i].boxes.shape() == out_boxes.shape());
      for (int64_t j = 0; j < labels.numel(); ++j) REQUIRE(results[i].labels.data<int64_t>()[j] == labels.data<int64_t>()[j]);
      auto compare = [&](const Tensor& got, const Tensor& want) {
        for (int64_t j = 0; j < want.numel(); ++j) {
          const float g = got.data<float>()[j], w = want.data<float>()[j];
          CHECK(std::abs(g - w) <= 1e-6f * std::max(1.0f, std::abs(w)));
          ++values;
          bit_equal += g == w;
        }
      };
      compare(results[i].scores, scores);
      compare(results[i].boxes, out_boxes);
    }
  }
  WARN("object detection goldens: " << bit_equal << " of " << values << " float values bit-equal to transformers'");
  CHECK(bit_equal * 10 >= values * 9);
}

TEST_CASE("errors where transformers raises, and refused classes and arguments", "[post_process_object_detection]") {
  const Tensor logits = make<float>({1, 2, 3}, {0, 1, 2, 3, 4, 5});
  const Tensor boxes = make<float>({1, 2, 4}, {0, 0, 0, 0, 0, 0, 0, 0});
  pipelines::DetectionOptions opts;
  opts.target_sizes = std::vector<std::pair<double, double>>{{1, 1}, {2, 2}};
  CHECK_THROWS_WITH(pipelines::post_process_object_detection("DetrImageProcessor", logits, boxes, opts),
                    Catch::Contains("Make sure that you pass in as many target sizes"));
  CHECK_THROWS_AS(pipelines::post_process_object_detection("CLIPImageProcessor", logits, boxes), ConfigError);
  CHECK_THROWS_WITH(pipelines::post_process_object_detection("CLIPImageProcessor", logits, boxes),
                    Catch::Contains("DetrImageProcessor"));
  pipelines::DetectionOptions top;
  top.top_k = 5;
  CHECK_THROWS_AS(pipelines::post_process_object_detection("DetrImageProcessor", logits, boxes, top), ConfigError);
  CHECK_NOTHROW(pipelines::post_process_object_detection("DeformableDetrImageProcessorFast", logits, boxes, top));
  top.top_k = -1;
  CHECK_THROWS_AS(pipelines::post_process_object_detection("ConditionalDetrImageProcessor", logits, boxes, top),
                  InputError);
  pipelines::DetectionOptions focal;
  focal.use_focal_loss = false;
  CHECK_THROWS_AS(pipelines::post_process_object_detection("YolosImageProcessor", logits, boxes, focal), ConfigError);
  CHECK(pipelines::post_process_object_detection("RTDetrImageProcessor", logits, boxes, focal).size() == 1);
  // Shapes and dtypes.
  CHECK_THROWS_AS(pipelines::post_process_object_detection("DetrImageProcessor", logits[0], boxes), InputError);
  CHECK_THROWS_AS(pipelines::post_process_object_detection("DetrImageProcessor", logits, logits), InputError);
  CHECK_THROWS_AS(pipelines::post_process_object_detection("DetrImageProcessor", make<int64_t>({1, 2, 3}, {}), boxes),
                  InputError);
  // One class is the "no object" class only: nothing to take the max over.
  CHECK_THROWS_AS(pipelines::post_process_object_detection("DetrImageProcessor", make<float>({1, 2, 1}, {0, 0}), boxes),
                  InputError);
  // An empty batch.
  CHECK(pipelines::post_process_object_detection("DetrImageProcessor", make<float>({0, 2, 3}, {}),
                                                 make<float>({0, 2, 4}, {})).empty());
  CHECK(pipelines::has_object_detection("DetrImageProcessorPil"));
  CHECK_FALSE(pipelines::has_object_detection("ViTImageProcessor"));
}

TEST_CASE("the graph op: parameters, infer, attributes", "[post_process_object_detection]") {
  CHECK_THROWS_AS(ops::PostProcessObjectDetectionOp(nlohmann::json{{"scoring", "argmax"}}), ConfigError);
  CHECK_THROWS_AS(ops::PostProcessObjectDetectionOp(nlohmann::json{{"top_k", -2}}), ConfigError);
  CHECK_THROWS_AS(ops::PostProcessObjectDetectionOp(nlohmann::json{{"threshold", "high"}}), ConfigError);
  CHECK_THROWS_AS(ops::PostProcessObjectDetectionOp(nlohmann::json{{"target_size", {1}}}), ConfigError);
  ops::PostProcessObjectDetectionOp op(nlohmann::json{{"scoring", "sigmoid_top_k"}, {"threshold", 0.0}});
  CHECK(op.params().top_k == 100);
  CHECK(op.infer({DType::kFloat32, {300, 91}}) == TensorSpec{DType::kFloat64, {100, 6}});
  CHECK(op.infer({DType::kFloat32, {5, 3}}) == TensorSpec{DType::kFloat64, {15, 6}});
  Sample s;
  s.image = make<float>({2, 3}, {0, 2, -1, 3, 0, 2});
  ExecContext ctx;
  CHECK_THROWS_AS(op.run(s, ctx, true), InputError);  // no boxes
  s.attributes.set(ops::ItemPredBoxes{make<float>({2, 4}, {0.5f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.5f, 0.5f})});
  s.attributes.set(ItemBoxScale{10, 20, DType::kFloat32});
  op.run(s, ctx, true);
  REQUIRE(s.image.shape() == Shape{6, 6});
  const double* row = s.image.data<double>();
  CHECK(row[1] == 0);                    // label of flat index 3
  CHECK(row[2] == 0.0);                  // x0 of query 1
  CHECK(row[6 * 2 + 2] == 0.25 * 20);    // x0 of query 0, scaled by w = 20
  CHECK(s.attributes.get<ops::ItemPredBoxes>() == nullptr);
}
