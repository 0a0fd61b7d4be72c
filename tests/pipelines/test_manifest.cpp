// pipelines/dataset/manifest.h and run_folder.h: the manifest lines of a dataset run (written as
// Python's json.dumps would, non-UTF-8 bytes as \udcNN), what counts as one when read back, and
// the names of a run's files.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "pipelines/dataset/manifest.h"
#include "pipelines/dataset/run_folder.h"

using namespace pixelflow::pipelines;

namespace {

bool parses(const std::string& line) {
  ManifestEntry e;
  return parse_manifest_line(line, &e);
}

}  // namespace

TEST_CASE("manifest lines: json.dumps separators and key order, non-UTF-8 bytes escaped", "[manifest]") {
  ManifestEntry ok{"a/b\xe9.png", true, "ignored", 3, ""};
  CHECK(manifest_line(ok, "shard-000001") ==
        "{\"input\": \"a/b\\udce9.png\", \"status\": \"ok\", \"shard\": \"shard-000001\", \"index\": 3}\n");
  ManifestEntry failed{"x.png", false, "", -1, "x.png: cannot open file: \"No\"\n"};
  CHECK(manifest_line(failed, "shard-000001") ==
        "{\"input\": \"x.png\", \"status\": \"error\", \"error\": \"x.png: cannot open file: \\\"No\\\"\\n\"}\n");

  // Back again, bytes and all (without the '\n').
  for (const ManifestEntry& e : {ok, failed}) {
    std::string line = manifest_line(e, "shard-000001");
    line.pop_back();
    ManifestEntry back;
    REQUIRE(parse_manifest_line(line, &back));
    CHECK(back.input == e.input);
    CHECK(back.ok == e.ok);
    if (e.ok) {
      CHECK(back.shard == "shard-000001");
      CHECK(back.index == e.index);
    } else {
      CHECK(back.error == e.error);
    }
  }
  ManifestEntry nul{std::string("a\0b", 3) + "\\u0000", false, "", -1, "e"};
  std::string line = manifest_line(nul, "");
  line.pop_back();
  ManifestEntry back;
  REQUIRE(parse_manifest_line(line, &back));
  CHECK(back.input == nul.input);
}

TEST_CASE("manifest lines that are not entries are refused", "[manifest]") {
  CHECK(parses(R"({"input": "a", "status": "ok", "shard": "s", "index": 0})"));
  CHECK(parses(R"({"input": "a", "status": "error", "error": "e"})"));
  CHECK_FALSE(parses(""));
  CHECK_FALSE(parses("[1]"));
  CHECK_FALSE(parses(R"({"input": "a", "status": "ok", "shard": "s", "index": 0)"));  // cut short
  CHECK_FALSE(parses(R"({"status": "ok", "shard": "s", "index": 0})"));
  CHECK_FALSE(parses(R"({"input": 1, "status": "ok", "shard": "s", "index": 0})"));
  CHECK_FALSE(parses(R"({"input": "a", "shard": "s", "index": 0})"));
  CHECK_FALSE(parses(R"({"input": "a", "status": "done", "shard": "s", "index": 0})"));
  CHECK_FALSE(parses(R"({"input": "a", "status": "ok", "index": 0})"));
  CHECK_FALSE(parses(R"({"input": "a", "status": "ok", "shard": "s", "index": -1})"));
  CHECK_FALSE(parses(R"({"input": "a", "status": "ok", "shard": "s", "index": 1.5})"));
  CHECK_FALSE(parses(R"({"input": "a", "status": "error"})"));
  CHECK_FALSE(parses(R"({"input": "a", "status": "error", "error": null})"));
  // A lone high surrogate is no byte escape.
  CHECK_FALSE(parses(R"({"input": "\ud83d", "status": "error", "error": "e"})"));
}

TEST_CASE("shard names, temporaries and the run id", "[manifest]") {
  const auto npy = SinkSpec::Format::kNpy, st = SinkSpec::Format::kSafetensors;
  CHECK(shard_name(42, npy) == "shard-000042");
  CHECK(shard_name(1234567, st) == "shard-1234567.safetensors");
  for (int64_t b : {int64_t{0}, int64_t{7}, int64_t{999999}, int64_t{1000000}, int64_t{123456789012}}) {
    CHECK(shard_number(shard_name(b, npy), npy) == b);
    CHECK(shard_number(shard_name(b, st), st) == b);
    CHECK(shard_number(shard_name(b, st), npy) == -1);
    CHECK(shard_number(shard_name(b, npy), st) == -1);
  }
  CHECK(shard_number("shard-0000042", npy) == -1);  // not as shard_name writes it
  CHECK(shard_number("shard-00042", npy) == -1);
  CHECK(shard_number("shard-000042.npy", npy) == -1);
  CHECK(shard_number("Shard-000042", npy) == -1);
  CHECK(is_shard_name("shard-000003.safetensors"));
  CHECK_FALSE(is_shard_name("shard-x"));

  CHECK(batch_count(0, 4) == 0);
  CHECK(batch_count(8, 4) == 2);
  CHECK(batch_count(9, 4) == 3);

  const std::string id = run_id_of("{}\n");
  CHECK(id.size() == 16);
  CHECK(temp_name(id, "run.json") == ".pixelflow-" + id + ".run.json.tmp");
  CHECK(is_temporary_of(temp_name(id, "shard-000000"), id));
  CHECK_FALSE(is_temporary_of(temp_name(id, "shard-000000"), run_id_of("{}")));
  CHECK_FALSE(is_temporary_of(".pixelflow-" + id + "..tmp", id));  // no NAME
}

TEST_CASE("make_run_key and describe_difference", "[manifest]") {
  const auto npy = SinkSpec::Format::kNpy;
  const std::string key = make_run_key({{"size", 224}}, {"a", "b"}, 2, npy);
  // SHA-256 of "a\nb\n".
  CHECK(key ==
        "{\"config\":{\"size\":224},\"inputs_sha256\":"
        "\"911169ddaaf146aff539f58c26c489af3b892dff0fe283c1c264c65ae5aa59a2\",\"total\":2,\"batch_size\":2,"
        "\"format\":\"npy\"}");
  CHECK_THROWS_AS(make_run_key({}, {}, 0, npy), std::invalid_argument);

  const nlohmann::json there = {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}};
  const nlohmann::json here = {{"a", 2}, {"b", 3}, {"c", 4}, {"d", 5}};
  CHECK(describe_difference(there, here) == "a 1 there, 2 now; b 2 there, 3 now; c 3 there, 4 now; and 1 more");
  CHECK(describe_difference({{"config", {{"size", 1}}}}, {{"config", {{"size", 1}, {"crop", true}}}}) ==
        "config.crop absent there, true now");
  CHECK(describe_difference({{"total", 3}, {"batch_size", 2}}, {{"total", 3}}) == "batch_size 2 there, absent now");
  CHECK(describe_difference({{"a", 1}}, nlohmann::json::array()) == "(whole key) {\"a\":1} there, [] now");
  CHECK(describe_difference({{"x", std::string(50, 'y')}}, {{"x", 1}}) ==
        "x \"" + std::string(36, 'y') + "... there, 1 now");
}
