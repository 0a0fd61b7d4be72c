// save_pretrained output vs Hugging Face (golden strings copied from shared/golden/
// config_roundtrip.jsonl into tests/data/config/), and the CPython-compatible JSON writer.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "pipelines/processor_config.h"
#include "pipelines/py_json.h"
#include "tests/common/test_config_util.h"

using namespace pixelflow;
using namespace pixelflow::pipelines;
using namespace pixelflow::test_config;
using nlohmann::json;

TEST_CASE("python_float_repr matches CPython repr(float)", "[config][py_json]") {
  // Expected strings are CPython 3.11's repr of the same doubles.
  CHECK(python_float_repr(1.0 / 255.0) == "0.00392156862745098");
  CHECK(python_float_repr(224.0 / 256.0) == "0.875");
  CHECK(python_float_repr(0.48145466) == "0.48145466");
  CHECK(python_float_repr(1e-05) == "1e-05");
  CHECK(python_float_repr(0.0001) == "0.0001");
  CHECK(python_float_repr(1.5e-07) == "1.5e-07");
  CHECK(python_float_repr(1e16) == "1e+16");
  CHECK(python_float_repr(1e15) == "1000000000000000.0");
  CHECK(python_float_repr(123456789012345680.0) == "1.2345678901234568e+17");
  CHECK(python_float_repr(224.0) == "224.0");
  CHECK(python_float_repr(0.1 + 0.2) == "0.30000000000000004");
  CHECK(python_float_repr(-0.0) == "-0.0");
  CHECK(python_float_repr(0.0) == "0.0");
  CHECK(python_float_repr(5e-324) == "5e-324");
  CHECK(python_float_repr(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
  CHECK(python_float_repr(-2.5e+100) == "-2.5e+100");
}

TEST_CASE("python_json_dumps matches json.dumps(indent=2, sort_keys=True)", "[config][py_json]") {
  const json v = json::parse(R"({"b": [1, 2.5, {"z": null, "a": true}], "a": "\u00e9\"\\\n\t\u0001\u007f\ud83d\ude00",
                                 "c": {}, "d": [], "e": 1e-05, "f": -0.0, "g": 1e16, "h": 123, "\u00fc": false,
                                 "Z": 0.1})");
  // Both strings produced by CPython 3.11 json.dumps on the same value.
  const std::string expected_pretty =
      "{\n  \"Z\": 0.1,\n  \"a\": \"\\u00e9\\\"\\\\\\n\\t\\u0001\\u007f\\ud83d\\ude00\",\n  \"b\": [\n    1,\n    2.5,\n"
      "    {\n      \"a\": true,\n      \"z\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": [],\n  \"e\": 1e-05,\n"
      "  \"f\": -0.0,\n  \"g\": 1e+16,\n  \"h\": 123,\n  \"\\u00fc\": false\n}";
  const std::string expected_compact =
      "{\"Z\": 0.1, \"a\": \"\\u00e9\\\"\\\\\\n\\t\\u0001\\u007f\\ud83d\\ude00\", \"b\": [1, 2.5, {\"a\": true, \"z\": "
      "null}], \"c\": {}, \"d\": [], \"e\": 1e-05, \"f\": -0.0, \"g\": 1e+16, \"h\": 123, \"\\u00fc\": false}";
  CHECK(python_json_dumps(v, 2) == expected_pretty);
  CHECK(python_json_dumps(v, -1) == expected_compact);
  CHECK(python_json_dumps(json(std::numeric_limits<double>::quiet_NaN())) == "NaN");
  CHECK(python_json_dumps(json(-std::numeric_limits<double>::infinity())) == "-Infinity");
}

TEST_CASE("every bundled config saves byte for byte as save_pretrained does", "[config][roundtrip]") {
  std::ifstream in(data_dir() + "/config/config_roundtrip.jsonl");
  REQUIRE(in.good());
  std::string line;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json rec = json::parse(line);
    const std::string folder = rec.at("folder");
    seen.insert(folder);
    INFO("config " << folder);
    const ProcessorConfig cfg = load_processor_config(models_dir() + "/" + folder);
    CHECK(cfg.class_name == rec.at("processor_class").get<std::string>());
    const std::string expected = rec.at("saved_preprocessor_config_json");
    CHECK(to_json_string(cfg) == expected);
    CHECK(cfg.unused_kwargs.empty());

    // The warnings transformers emitted while loading (ours carry a "pixelflow: " prefix).
    std::vector<std::string> hf_warnings;
    for (const auto& w : cfg.warnings)
      if (w.rfind("pixelflow: ", 0) != 0) hf_warnings.push_back(w);
    CHECK(hf_warnings == rec.at("warnings").get<std::vector<std::string>>());

    // save_pretrained writes exactly that file; load, save, load gives the same dict.
    TempDir tmp;
    save_pretrained(cfg, tmp.str());
    CHECK(read_file((tmp.path() / "preprocessor_config.json").string()) == expected);
    const ProcessorConfig again = load_processor_config(tmp.str());
    CHECK(again.class_name == cfg.class_name);
    CHECK(again.attributes == cfg.attributes);
    CHECK(to_json_string(again) == expected);
    CHECK(again.warnings.empty());
    CHECK(rec.at("reload_equal").get<bool>());
  }
  // Every bundled config is covered.
  std::set<std::string> bundled;
  for (const auto& e : std::filesystem::directory_iterator(models_dir()))
    if (e.is_directory()) bundled.insert(e.path().filename().string());
  CHECK(seen == bundled);
  CHECK(seen.size() == 32);
}

TEST_CASE("save_pretrained refuses a file path and creates missing directories", "[config][roundtrip]") {
  const ProcessorConfig cfg = load_processor_config(models_dir() + "/google__vit-base-patch16-224");
  TempDir tmp;
  const auto nested = tmp.path() / "a" / "b";
  save_pretrained(cfg, nested.string());
  CHECK(std::filesystem::is_regular_file(nested / "preprocessor_config.json"));
  write_file(tmp.path() / "file.txt", "x");
  REQUIRE_THROWS_AS(save_pretrained(cfg, (tmp.path() / "file.txt").string()), ConfigError);
}
