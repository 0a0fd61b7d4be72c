// Hugging Face goldens (a subset with small images, copied into tests/data/golden by
// tests/tools/make_golden_subset.py): every output must have the golden's shape, dtype and
// exact bytes (SHA-256), every error case must raise the error Hugging Face's condition maps
// to, naming the failing input. Run fused and unfused.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "tests/common/test_config_util.h"
#include "pipelines/image_processor.h"
#include "base/sha256.h"

using namespace pixelflow;
using nlohmann::json;

namespace {

const std::string kGolden = std::string(PIXELFLOW_TEST_DATA_DIR) + "/golden";


std::vector<json> load_cases() {
  std::vector<json> cases = test_config::read_jsonl(kGolden + "/cases.jsonl");
  REQUIRE(!cases.empty());
  return cases;
}

// Hugging Face's error conditions (the golden's error type and message) and the pixelflow error
// each must become: its class (Python raises InputError and ConfigError as ValueError
// subclasses, so a ValueError may be either: the condition decides), and a phrase of the
// condition its problem must state. A golden error missing here fails the test: extending the
// subset with a new kind of error asks for its mapping.
struct ExpectedError {
  const char* hf_type;
  const char* hf_message_prefix;
  const char* error_class;
  const char* phrase;
};
const ExpectedError kErrorConditions[] = {
    {"ValueError", "Unable to infer channel dimension format", "InputError", "Unable to infer channel dimension format"},
    {"ValueError", "Unsupported number of image dimensions", "InputError", "Unsupported number of image dimensions"},
};

const char* error_class(const Error& e) {
  if (dynamic_cast<const ConfigError*>(&e)) return "ConfigError";
  if (dynamic_cast<const DecodeError*>(&e)) return "DecodeError";
  if (dynamic_cast<const InputError*>(&e)) return "InputError";
  if (dynamic_cast<const OutOfMemoryError*>(&e)) return "OutOfMemoryError";
  if (dynamic_cast<const KernelError*>(&e)) return "KernelError";
  return "Error";
}

// The call fails the way the golden says Hugging Face failed: the error class the condition maps
// to, the condition in its problem, and the failing input named (the case's inputs are single
// images, so the error must be about that file).
// `source_field`: also require Error::source() to be the input.
template <class Call>
void check_error(const json& c, Call&& call, bool source_field) {
  const json& want = c["error"];
  REQUIRE(want.is_object());  // {"type", "message"} (tests/tools/make_golden_subset.py)
  const std::string hf_type = want["type"], hf_message = want["message"];
  const ExpectedError* cond = nullptr;
  for (const auto& k : kErrorConditions)
    if (hf_type == k.hf_type && hf_message.rfind(k.hf_message_prefix, 0) == 0) cond = &k;
  INFO("Hugging Face raised " << hf_type << ": " << hf_message);
  REQUIRE(cond != nullptr);
  try {
    call();
  } catch (const Error& e) {
    INFO("pixelflow raised " << error_class(e) << ": " << e.what());
    CHECK(std::string(error_class(e)) == cond->error_class);
    CHECK_THAT(e.problem(), Catch::Contains(cond->phrase));
    REQUIRE(c["inputs"].size() == 1);
    const std::string file = c["inputs"][0]["file"];
    CHECK_THAT(e.what(), Catch::Contains(file));
    if (source_field) CHECK_THAT(e.source(), Catch::EndsWith(file));
    if (const auto* d = dynamic_cast<const DecodeError*>(&e)) CHECK_THAT(d->file(), Catch::EndsWith(file));
    return;
  }
  FAIL("no error, where Hugging Face raised one");
}

void run_case(const json& c, bool fuse, bool source_field = false) {
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
    check_error(c, call, source_field);
    return;
  }
  BatchFeature bf = call();
  for (const auto& o : c["outputs"]) {
    const Tensor& t = bf[o["name"].get<std::string>()];
    Shape want_shape = o["shape"].get<Shape>();
    REQUIRE(t.shape() == want_shape);
    REQUIRE(std::string(dtype_name(t.dtype())) == o["dtype"].get<std::string>());
    REQUIRE(sha256_hex(std::string_view(static_cast<const char*>(t.raw_data()), t.nbytes())) == o["sha256"].get<std::string>());
  }
}

}  // namespace

TEST_CASE("golden subset: outputs are bit-exact, errors are Hugging Face's", "[golden]") {
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

// The error of a call whose first input's layout cannot be inferred (InputLoader's constructor)
// gains the input with Error::add_source, keeping its type (an earlier version rethrew a new
// InputError with the name pasted into the problem).
TEST_CASE("golden error cases name the failing input in Error::source()", "[golden]") {
  int errors = 0;
  for (const auto& c : load_cases()) {
    if (!c.contains("error")) continue;
    run_case(c, true, true);
    ++errors;
  }
  REQUIRE(errors >= 20);
}
