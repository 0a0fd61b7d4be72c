// Hugging Face goldens (a subset with small images, copied into tests/data/golden by
// tests/tools/make_golden_subset.py): every output must have the golden's shape, dtype and
// exact bytes (SHA-256), every error case must raise. Run fused and unfused.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "pipelines/image_processor.h"
#include "tests/common/sha256.h"

using namespace pixelflow;
using nlohmann::json;

namespace {

const std::string kGolden = std::string(PIXELFLOW_TEST_DATA_DIR) + "/golden";


std::vector<json> load_cases() {
  std::ifstream f(kGolden + "/cases.jsonl");
  REQUIRE(f.good());
  std::vector<json> cases;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) cases.push_back(json::parse(line));
  return cases;
}

void run_case(const json& c, bool fuse) {
  auto proc = pipelines::ImageProcessor::from_pretrained(
      std::string(PIXELFLOW_SOURCE_DIR) + "/pipelines/models/" + c["model"].get<std::string>());
  json kwargs = c["call_kwargs"];
  pipelines::CallOptions opts;
  opts.fuse = fuse;
  opts.threads = 2;
  if (kwargs.contains("return_tensors")) {
    opts.return_tensors = !kwargs["return_tensors"].is_null();
    kwargs.erase("return_tensors");
  }
  auto item = [&](const json& in) {
    opts.load_image |= in["kind"] == "load_image";
    return ops::InputItem::file(kGolden + "/" + in["file"].get<std::string>());
  };
  const std::string structure = c["structure"];
  std::vector<std::vector<ops::InputItem>> videos;
  std::vector<ops::InputItem> items;
  if (structure == "videos") {
    for (const auto& v : c["inputs"]) {
      videos.emplace_back();
      for (const auto& in : v) videos.back().push_back(item(in));
    }
  } else {
    for (const auto& in : c["inputs"]) items.push_back(item(in));
    if (structure == "video") videos.push_back(items);
  }
  if (c.contains("segmentation_maps"))
    for (size_t i = 0; i < items.size(); ++i)
      items[i].labels_path = kGolden + "/" + c["segmentation_maps"][i]["file"].get<std::string>();
  INFO("case " << c["id"].get<std::string>() << (fuse ? " (fused)" : " (unfused)"));
  auto call = [&] {
    pipelines::PreparedCall prepared = proc.prepare(kwargs, opts);
    return videos.empty() ? prepared.run(items) : prepared.run_videos(videos);
  };
  if (c.contains("error")) {
    REQUIRE_THROWS_AS(call(), Error);
    return;
  }
  BatchFeature bf = call();
  for (const auto& o : c["outputs"]) {
    const Tensor& t = bf[o["name"].get<std::string>()];
    Shape want_shape = o["shape"].get<Shape>();
    REQUIRE(t.shape() == want_shape);
    REQUIRE(std::string(dtype_name(t.dtype())) == o["dtype"].get<std::string>());
    REQUIRE(test::sha256_hex(t.raw_data(), t.nbytes()) == o["sha256"].get<std::string>());
  }
}

}  // namespace

TEST_CASE("golden subset: outputs are bit-exact, errors are raised", "[golden]") {
  int ran = 0;
  std::set<std::string> classes;
  for (const auto& c : load_cases()) {
    classes.insert(c["processor_class"].get<std::string>());
    run_case(c, true);
    run_case(c, false);
    ++ran;
  }
  REQUIRE(ran >= 60);
  REQUIRE(classes.size() == 18);  // every processor class has golden cases here
}

TEST_CASE("sha256 helper matches the FIPS test vector", "[golden]") {
  REQUIRE(test::sha256_hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  REQUIRE(test::sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
