// The graph layer: .npy I/O, BatchFeature, DLPack export, the flow-graph executor (order,
// errors, batching) and the builder (fused and unfused plans give the same bytes).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "graph/batch_feature.h"
#include "registry/builder.h"
#include "base/errors.h"
#include "graph/npy.h"
#include "graph/pipeline.h"
#include "registry/registry.h"

using namespace pixelflow;
namespace fs = std::filesystem;

namespace {

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// Random uint8 RGB images of varied sizes; image `fail_at` throws.
class RandomLoader final : public Loader {
 public:
  RandomLoader(int64_t n, uint32_t seed, int64_t fail_at = -1, bool same_size = false)
      : n_(n), seed_(seed), fail_every_(0), fail_at_(fail_at), same_size_(same_size) {}
  // Every input whose index is a multiple of `every` (from `first`) fails.
  static RandomLoader failing_every(int64_t n, uint32_t seed, int64_t first, int64_t every) {
    RandomLoader l(n, seed, first);
    l.fail_every_ = every;
    return l;
  }
  int64_t size() const override { return n_; }
  void load(Sample& s, const ExecContext& ctx) const override {
    s.source = "img" + std::to_string(s.index);
    if (s.index == fail_at_ || (fail_every_ > 0 && s.index >= fail_at_ && (s.index - fail_at_) % fail_every_ == 0))
      throw InputError("synthetic failure");
    std::mt19937 rng(seed_ + static_cast<uint32_t>(s.index));
    int64_t h = same_size_ ? 40 : 20 + rng() % 60, w = same_size_ ? 50 : 20 + rng() % 60;
    s.image = ctx.new_tensor(DType::kUInt8, {h, w, 3});
    for (int64_t i = 0; i < s.image.numel(); ++i) s.image.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  }

 private:
  int64_t n_;
  uint32_t seed_;
  int64_t fail_every_;
  int64_t fail_at_;
  bool same_size_;
};

std::vector<OpSpec> clip_like_plan(int resample) {
  return {
      {"resize", {{"size", {{"shortest_edge", 32}}}, {"resample", resample}}},
      {"center_crop", {{"crop_size", {{"height", 30}, {"width", 28}}}}},
      {"rescale", {{"rescale_factor", 1 / 255.0}}},
      {"normalize", {{"image_mean", {0.48145466, 0.4578275, 0.40821073}},
                     {"image_std", {0.26862954, 0.26130258, 0.27577711}}}},
      {"to_channel_dimension_format", {{"data_format", "channels_first"}}},
  };
}

}  // namespace

TEST_CASE("npy round trip for every dtype", "[npy]") {
  auto dir = fs::temp_directory_path() / "pixelflow_test_npy";
  fs::create_directories(dir);
  for (DType t : {DType::kBool, DType::kUInt8, DType::kUInt16, DType::kInt32, DType::kInt64,
                  DType::kFloat32, DType::kFloat64}) {
    Tensor a = Tensor::empty(t, {2, 3, 5});
    auto* p = static_cast<uint8_t*>(a.raw_data());
    for (size_t i = 0; i < a.nbytes(); ++i) p[i] = static_cast<uint8_t>(t == DType::kBool ? i % 2 : i * 7);
    std::string path = (dir / (std::string(dtype_name(t)) + ".npy")).string();
    save_npy(path, a);
    Tensor b = load_npy(path);
    REQUIRE(same_bytes(a, b));
  }
  // Header is padded to 64 bytes as NumPy does.
  std::string bytes = npy_bytes(Tensor::zeros(DType::kFloat32, {1, 3, 224, 224}));
  REQUIRE(bytes.substr(0, 6) == "\x93NUMPY");
  REQUIRE((10 + (uint8_t(bytes[8]) | uint8_t(bytes[9]) << 8)) % 64 == 0);
  REQUIRE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("npy reader refuses malformed files with the file named", "[npy]") {
  std::string good = npy_bytes(Tensor::zeros(DType::kUInt8, {4, 4}));
  REQUIRE_THROWS_WITH(parse_npy(good.data(), good.size() - 3, "x.npy"), Catch::Contains("x.npy: truncated"));
  REQUIRE_THROWS_WITH(parse_npy("hello", 5, "y.npy"), Catch::Contains("y.npy: not a .npy file"));
  std::string odd = good;
  odd.replace(odd.find("|u1"), 3, "<c8");
  REQUIRE_THROWS_WITH(parse_npy(odd.data(), odd.size(), "z.npy"), Catch::Contains("unsupported .npy dtype"));
  // Fortran order is transposed into C order.
  std::string f = npy_bytes(Tensor::zeros(DType::kUInt8, {2, 3}));
  f.replace(f.find("False"), 5, "True ");
  size_t body = f.size() - 6;
  for (int i = 0; i < 6; ++i) f[body + i] = static_cast<char>(i);  // column-major 0..5
  Tensor t = parse_npy(f.data(), f.size(), "f.npy");
  const uint8_t want[6] = {0, 2, 4, 1, 3, 5};
  REQUIRE(std::memcmp(t.raw_data(), want, 6) == 0);
}

TEST_CASE("BatchFeature access, device moves and DLPack export", "[batch_feature]") {
  BatchFeature bf;
  Tensor t = Tensor::zeros(DType::kFloat32, {2, 3, 4, 4});
  bf.set("pixel_values", t);
  REQUIRE(bf.contains("pixel_values"));
  REQUIRE(bf.keys() == std::vector<std::string>{"pixel_values"});
  REQUIRE(bf["pixel_values"].shape() == Shape{2, 3, 4, 4});
  REQUIRE(bf.list("pixel_values").size() == 2);
  REQUIRE_THROWS_WITH(bf["labels"], Catch::Contains("keys: pixel_values"));
  REQUIRE(&bf.to("cpu") == &bf);
  REQUIRE_THROWS_WITH(bf.to("cuda"), Catch::Contains("cpu"));

  DLManagedTensor* dl = bf.to_dlpack("pixel_values");
  REQUIRE(dl->dl_tensor.data == t.raw_data());  // zero copy
  REQUIRE(dl->dl_tensor.ndim == 4);
  REQUIRE(dl->dl_tensor.shape[1] == 3);
  REQUIRE(dl->dl_tensor.strides[0] == 48);
  REQUIRE(dl->dl_tensor.dtype.code == kDLFloat);
  REQUIRE(dl->dl_tensor.dtype.bits == 32);
  REQUIRE(dl->dl_tensor.device.device_type == kDLCPU);
  long uses = t.storage().use_count();
  dl->deleter(dl);
  REQUIRE(t.storage().use_count() == uses - 1);
}

// Through the graph (batched outputs); tests/registry/test_builder.cpp compares the ops directly
// over more plans, sizes and dtypes.
TEST_CASE("fused and unfused plans give the same bytes", "[builder]") {
  for (int resample : {0, 1, 2, 3, 4, 5}) {
    auto fused = build_ops(clip_like_plan(resample), {true});
    auto unfused = build_ops(clip_like_plan(resample), {false});
    REQUIRE(fused.size() == 2);  // resize+center_crop, rescale+normalize+layout
    REQUIRE(unfused.size() == 5);
    Pipeline pf(fused), pu(unfused);
    RandomLoader loader(9, 100 + resample, -1, /*same_size=*/false);
    BatchFeature a = pf.run(loader, {2, 0});
    BatchFeature b = pu.run(loader, {1, 0});
    REQUIRE(a["pixel_values"].shape() == Shape{9, 3, 30, 28});
    REQUIRE(same_bytes(a["pixel_values"], b["pixel_values"]));
  }
}

TEST_CASE("the graph keeps input order and reports the first failing input", "[pipeline]") {
  Pipeline p(build_ops(clip_like_plan(3)));
  RandomLoader loader(40, 7);
  BatchFeature many = p.run(loader, {2, 3});
  for (int64_t i = 0; i < 40; ++i) {
    Sample s;
    s.index = i;
    p.run_sample(s, loader);
    REQUIRE(std::memcmp(many["pixel_values"][i].raw_data(), s.image.raw_data(), s.image.nbytes()) == 0);
  }
  RandomLoader bad(20, 7, 13);
  REQUIRE_THROWS_WITH(p.run(bad, {2, 0}), Catch::Equals("img13: synthetic failure"));
  // Unordered: rows in completion order, the same bytes per input, the first error by input.
  RunOptions unordered{2, 5};
  unordered.ordered = false;
  RunReport report;
  BatchFeature any = p.run(loader, unordered, {}, &report);
  REQUIRE(report.kept.size() == 40);
  for (size_t j = 0; j < 40; ++j)
    REQUIRE(same_bytes(any["pixel_values"][static_cast<int64_t>(j)], many["pixel_values"][report.kept[j]]));
  RandomLoader two_bad = RandomLoader::failing_every(20, 7, 5, 6);  // 5, 11, 17
  REQUIRE_THROWS_WITH(p.run(two_bad, unordered), Catch::Equals("img5: synthetic failure"));
}

TEST_CASE("on_error=skip leaves failed inputs out, keeps the others in order, reports each", "[pipeline]") {
  Pipeline p(build_ops(clip_like_plan(2)));
  RandomLoader good(30, 11);
  BatchFeature all = p.run(good, {2, 4});
  for (bool stacked : {true, false}) {
    for (int threads : {1, 2}) {
     for (bool ordered : {true, false}) {
      RandomLoader bad = RandomLoader::failing_every(30, 11, 3, 7);  // 3, 10, 17, 24
      RunOptions run{threads, 3};
      run.skip_failed = true;
      run.ordered = ordered;
      OutputOptions out;
      out.stacked = stacked;
      RunReport report;
      BatchFeature bf = p.run(bad, run, out, &report);
      REQUIRE(report.failed.size() == 4);
      for (size_t k = 0; k < report.failed.size(); ++k) {
        REQUIRE(report.failed[k].index == 3 + 7 * static_cast<int64_t>(k));
        REQUIRE(report.failed[k].message == "img" + std::to_string(report.failed[k].index) + ": synthetic failure");
      }
      REQUIRE(report.kept.size() == 26);
      std::vector<int64_t> sorted_kept = report.kept;
      std::sort(sorted_kept.begin(), sorted_kept.end());
      REQUIRE(std::adjacent_find(sorted_kept.begin(), sorted_kept.end()) == sorted_kept.end());
      if (ordered) REQUIRE(sorted_kept == report.kept);
      for (size_t j = 0; j < report.kept.size(); ++j) {
        REQUIRE(report.kept[j] % 7 != 3);
        Tensor row = stacked ? bf["pixel_values"][static_cast<int64_t>(j)] : bf.list("pixel_values")[j];
        REQUIRE(same_bytes(row, all["pixel_values"][report.kept[j]]));
      }
      if (stacked) REQUIRE(bf["pixel_values"].dim(0) == 26);
     }
    }
  }
  RunOptions run;
  run.skip_failed = true;
  REQUIRE_THROWS(p.run(good, run));  // a RunReport is required
  RunReport report;
  RandomLoader none = RandomLoader::failing_every(5, 1, 0, 1);  // every input fails
  BatchFeature empty = p.run(none, run, {}, &report);
  REQUIRE(report.failed.size() == 5);
  REQUIRE(report.kept.empty());
  REQUIRE(empty.keys().empty());
}

TEST_CASE("stacking outputs of different shapes is an error, lists are not", "[pipeline]") {
  Pipeline p(build_ops({{"resize", {{"size", {{"shortest_edge", 16}}}, {"resample", 2}}}}));
  RandomLoader loader(4, 1);
  REQUIRE_THROWS_WITH(p.run(loader), Catch::Contains("cannot be stacked"));
  OutputOptions lists;
  lists.stacked = false;
  BatchFeature bf = p.run(loader, {}, lists);
  REQUIRE(bf.list("pixel_values").size() == 4);
}

namespace {

// An op that fails with a ConfigError on images wider than `max_width` (a stand-in for any op
// error), to see what context the engine adds.
class FailingOp final : public Op {
 public:
  explicit FailingOp(int64_t max_width) : max_width_(max_width) {}
  std::string name() const override { return "failing_op"; }
  TensorSpec infer(const TensorSpec& in) const override { return in; }
  void run(Sample& s, const ExecContext&, bool) const override {
    if (s.image.dim(1) > max_width_) throw ConfigError("max_width", "image too wide");
  }

 private:
  int64_t max_width_;
};

}  // namespace

TEST_CASE("an op's error keeps its type and gains the op and the input, fused or not", "[pipeline][errors]") {
  // Inputs are 20..79 wide: the first one wider than 50 fails; its type, key and problem survive
  // the flow graph, with the op and the input added as fields and the input in the message.
  RandomLoader loader(12, 9);
  Pipeline p({std::make_shared<FailingOp>(50)});
  for (int threads : {1, 2}) {
    RunOptions run;
    run.threads = threads;
    try {
      p.run(loader, run);
      FAIL("no error");
    } catch (const ConfigError& e) {
      CHECK(e.key_path() == "max_width");
      CHECK(e.problem() == "image too wide");
      CHECK(e.op() == "failing_op");
      CHECK(e.source().rfind("img", 0) == 0);
      CHECK(std::string(e.what()) == e.source() + ": max_width: image too wide");
    }
  }
  // The same through run_sample (no flow graph).
  Sample s;
  s.index = 0;
  for (; s.index < 12; ++s.index) {
    try {
      p.run_sample(s, loader);
    } catch (const ConfigError& e) {
      CHECK(e.op() == "failing_op");
      break;
    }
  }
  CHECK(s.index < 12);
}

TEST_CASE("ConfigError context: key prefixes and locations are fields, the message follows", "[errors]") {
  ConfigError e("size.height", "must be positive");
  e.add_key_prefix("resize");
  CHECK(e.key_path() == "resize.size.height");
  CHECK(std::string(e.what()) == "resize.size.height: must be positive");
  e.add_where("p.yaml:3:7");
  CHECK(std::string(e.what()) == "p.yaml:3:7: resize.size.height: must be positive");
  e.add_where("other");  // the innermost location wins
  CHECK(e.where() == "p.yaml:3:7");
  e.add_source("a.jpg");
  CHECK(std::string(e.what()) == "a.jpg: p.yaml:3:7: resize.size.height: must be positive");
  DecodeError d("a.jpg", "truncated\nfile");
  d.add_source("a.jpg");  // the message names it already
  CHECK(std::string(d.what()) == "a.jpg: truncated\\nfile");
  CHECK(d.problem() == "truncated\nfile");
}
