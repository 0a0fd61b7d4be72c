// VLM and detection goldens (tests/data/golden_vlm/: qwen2vl made by
// tests/tools/make_qwen2vl_golden.py, tiling (GOT-OCR2, Gemma 3, LLaVA-NeXT, LLaVA-OneVision, Idefics3,
// SmolVLM and the DETR family) by tests/tools/make_tiling_golden.py, both with transformers' PIL backend): every
// output must have the golden's shape, dtype and exact bytes (SHA-256); every error case must
// raise the error Hugging Face's condition maps to, naming the input it is about. The configs are
// files of the golden folder; "groups" cases (samples of several images) run through
// PreparedCall::run_groups. Run fused and unfused.
#include <catch2/catch.hpp>

#include <set>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "base/sha256.h"
#include "pipelines/image_processor.h"
#include "tests/common/test_config_util.h"

using namespace pixelflow;
using nlohmann::json;

namespace {

const std::string kGoldenVlm = std::string(PIXELFLOW_TEST_DATA_DIR) + "/golden_vlm/";

// Hugging Face's error (type, message prefix) -> pixelflow's error class and a phrase its problem
// must state. A golden error missing here fails the test.
struct VlmError {
  const char* hf_type;
  const char* hf_message_prefix;
  const char* phrase;
};
const VlmError kVlmErrors[] = {
    {"ValueError", "absolute aspect ratio must be smaller than 200", "absolute aspect ratio must be smaller than 200"},
    {"ValueError", "cannot reshape array", "cannot be cut into"},  // do_resize false, sides not multiples of M * P
};

void run_vlm_case(const std::string& folder, const json& c, bool fuse) {
  const std::string dir = kGoldenVlm + folder + "/";
  const std::string config_path = dir + c["config"].get<std::string>();
  pipelines::ImageProcessor proc(
      pipelines::processor_config_from_json_text(test_config::read_file(config_path), config_path));
  REQUIRE(proc.class_name() == c["processor_class"].get<std::string>());
  json kwargs = c["call_kwargs"];
  pipelines::CallOptions opts;
  opts.fuse = fuse;
  opts.threads = 2;
  if (kwargs.contains("return_tensors")) {
    opts.return_tensors = !kwargs["return_tensors"].is_null();
    kwargs.erase("return_tensors");
  }
  std::vector<ops::InputItem> items;
  for (const auto& in : c["inputs"]) items.push_back(ops::InputItem::file(dir + in["file"].get<std::string>()));
  INFO("case " << folder << "/" << c["id"].get<std::string>() << (fuse ? " (fused)" : " (unfused)"));
  auto call = [&] {
    if (!c.contains("groups")) return proc.prepare(kwargs, opts).run(items);
    std::vector<std::vector<ops::InputItem>> groups;
    for (const auto& g : c["groups"]) {
      groups.emplace_back();
      for (const auto& i : g) groups.back().push_back(items.at(i.get<size_t>()));
    }
    return proc.prepare(kwargs, opts).run_groups(std::move(groups));
  };
  if (c.contains("error")) {
    const json& want = c["error"];
    const std::string hf_type = want["type"], hf_message = want["message"];
    INFO("Hugging Face raised " << hf_type << ": " << hf_message);
    const VlmError* cond = nullptr;
    for (const auto& k : kVlmErrors)
      if (hf_type == k.hf_type && hf_message.rfind(k.hf_message_prefix, 0) == 0) cond = &k;
    REQUIRE(cond != nullptr);
    const std::string file = c["inputs"][want["input"].get<size_t>()]["file"];
    try {
      call();
    } catch (const InputError& e) {
      INFO("pixelflow raised: " << e.what());
      CHECK_THAT(e.problem(), Catch::Contains(cond->phrase));
      CHECK_THAT(e.what(), Catch::Contains(file));
      return;
    }
    FAIL("no InputError, where Hugging Face raised one");
  }
  BatchFeature bf = call();
  CHECK(bf.keys().size() == c["outputs"].size());
  for (const auto& o : c["outputs"]) {
    INFO("output " << o["name"].get<std::string>());
    const Tensor& t = bf[o["name"].get<std::string>()];
    REQUIRE(t.shape() == o["shape"].get<Shape>());
    REQUIRE(std::string(dtype_name(t.dtype())) == o["dtype"].get<std::string>());
    REQUIRE(sha256_hex(std::string_view(static_cast<const char*>(t.raw_data()), t.nbytes())) ==
            o["sha256"].get<std::string>());
  }
}

}  // namespace

TEST_CASE("Qwen2-VL goldens: outputs are bit-exact, errors are Hugging Face's", "[golden][qwen2vl]") {
  int ran = 0, errors = 0;
  for (const auto& c : test_config::read_jsonl(kGoldenVlm + "qwen2vl/cases.jsonl")) {
    run_vlm_case("qwen2vl", c, true);
    run_vlm_case("qwen2vl", c, false);
    ++ran;
    errors += c.contains("error");
  }
  REQUIRE(ran >= 15);
  REQUIRE(errors >= 3);
}

TEST_CASE("tiling VLM and DETR-family goldens: outputs are bit-exact", "[golden][tiling]") {
  std::set<std::string> classes;
  for (const auto& c : test_config::read_jsonl(kGoldenVlm + "tiling/cases.jsonl")) {
    run_vlm_case("tiling", c, true);
    run_vlm_case("tiling", c, false);
    classes.insert(c["processor_class"].get<std::string>());
  }
  CHECK(classes == std::set<std::string>{"GotOcr2ImageProcessor", "Gemma3ImageProcessor", "LlavaNextImageProcessor",
                                         "LlavaOnevisionImageProcessor", "Idefics3ImageProcessor", "SmolVLMImageProcessor",
                                         "DetrImageProcessor",
                                         "ConditionalDetrImageProcessor", "DeformableDetrImageProcessor",
                                         "YolosImageProcessor", "RTDetrImageProcessor"});
}
