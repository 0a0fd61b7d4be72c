// Post-processing over files of model outputs (PostProcessLoader, load_logits_npy, the YAML form
// without ops), as `pixelflow run` uses them: the maps equal the op's own
// post_process_semantic_segmentation (verified against Hugging Face elsewhere), batching,
// stacking, errors naming the file, on_error, resume.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "base/errors.h"
#include "graph/npy.h"
#include "ops/post_process_semantic_segmentation/post_process_semantic_segmentation.h"
#include "pipelines/post_processing.h"
#include "pipelines/yaml_pipeline.h"
#include "tests/common/test_config_util.h"

using namespace pixelflow;
using namespace pixelflow::pipelines;
using test_config::TempDir;
using test_config::write_file;

namespace {

// Logits with many exact ties (values on a coarse grid).
Tensor tie_logits(std::mt19937& rng, DType dtype, Shape shape) {
  std::uniform_int_distribution<int> level(-2, 2);
  Tensor t = Tensor::empty(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dtype == DType::kFloat32) t.data<float>()[i] = 0.5f * static_cast<float>(level(rng));
    else t.data<double>()[i] = 0.5 * level(rng);
  }
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// The map of one item, through the op's batch function (the `pixelflow postprocess` path).
Tensor expected_map(const Tensor& item, const std::vector<ops::TargetSize>& size) {
  Shape s = item.shape();
  s.insert(s.begin(), 1);
  return ops::post_process_semantic_segmentation(item.reshape(s), size).at(0);
}

OpSpec seg_op(std::optional<ops::TargetSize> size) {
  nlohmann::json p = nlohmann::json::object();
  if (size) p["target_size"] = {size->first, size->second};
  return {"post_process_semantic_segmentation", p};
}

}  // namespace

TEST_CASE("load_logits_npy: one image's logits, (C, h, w) or (1, C, h, w)", "[post_process_run]") {
  TempDir tmp;
  std::mt19937 rng(1);
  const Tensor a = tie_logits(rng, DType::kFloat32, {4, 5, 6});
  save_npy((tmp.path() / "a.npy").string(), a);
  save_npy((tmp.path() / "b.npy").string(), a.reshape({1, 4, 5, 6}));
  CHECK(same_bytes(load_logits_npy((tmp.path() / "a.npy").string()), a));
  CHECK(same_bytes(load_logits_npy((tmp.path() / "b.npy").string()), a));
  const Tensor d = tie_logits(rng, DType::kFloat64, {3, 2, 2});
  save_npy((tmp.path() / "d.npy").string(), d);
  CHECK(same_bytes(load_logits_npy((tmp.path() / "d.npy").string()), d));

  auto error_of = [&](const std::string& name) {
    try {
      load_logits_npy((tmp.path() / name).string());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  save_npy((tmp.path() / "two.npy").string(), tie_logits(rng, DType::kFloat32, {2, 4, 5, 6}));
  save_npy((tmp.path() / "flat.npy").string(), tie_logits(rng, DType::kFloat32, {5, 6}));
  save_npy((tmp.path() / "int.npy").string(), Tensor::zeros(DType::kInt64, {2, 3, 3}));
  save_npy((tmp.path() / "empty.npy").string(), Tensor::zeros(DType::kFloat32, {0, 3, 3}));
  write_file(tmp.path() / "corrupt.npy", "\x93NUMPY garbage");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"two.npy", "logits for 2 images"}, {"flat.npy", "got shape"}, {"int.npy", "float32"},
      {"empty.npy", "empty logits"},      {"corrupt.npy", ""},       {"missing.npy", ""}};
  for (const auto& [name, needle] : cases) {
    INFO(name);
    const std::string msg = error_of(name);
    CHECK(msg.rfind((tmp.path() / name).string() + ": ", 0) == 0);
    CHECK(msg.find(needle) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

TEST_CASE("PostProcessLoader: maps equal post_process_semantic_segmentation, batched", "[post_process_run]") {
  TempDir tmp;
  std::mt19937 rng(7);
  // Seven items of different sizes, one float64, one saved as (1, C, h, w).
  std::vector<std::string> files;
  std::vector<Tensor> items;
  for (int i = 0; i < 7; ++i) {
    const DType dt = i == 3 ? DType::kFloat64 : DType::kFloat32;
    Tensor t = tie_logits(rng, dt, {5, 6 + i, 9 + 2 * i});
    const std::string path = (tmp.path() / "l").string() + std::to_string(i) + ".npy";
    save_npy(path, i == 5 ? t.reshape({1, 5, 6 + i, 9 + 2 * i}) : t);
    files.push_back(path);
    items.push_back(t);
  }
  CHECK(post_process_output_key({seg_op(std::nullopt)}) == "semantic_segmentation");

  SECTION("a fixed target size: stacked (B, H, W)") {
    PostProcessLoaderOptions o;
    o.batch_size = 3;
    o.threads = 2;
    PostProcessLoader loader({seg_op(ops::TargetSize{13, 70})}, files, o);
    CHECK(loader.num_batches() == 3);
    int64_t b = 0;
    while (auto batch = loader.next()) {
      CHECK(batch->index == b);
      const Tensor maps = batch->features["semantic_segmentation"];
      REQUIRE(maps.shape() == Shape{batch->size(), 13, 70});
      CHECK(maps.dtype() == DType::kInt64);
      CHECK(batch->kept.size() == static_cast<size_t>(batch->size()));
      for (int64_t r = 0; r < batch->size(); ++r)
        CHECK(same_bytes(maps[r], expected_map(items[static_cast<size_t>(b * 3 + r)], {{13, 70}})));
      ++b;
    }
    CHECK(b == 3);
  }
  SECTION("no target size: the logits' size; a list when the sizes differ") {
    PostProcessLoaderOptions o;
    o.batch_size = 4;
    o.start_batch = 1;  // resume: batch 0 is not computed
    PostProcessLoader loader({seg_op(std::nullopt)}, files, o);
    auto batch = loader.next();
    REQUIRE(batch);
    CHECK(batch->index == 1);
    CHECK(batch->inputs == std::vector<std::string>(files.begin() + 4, files.end()));
    CHECK(batch->positions == std::vector<int64_t>{4, 5, 6});
    const std::vector<Tensor> maps = batch->features.list("semantic_segmentation");
    REQUIRE(maps.size() == 3);
    for (size_t r = 0; r < 3; ++r) CHECK(same_bytes(maps[r], expected_map(items[4 + r], {})));
    CHECK_FALSE(loader.next());
  }
  SECTION("on_error: skip leaves bad files out; fail throws after the batches before") {
    write_file(tmp.path() / "l2.npy", "not an npy file");
    save_npy(files[4], tie_logits(rng, DType::kFloat32, {2, 5, 10, 13}));
    PostProcessLoaderOptions o;
    o.batch_size = 3;
    o.on_error = OnError::kSkip;
    PostProcessLoader skip({seg_op(ops::TargetSize{8, 8})}, files, o);
    std::vector<Batch> got;
    while (auto batch = skip.next()) got.push_back(std::move(*batch));
    REQUIRE(got.size() == 3);
    CHECK(got[0].kept == std::vector<int64_t>{0, 1});
    REQUIRE(got[0].failed.size() == 1);
    CHECK(got[0].failed[0].index == 2);
    CHECK(got[0].failed[0].message.rfind(files[2] + ": ", 0) == 0);
    REQUIRE(got[1].failed.size() == 1);
    CHECK(got[1].failed[0].message.find("logits for 2 images") != std::string::npos);
    CHECK(got[1].kept == std::vector<int64_t>{0, 2});
    const Tensor m = got[1].features["semantic_segmentation"];
    REQUIRE(m.shape() == Shape{2, 8, 8});
    CHECK(same_bytes(m[1], expected_map(items[5], {{8, 8}})));

    o.on_error = OnError::kFail;
    PostProcessLoader fail({seg_op(ops::TargetSize{8, 8})}, files, o);
    CHECK_THROWS_WITH(fail.next(), Catch::StartsWith(files[2] + ": "));
    CHECK_FALSE(fail.next());
    o.batch_size = 2;
    PostProcessLoader fail2({seg_op(ops::TargetSize{8, 8})}, files, o);
    CHECK(fail2.next());  // batch 0 (files 0, 1) is delivered
    CHECK_THROWS_WITH(fail2.next(), Catch::StartsWith(files[2] + ": "));
  }
}

TEST_CASE("YAML: a post_process pipeline without ops", "[post_process_run]") {
  const PipelineSpec s = parse_pipeline_yaml(
      "post_process:\n  - post_process_semantic_segmentation: {target_size: [4, 5]}\n"
      "input: {folder: logits}\nbatch_size: 2\noutput: {dir: out}\n",
      "/p/run.yaml");
  CHECK(s.plan.image_ops.empty());
  REQUIRE(s.post_process.size() == 1);
  CHECK(s.post_process[0].params.at("target_size") == nlohmann::json({4, 5}));
  CHECK(s.source->path == "/p/logits");
  for (const std::string key : {"load: {convert_rgb: true}", "labels: []", "video: true", "outputs: {image_key: x}"}) {
    INFO(key);
    CHECK_THROWS_WITH(parse_pipeline_yaml("post_process: [post_process_semantic_segmentation]\n" + key + "\n", "t.yaml"),
                      Catch::Contains("t.yaml:2:1") && Catch::Contains("describes images"));
  }
  CHECK_THROWS_WITH(parse_pipeline_yaml("batch_size: 4\n", "t.yaml"), Catch::Contains("or `post_process:`"));
}
