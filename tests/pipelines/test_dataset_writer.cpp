// DatasetWriter: safetensors and npy shards, the manifest, resuming after a crash, refusing
// another run's folder; write_safetensors / read_safetensors; SHA-256 of run keys; the run's
// output folder left out of its input listing.
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "base/errors.h"
#include "graph/npy.h"
#include "base/sha256.h"
#include "base/half_float.h"
#include "pipelines/dataset/float_dtype.h"
#include "pipelines/dataset_writer.h"
#include "pipelines/input_source.h"
#include "tests/common/temp_dir.h"

namespace fs = std::filesystem;
using namespace pixelflow;
using namespace pixelflow::test;
using namespace pixelflow::pipelines;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  REQUIRE(f);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A tensor whose bytes are a deterministic function of `seed`.
Tensor pattern(DType dtype, Shape shape, int seed) {
  Tensor t = Tensor::empty(dtype, std::move(shape));
  auto* p = static_cast<uint8_t*>(t.raw_data());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
  if (dtype == DType::kBool)
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] &= 1;
  return t;
}

template <class T>
Tensor values(Shape shape, std::vector<T> v) {
  Tensor t = Tensor::empty(dtype_of<T>(), std::move(shape));
  REQUIRE(static_cast<size_t>(t.numel()) == v.size());
  std::memcpy(t.raw_data(), v.data(), t.nbytes());
  return t;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// Every file under `root`, relative path -> bytes (folders as "<dir>").
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string rel = fs::relative(e.path(), root).string();
    out[rel] = e.is_directory() ? std::string("<dir>") : read_file(e.path());
  }
  return out;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// The name DatasetWriter gives its temporary for NAME in the run folder `run_dir`:
// .pixelflow-<first 16 hex digits of SHA-256 of run.json>.NAME.tmp
std::string temporary(const std::string& run_dir, const std::string& name) {
  return ".pixelflow-" + sha256_hex(read_file(fs::path(run_dir) / "run.json")).substr(0, 16) + "." + name + ".tmp";
}

std::string key_for(int64_t total, int64_t batch_size, SinkSpec::Format format,
                    nlohmann::json config = {{"size", {{"shortest_edge", 224}}}}) {
  std::vector<std::string> inputs;
  for (int64_t i = 0; i < total; ++i) inputs.push_back("img" + std::to_string(i) + ".jpg");
  return make_run_key(config, inputs, batch_size, format);
}

// The batch and entries of batch b of a run over `total` inputs "img<i>.jpg"; inputs whose index
// is a multiple of 3 fail. Rows are one (rows, 2, 3) float32 key and a list key of int64.
std::pair<BatchFeature, std::vector<ManifestEntry>> make_batch(int64_t b, int64_t batch_size,
                                                               int64_t total) {
  std::vector<ManifestEntry> entries;
  int64_t rows = 0;
  for (int64_t i = b * batch_size; i < std::min(total, (b + 1) * batch_size); ++i) {
    ManifestEntry e;
    e.input = "img" + std::to_string(i) + ".jpg";
    if (i % 3 == 0) {
      e.ok = false;
      e.error = e.input + ": not a JPEG file (truncated)";
    } else {
      e.index = rows++;
    }
    entries.push_back(e);
  }
  BatchFeature bf;
  if (rows > 0) {
    bf.set("pixel_values", pattern(DType::kFloat32, {rows, 2, 3}, static_cast<int>(b)));
    std::vector<Tensor> sizes;
    for (int64_t r = 0; r < rows; ++r) sizes.push_back(values<int64_t>({2}, {b, r}));
    bf.set("original_sizes", sizes);
  }
  return {bf, entries};
}

void write_run(const std::string& dir, SinkSpec::Format format, int64_t total, int64_t batch_size,
               int64_t from = 0, int64_t to = -1) {
  DatasetWriter w(dir, format, key_for(total, batch_size, format));
  REQUIRE(w.completed_batches() == from);
  if (to < 0) to = w.num_batches();
  for (int64_t b = from; b < to; ++b) {
    auto [bf, entries] = make_batch(b, batch_size, total);
    w.write_batch(b, bf, entries);
  }
  REQUIRE(w.completed_batches() == to);
}

}  // namespace

TEST_CASE("Sha256 matches FIPS 180-4 test vectors, streamed in any chunks", "[dataset_writer]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_hex(two_blocks) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  CHECK(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // The CPU's SHA instructions (when it has them) and the portable code, in any chunks.
  INFO("SHA instructions available: " << Sha256::hardware_available());
  for (bool hardware : {true, false}) {
    INFO("hardware " << hardware);
    for (size_t chunk : {1, 3, 63, 64, 65, 1000, 1000000}) {
      Sha256 h(hardware);
      for (size_t i = 0; i < million.size(); i += chunk) h.update(std::string_view(million).substr(i, chunk));
      CHECK(h.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
    Sha256 h(hardware);
    h.update(two_blocks);
    CHECK(h.hex_digest() == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // Every length from 0 to 300 bytes of varied data: both paths agree.
    std::string data;
    for (int n = 0; n <= 300; ++n) {
      Sha256 a(hardware), b(false);
      a.update(data);
      b.update(data);
      CHECK(a.hex_digest() == b.hex_digest());
      data.push_back(static_cast<char>(n * 37 + 11));
    }
  }
}

TEST_CASE("safetensors bytes of a small BatchFeature, computed by hand", "[dataset_writer]") {
  BatchFeature bf;
  bf.set("pixel_values", values<float>({1, 2}, {1.0f, -2.0f}));
  bf.set("labels", values<int64_t>({1}, {7}));
  bf.set("mask", std::vector<Tensor>{values<uint8_t>({3}, {1, 2, 3}), values<uint8_t>({1}, {255})});
  // Order of data: by dtype alignment (I64, F32, U8), then by name. 275 header bytes, padded to
  // 280 = 0x118 with 5 spaces.
  const std::string json =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"labels\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
      "\"pixel_values\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[8,16]},"
      "\"mask.0\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[16,19]},"
      "\"mask.1\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[19,20]}}     ";
  REQUIRE(json.size() == 280);
  const std::string expected = std::string("\x18\x01\x00\x00\x00\x00\x00\x00", 8) + json +
                               std::string("\x07\x00\x00\x00\x00\x00\x00\x00", 8) +  // 7
                               std::string("\x00\x00\x80\x3f", 4) +                  // 1.0f
                               std::string("\x00\x00\x00\xc0", 4) +                  // -2.0f
                               std::string("\x01\x02\x03\xff", 4);
  CHECK(safetensors_bytes(bf) == expected);

  TempDir tmp("pixelflow_dataset_writer_");
  write_safetensors(tmp / "a.safetensors", bf);
  CHECK(read_file(tmp / "a.safetensors") == expected);

  // No tensors, no metadata: "{}" padded to 8 (as the reference writer gives).
  CHECK(safetensors_bytes(BatchFeature(), {}) == std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  // One F32 tensor, no metadata: a 64-byte header needs no padding.
  BatchFeature one;
  one.set("attn.0", values<float>({1, 2, 3}, {0, 1, 2, 3, 4, 5}));
  std::string bytes = safetensors_bytes(one, {});
  CHECK(bytes.substr(0, 8) == std::string("\x40\0\0\0\0\0\0\0", 8));
  CHECK(bytes.substr(8, 64) == "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}");
  CHECK(bytes.size() == 8 + 64 + 24);
}

TEST_CASE("safetensors round trip of every dtype, aligned data", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  BatchFeature bf;
  bf.set("b", pattern(DType::kBool, {3}, 1));
  bf.set("u8", pattern(DType::kUInt8, {2, 3, 5}, 2));
  bf.set("u16", pattern(DType::kUInt16, {7}, 3));
  bf.set("i32", pattern(DType::kInt32, {1, 3}, 4));
  bf.set("i64", pattern(DType::kInt64, {2, 1}, 5));
  bf.set("f32", pattern(DType::kFloat32, {2, 3, 4, 4}, 6));
  bf.set("f64", pattern(DType::kFloat64, {3}, 7));
  bf.set("f16", pattern(DType::kFloat16, {3, 3}, 11));
  bf.set("bf16", pattern(DType::kBFloat16, {5}, 12));
  bf.set("scalar", pattern(DType::kFloat32, {}, 8));
  bf.set("empty", Tensor::empty(DType::kFloat64, {0, 3}));
  bf.set("per_image", std::vector<Tensor>{pattern(DType::kUInt8, {2, 2}, 9), pattern(DType::kFloat32, {1}, 10)});
  const std::string path = tmp / "all.safetensors";
  write_safetensors(path, bf);
  BatchFeature back = read_safetensors(path);
  CHECK(back.size() == bf.size() + 1);
  for (const auto& key : bf.keys()) {
    const auto& v = bf.at(key);
    if (const Tensor* t = std::get_if<Tensor>(&v)) {
      INFO(key);
      CHECK(same_tensor(back[key], *t));
    }
  }
  CHECK(same_tensor(back["per_image.0"], bf.list("per_image")[0]));
  CHECK(same_tensor(back["per_image.1"], bf.list("per_image")[1]));

  // Every tensor starts at a multiple of its element size, counted from the file's start.
  std::string bytes = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  CHECK(header["__metadata__"] == nlohmann::json({{"format", "pt"}}));
  const std::map<std::string, size_t> elem = {{"BOOL", 1}, {"U8", 1},  {"U16", 2}, {"I32", 4}, {"I64", 8},
                                              {"F32", 4},  {"F64", 8}, {"F16", 2}, {"BF16", 2}};
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    INFO(name);
    CHECK((8 + n + info["data_offsets"][0].get<uint64_t>()) % elem.at(info["dtype"]) == 0);
  }
  CHECK(header["scalar"]["shape"] == nlohmann::json::array());
  CHECK(header["empty"]["shape"] == nlohmann::json({0, 3}));
}

TEST_CASE("safetensors: malformed files, clashing names and I/O failures", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  BatchFeature bf;
  bf.set("x", values<float>({2}, {1, 2}));
  std::string good = safetensors_bytes(bf);
  auto rejects = [&](const std::string& bytes, const std::string& needle) {
    const std::string path = tmp / "bad.safetensors";
    write_bytes(path, bytes);
    try {
      read_safetensors(path);
      FAIL("read_safetensors accepted a malformed file expecting: " << needle);
    } catch (const DecodeError& e) {
      std::string msg = e.what();
      CHECK(msg.find(path) != std::string::npos);
      CHECK(msg.find(needle) != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
    }
  };
  rejects(good.substr(0, 5), "8-byte");
  rejects(good.substr(0, good.size() - 1), "data ends at byte");
  rejects(good + "x", "data ends at byte");
  std::string i16 = good;  // (F16 and BF16 are read: pixelflow run --dtype writes them)
  i16.replace(i16.find("F32"), 3, "I16");
  rejects(i16, "dtype I16 is not supported");
  std::string gap = good;
  gap.replace(gap.find("[0,8]"), 5, "[1,8]");
  rejects(gap, "data_offsets");
  std::string big = good;
  big[7] = '\x01';
  rejects(big, "too large");

  BatchFeature clash;
  clash.set("a.0", values<float>({1}, {1}));
  clash.set("a", std::vector<Tensor>{values<float>({1}, {2})});
  CHECK_THROWS_AS(safetensors_bytes(clash), InputError);

  // Not writable: the folder is a regular file.
  write_bytes(tmp / "plain", "x");
  const std::string inside = tmp / "plain/x.safetensors";
  CHECK_THROWS_WITH(write_safetensors(inside, bf),
                    Catch::Contains(inside) && Catch::Contains("Not a directory"));
  // Disk full: /dev/full fails every write with ENOSPC (and is not removed afterwards).
  if (fs::exists("/dev/full")) {
    CHECK_THROWS_WITH(write_safetensors("/dev/full", bf),
                      Catch::Contains("/dev/full") && Catch::Contains("No space left on device"));
    CHECK(fs::is_character_file("/dev/full"));
  }
}

TEST_CASE("DatasetWriter npy: shard folders, manifest text, all-failed batch", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const std::string dir = tmp / "out";
  // 5 inputs in batches of 2: img0 fails, img3 fails; batch 2 = {img4}.
  {
    DatasetWriter w(dir, SinkSpec::Format::kNpy, key_for(5, 2, SinkSpec::Format::kNpy));
    CHECK(w.completed_batches() == 0);
    CHECK(w.num_batches() == 3);
    CHECK(w.batch_inputs(2) == 1);
    CHECK(w.shard_name(0) == "shard-000000");
    for (int64_t b = 0; b < 3; ++b) {
      auto [bf, entries] = make_batch(b, 2, 5);
      w.write_batch(b, bf, entries);
    }
    CHECK(w.completed_batches() == 3);
  }
  CHECK(names_in(dir) == std::set<std::string>{"run.json", "manifest.jsonl", "shards.jsonl", "shard-000000",
                                                "shard-000001", "shard-000002"});
  CHECK(names_in(fs::path(dir) / "shard-000000") ==
        std::set<std::string>{"pixel_values.npy", "original_sizes.0.npy"});
  CHECK(names_in(fs::path(dir) / "shard-000001") ==
        std::set<std::string>{"pixel_values.npy", "original_sizes.0.npy"});
  auto [bf0, e0] = make_batch(0, 2, 5);
  CHECK(read_file(fs::path(dir) / "shard-000000/pixel_values.npy") == npy_bytes(bf0["pixel_values"]));
  CHECK(same_tensor(load_npy((fs::path(dir) / "shard-000000/original_sizes.0.npy").string()),
                    values<int64_t>({2}, {0, 0})));
  CHECK(read_file(fs::path(dir) / "manifest.jsonl") ==
        "{\"input\": \"img0.jpg\", \"status\": \"error\", \"error\": \"img0.jpg: not a JPEG file (truncated)\"}\n"
        "{\"input\": \"img1.jpg\", \"status\": \"ok\", \"shard\": \"shard-000000\", \"index\": 0}\n"
        "{\"input\": \"img2.jpg\", \"status\": \"ok\", \"shard\": \"shard-000001\", \"index\": 0}\n"
        "{\"input\": \"img3.jpg\", \"status\": \"error\", \"error\": \"img3.jpg: not a JPEG file (truncated)\"}\n"
        "{\"input\": \"img4.jpg\", \"status\": \"ok\", \"shard\": \"shard-000002\", \"index\": 0}\n");
  auto run = nlohmann::json::parse(read_file(fs::path(dir) / "run.json"));
  CHECK(run["total"] == 5);
  CHECK(run["batch_size"] == 2);
  CHECK(run["format"] == "npy");
  CHECK(run["config"] == nlohmann::json({{"size", {{"shortest_edge", 224}}}}));
  CHECK(run["inputs_sha256"] ==
        sha256_hex("img0.jpg\nimg1.jpg\nimg2.jpg\nimg3.jpg\nimg4.jpg\n"));

  auto manifest = read_manifest(dir);
  REQUIRE(manifest.size() == 5);
  CHECK(!manifest[0].ok);
  CHECK(manifest[0].error == "img0.jpg: not a JPEG file (truncated)");
  CHECK(manifest[2].ok);
  CHECK(manifest[2].shard == "shard-000001");
  CHECK(manifest[2].index == 0);

  // A batch where every input failed: manifest lines, no shard (also with 0-row tensors).
  const std::string dir2 = tmp / "failed";
  DatasetWriter w(dir2, SinkSpec::Format::kNpy, key_for(4, 2, SinkSpec::Format::kNpy));
  std::vector<ManifestEntry> failed = {{"a.png", false, "", -1, "a.png: cannot open file"},
                                       {"b.png", false, "", -1, "b.png: cannot open file"}};
  w.write_batch(0, BatchFeature(), failed);
  BatchFeature zero_rows;
  zero_rows.set("pixel_values", Tensor::empty(DType::kFloat32, {0, 3, 4, 4}));
  w.write_batch(1, zero_rows, failed);
  CHECK(names_in(dir2) == std::set<std::string>{"run.json", "manifest.jsonl", "shards.jsonl"});
  CHECK(read_file(fs::path(dir2) / "shards.jsonl").empty());  // no shard, no record
  CHECK(read_manifest(dir2).size() == 4);
  CHECK(read_file(fs::path(dir2) / "manifest.jsonl").substr(0, 86) ==
        "{\"input\": \"a.png\", \"status\": \"error\", \"error\": \"a.png: cannot open file\"}\n{\"input\": \"b");
}

TEST_CASE("DatasetWriter safetensors: one file per batch, rows in the caller's order", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const std::string dir = tmp / "out";
  DatasetWriter w(dir, SinkSpec::Format::kSafetensors, key_for(3, 3, SinkSpec::Format::kSafetensors));
  CHECK(w.shard_name(0) == "shard-000000.safetensors");
  BatchFeature bf;
  bf.set("pixel_values", values<float>({3, 2}, {1, 2, 3, 4, 5, 6}));
  // Unordered completion: img2's row came first.
  std::vector<ManifestEntry> entries = {{"img0.jpg", true, "", 1, ""},
                                        {"img1.jpg", true, "", 2, ""},
                                        {"img2.jpg", true, "", 0, ""}};
  w.write_batch(0, bf, entries);
  CHECK(names_in(dir) == std::set<std::string>{"run.json", "manifest.jsonl", "shards.jsonl",
                                                "shard-000000.safetensors"});
  BatchFeature back = read_safetensors((fs::path(dir) / "shard-000000.safetensors").string());
  CHECK(same_tensor(back["pixel_values"], bf["pixel_values"]));
  CHECK(read_file(fs::path(dir) / "shard-000000.safetensors") == safetensors_bytes(bf));
  CHECK(read_file(fs::path(dir) / "manifest.jsonl") ==
        "{\"input\": \"img0.jpg\", \"status\": \"ok\", \"shard\": \"shard-000000.safetensors\", \"index\": 1}\n"
        "{\"input\": \"img1.jpg\", \"status\": \"ok\", \"shard\": \"shard-000000.safetensors\", \"index\": 2}\n"
        "{\"input\": \"img2.jpg\", \"status\": \"ok\", \"shard\": \"shard-000000.safetensors\", \"index\": 0}\n");
}

TEST_CASE("DatasetWriter resumes after a crash with the same final folder", "[dataset_writer]") {
  const auto format = GENERATE(SinkSpec::Format::kNpy, SinkSpec::Format::kSafetensors);
  INFO(format_name(format));
  {
    TempDir tmp("pixelflow_dataset_writer_");
    const int64_t total = 7, bs = 2;  // batches {0,1} {2,3} {4,5} {6}
    const std::string ref = tmp / "uninterrupted";
    write_run(ref, format, total, bs);
    const auto expected = snapshot(ref);
    CHECK(expected.size() >= 5);

    const std::string manifest_ref = read_file(fs::path(ref) / "manifest.jsonl");
    auto line_end = [&](int lines) {  // bytes of the first `lines` lines
      size_t pos = 0;
      for (int i = 0; i < lines; ++i) pos = manifest_ref.find('\n', pos) + 1;
      return pos;
    };
    const std::string suffix = format == SinkSpec::Format::kNpy ? "" : ".safetensors";
    const std::string shard2 = "shard-000002" + suffix, shard3 = "shard-000003" + suffix;

    SECTION("crash mid-append: a partial line, an orphan shard and a .tmp") {
      const std::string dir = tmp / "crashed";
      write_run(dir, format, total, bs, 0, 2);
      // Batch 2's record was appended, its shard renamed into place and its first line plus
      // half of the second appended when the process died; batch 3's shard was being written.
      const std::string records = read_file(fs::path(dir) / "shards.jsonl");
      const std::string records_ref = read_file(fs::path(ref) / "shards.jsonl");
      REQUIRE(records_ref.compare(0, records.size(), records) == 0);
      REQUIRE(records_ref.size() > records.size());
      write_bytes(fs::path(dir) / "shards.jsonl", records_ref);
      fs::copy(fs::path(ref) / shard2, fs::path(dir) / shard2, fs::copy_options::recursive);
      write_bytes(fs::path(dir) / temporary(dir, shard3), "partial");
      std::string manifest = manifest_ref.substr(0, line_end(5) + 10);
      write_bytes(fs::path(dir) / "manifest.jsonl", manifest);
      {
        DatasetWriter w(dir, format, key_for(total, bs, format));
        CHECK(w.completed_batches() == 2);
        CHECK(read_file(fs::path(dir) / "manifest.jsonl") == manifest_ref.substr(0, line_end(4)));
        CHECK(read_file(fs::path(dir) / "shards.jsonl") == records);
        CHECK(!fs::exists(fs::path(dir) / shard2));
        CHECK(!fs::exists(fs::path(dir) / temporary(dir, shard3)));
      }
      write_run(dir, format, total, bs, 2);
      CHECK(snapshot(dir) == expected);
    }
    SECTION("crash after whole lines of half a batch") {
      const std::string dir = tmp / "crashed";
      write_run(dir, format, total, bs, 0, 3);
      // Batch 3 = {img6} only has one input; take batch 2 back to its first line instead.
      write_bytes(fs::path(dir) / "manifest.jsonl", manifest_ref.substr(0, line_end(5)));
      {
        DatasetWriter w(dir, format, key_for(total, bs, format));
        CHECK(w.completed_batches() == 2);
        CHECK(read_file(fs::path(dir) / "manifest.jsonl") == manifest_ref.substr(0, line_end(4)));
      }
      write_run(dir, format, total, bs, 2);
      CHECK(snapshot(dir) == expected);
    }
    SECTION("crash while writing run.json, then a fresh start") {
      const std::string dir = tmp / "crashed";
      fs::create_directories(dir);
      // Its run.json temporary: named after the run.json it was to become (the reference's).
      write_bytes(fs::path(dir) / temporary(ref, "run.json"), "{\"tot");
      write_run(dir, format, total, bs);
      CHECK(snapshot(dir) == expected);
    }
    SECTION("a committed batch whose shard went missing is redone, with the ones after it") {
      const std::string dir = tmp / "damaged";
      write_run(dir, format, total, bs);
      fs::remove_all(fs::path(dir) / shard2);
      {
        DatasetWriter w(dir, format, key_for(total, bs, format));
        CHECK(w.completed_batches() == 2);
        CHECK(!fs::exists(fs::path(dir) / shard3));
      }
      write_run(dir, format, total, bs, 2);
      CHECK(snapshot(dir) == expected);
    }
    SECTION("a finished run reopens complete and unchanged") {
      {
        DatasetWriter w(ref, format, key_for(total, bs, format));
        CHECK(w.completed_batches() == w.num_batches());
      }
      CHECK(snapshot(ref) == expected);
    }
  }
}

TEST_CASE("DatasetWriter refuses another run's folder, one line naming it and what differs", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const std::string dir = tmp / "out";
  const auto npy = SinkSpec::Format::kNpy;
  write_run(dir, npy, 7, 2, 0, 2);
  auto refused = [&](const std::string& key, SinkSpec::Format format, const std::string& needle) {
    try {
      DatasetWriter w(dir, format, key);
      FAIL("opened another run's folder; expected: " << needle);
    } catch (const InputError& e) {
      std::string msg = e.what();
      CHECK(msg.find(dir) != std::string::npos);
      CHECK(msg.find(needle) != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
    }
  };
  refused(key_for(7, 3, npy), npy, "batch_size 2 there, 3 now");
  refused(key_for(7, 2, npy, {{"size", {{"shortest_edge", 256}}}}), npy,
          "config.size.shortest_edge 224 there, 256 now");
  refused(key_for(7, 2, SinkSpec::Format::kSafetensors), SinkSpec::Format::kSafetensors,
          "format \"npy\" there, \"safetensors\" now");
  refused(key_for(6, 2, npy), npy, "total 7 there, 6 now");
  CHECK(names_in(dir).count("shard-000001") == 1);  // left alone

  // overwrite: the other run's files go, unrelated files stay.
  write_bytes(fs::path(dir) / "README.txt", "mine");
  {
    DatasetWriterOptions options;
    options.overwrite = true;
    DatasetWriter w(dir, npy, key_for(3, 3, npy), options);
    CHECK(w.completed_batches() == 0);
  }
  CHECK(names_in(dir) == std::set<std::string>{"run.json", "manifest.jsonl", "shards.jsonl", "README.txt"});

  // Shards without run.json: not resumable.
  const std::string orphan = tmp / "orphan";
  fs::create_directories(fs::path(orphan) / "shard-000000");
  CHECK_THROWS_AS(DatasetWriter(orphan, npy, key_for(3, 3, npy)), InputError);
  // Not JSON.
  const std::string garbage = tmp / "garbage";
  fs::create_directories(garbage);
  write_bytes(fs::path(garbage) / "run.json", "not json");
  CHECK_THROWS_WITH(DatasetWriter(garbage, npy, key_for(3, 3, npy)),
                    Catch::Contains(garbage) && Catch::Contains("not JSON"));
}

TEST_CASE("DatasetWriter: misuse, locking and unwritable folders", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const std::string dir = tmp / "out";
  const auto npy = SinkSpec::Format::kNpy;
  DatasetWriter w(dir, npy, key_for(4, 2, npy));
  // One writer per folder.
  CHECK_THROWS_WITH(DatasetWriter(dir, npy, key_for(4, 2, npy)),
                    Catch::Contains(dir) && Catch::Contains("in use"));

  auto [bf, entries] = make_batch(0, 2, 4);  // img0 failed, img1 row 0
  CHECK_THROWS_AS(w.write_batch(1, bf, entries), std::logic_error);
  CHECK_THROWS_AS(w.write_batch(0, bf, {entries[0]}), std::logic_error);
  auto bad_index = entries;
  bad_index[1].index = 1;
  CHECK_THROWS_AS(w.write_batch(0, bf, bad_index), std::logic_error);
  auto all_failed = entries;
  all_failed[1].ok = false;
  CHECK_THROWS_AS(w.write_batch(0, bf, all_failed), std::logic_error);  // rows without ok inputs
  BatchFeature bad_key;
  bad_key.set("a/b", values<float>({1}, {1}));
  CHECK_THROWS_AS(w.write_batch(0, bad_key, entries), InputError);
  CHECK(w.completed_batches() == 0);
  CHECK(names_in(dir) == std::set<std::string>{"run.json", "manifest.jsonl", "shards.jsonl"});
  w.write_batch(0, bf, entries);  // still usable after the refusals
  CHECK(w.completed_batches() == 1);

  CHECK_THROWS_AS(DatasetWriter(tmp / "k", npy, "{\"total\": 3}"), std::invalid_argument);
  CHECK_THROWS_AS(DatasetWriter(tmp / "k", npy, "{\"total\": 3, \"batch_size\": 0}"), std::invalid_argument);
  CHECK_THROWS_AS(DatasetWriter(tmp / "k", npy, key_for(3, 1, SinkSpec::Format::kSafetensors)),
                  std::invalid_argument);

  write_bytes(tmp / "file", "x");
  const std::string under_file = tmp / "file/out";
  CHECK_THROWS_WITH(DatasetWriter(under_file, npy, key_for(3, 1, npy)),
                    Catch::Contains(under_file) && Catch::Contains("cannot create output folder"));
}

TEST_CASE("DatasetWriter without fsync writes the same folder", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const auto st = SinkSpec::Format::kSafetensors;
  write_run(tmp / "synced", st, 5, 2);
  DatasetWriterOptions options;
  options.sync = false;
  {
    DatasetWriter w(tmp / "unsynced", st, key_for(5, 2, st), options);
    for (int64_t b = 0; b < w.num_batches(); ++b) {
      auto [bf, entries] = make_batch(b, 2, 5);
      w.write_batch(b, bf, entries);
    }
  }
  CHECK(snapshot(tmp / "unsynced") == snapshot(tmp / "synced"));
}

namespace {

// Makes writes past `bytes` in any file fail with EFBIG, as on a full disk (RLIMIT_FSIZE; the
// SIGXFSZ it raises is ignored). Restores both on destruction.
struct FileSizeLimit {
  rlimit saved;
  void (*saved_handler)(int);
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    saved_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit r = saved;
    r.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &r) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, saved_handler);
  }
};

}  // namespace

TEST_CASE("DatasetWriter: a failed write leaves the folder as it was, and may be retried", "[dataset_writer]") {
  const auto format = GENERATE(SinkSpec::Format::kNpy, SinkSpec::Format::kSafetensors);
  INFO(format_name(format));
  TempDir tmp("pixelflow_dataset_writer_");
  // Batches of 8 inputs with one key: a batch's manifest lines outweigh its shards.jsonl record,
  // so that a file size limit can let the record through and stop the lines.
  const int64_t total = 48, bs = 8, next = 2;
  auto batch = [&](int64_t b) {
    auto [bf, entries] = make_batch(b, bs, total);
    BatchFeature one;
    one.set("pixel_values", bf["pixel_values"]);
    return std::make_pair(one, entries);
  };
  {
    DatasetWriter ref(tmp / "ref", format, key_for(total, bs, format));
    for (int64_t b = 0; b < ref.num_batches(); ++b) {
      auto [bf, entries] = batch(b);
      ref.write_batch(b, bf, entries);
    }
  }
  const std::string dir = tmp / "out";
  DatasetWriter w(dir, format, key_for(total, bs, format));
  for (int64_t b = 0; b < next; ++b) {
    auto [bf, entries] = batch(b);
    w.write_batch(b, bf, entries);
  }
  const auto before = snapshot(dir);
  const size_t manifest_size = read_file(fs::path(dir) / "manifest.jsonl").size();
  const std::string records = read_file(fs::path(dir) / "shards.jsonl");
  const std::string records_ref = read_file(fs::path(tmp / "ref") / "shards.jsonl");
  const size_t record_size = records_ref.find('\n', records.size()) + 1 - records.size();  // batch 2's
  auto [bf, entries] = batch(next);
  const std::string shard = w.shard_name(next);
  size_t shard_file = 0;  // its largest file
  if (format == SinkSpec::Format::kNpy) {
    for (const auto& e : fs::directory_iterator(fs::path(tmp / "ref") / shard))
      shard_file = std::max<size_t>(shard_file, fs::file_size(e.path()));
  } else {
    shard_file = fs::file_size(fs::path(tmp / "ref") / shard);
  }
  REQUIRE(shard_file + 64 < manifest_size);
  REQUIRE(records.size() + record_size < manifest_size);

  // The shard cannot be written.
  {
    FileSizeLimit limit(64);
    CHECK_THROWS_WITH(w.write_batch(next, bf, entries),
                      Catch::Contains(dir + "/" + temporary(dir, shard)) && Catch::Contains("File too large"));
  }
  CHECK(snapshot(dir) == before);
  CHECK(w.completed_batches() == next);
  // The shard is written, its record only in part (npy: its files are smaller than the records).
  if (format == SinkSpec::Format::kNpy) {
    REQUIRE(shard_file <= records.size() + 20);
    FileSizeLimit limit(records.size() + 20);
    CHECK_THROWS_WITH(w.write_batch(next, bf, entries),
                      Catch::Contains(dir + "/shards.jsonl") && Catch::Contains("File too large"));
  }
  CHECK(snapshot(dir) == before);
  CHECK(w.completed_batches() == next);
  // The shard and its record are written, its manifest lines only in part.
  {
    FileSizeLimit limit(manifest_size + 20);
    CHECK_THROWS_WITH(w.write_batch(next, bf, entries),
                      Catch::Contains(dir + "/manifest.jsonl") && Catch::Contains("File too large"));
  }
  CHECK(snapshot(dir) == before);
  CHECK(w.completed_batches() == next);
  // Space again: the same batch goes in, and the run ends as an uninterrupted one.
  for (int64_t b = next; b < w.num_batches(); ++b) {
    auto [bfb, eb] = batch(b);
    w.write_batch(b, bfb, eb);
  }
  CHECK(snapshot(dir) == snapshot(tmp / "ref"));
}

namespace {

// Every entry of `user` (a snapshot) is still in `now`, unchanged.
void check_kept(const std::map<std::string, std::string>& user, const std::map<std::string, std::string>& now) {
  for (const auto& [name, bytes] : user) {
    INFO(name);
    auto it = now.find(name);
    REQUIRE(it != now.end());
    CHECK(it->second == bytes);
  }
}

}  // namespace

TEST_CASE("DatasetWriter deletes no file that is not its run's", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const auto npy = SinkSpec::Format::kNpy;
  const std::string dir = tmp / "mine";
  // A user's folder: a *.tmp folder and file, a folder named like a shard, a note.
  fs::create_directories(fs::path(dir) / "my_experiment.tmp");
  write_bytes(fs::path(dir) / "my_experiment.tmp/weights.bin", "keep 1");
  write_bytes(fs::path(dir) / "notes.tmp", "keep 2");
  fs::create_directories(fs::path(dir) / "shard-000001");
  write_bytes(fs::path(dir) / "shard-000001/mine.txt", "keep 3");
  write_bytes(fs::path(dir) / "shard-000000.tmp", "keep 4");
  const auto user = snapshot(dir);

  // A fresh run: refused, one line naming the folder and a file; nothing touched.
  try {
    DatasetWriter w(dir, npy, key_for(2, 2, npy));
    FAIL("a new run started in a folder of other files");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(dir + ": holds shard-000001 and 3 more but no run.json") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
  CHECK(snapshot(dir) == user);

  DatasetWriterOptions overwrite;
  overwrite.overwrite = true;
  // overwrite: a one-batch run is written next to them; they stay.
  {
    DatasetWriter w(dir, npy, key_for(2, 2, npy), overwrite);
    auto [bf, entries] = make_batch(0, 2, 2);
    w.write_batch(0, bf, entries);
  }
  auto after = snapshot(dir);
  check_kept(user, after);
  CHECK(after.count("shard-000000/pixel_values.npy") == 1);
  // A run that would write shard-000001 (not the first run's): refused naming it, and before
  // anything is deleted.
  CHECK_THROWS_WITH(DatasetWriter(dir, npy, key_for(4, 2, npy), overwrite),
                    Catch::Contains(dir + "/shard-000001: is in the way"));
  CHECK(snapshot(dir) == after);

  // Resuming the run deletes its own temporaries only.
  write_bytes(fs::path(dir) / temporary(dir, "shard-000000"), "partial");
  {
    DatasetWriter w(dir, npy, key_for(2, 2, npy));
    CHECK(w.completed_batches() == 1);
  }
  CHECK(snapshot(dir) == after);

  // Overwriting it with another run deletes its files (run.json, manifest, shards.jsonl, its
  // shard, its temporaries) and nothing else.
  write_bytes(fs::path(dir) / temporary(dir, "shard-000001"), "partial");
  {
    DatasetWriter w(dir, npy, key_for(1, 1, npy, {{"other", true}}), overwrite);
    CHECK(w.completed_batches() == 0);
  }
  after = snapshot(dir);
  check_kept(user, after);
  std::set<std::string> names = names_in(dir);
  CHECK(names == std::set<std::string>{"run.json", "manifest.jsonl", "shards.jsonl", "my_experiment.tmp",
                                       "notes.tmp", "shard-000001", "shard-000000.tmp"});

  // Without run.json, manifest.jsonl is not taken for a run's: refused, also with overwrite.
  const std::string orphan = tmp / "orphan";
  fs::create_directories(orphan);
  write_bytes(fs::path(orphan) / "manifest.jsonl", "mine\n");
  CHECK_THROWS_WITH(DatasetWriter(orphan, npy, key_for(3, 3, npy)),
                    Catch::Contains(orphan + ": holds manifest.jsonl but no run.json"));
  CHECK_THROWS_WITH(DatasetWriter(orphan, npy, key_for(3, 3, npy), overwrite),
                    Catch::Contains(orphan + "/manifest.jsonl: is in the way"));
  CHECK(read_file(fs::path(orphan) / "manifest.jsonl") == "mine\n");
}

TEST_CASE("DatasetWriter redoes a shard that does not match its record, and every batch after it",
          "[dataset_writer]") {
  const auto format = GENERATE(SinkSpec::Format::kNpy, SinkSpec::Format::kSafetensors);
  INFO(format_name(format));
  TempDir tmp("pixelflow_dataset_writer_");
  const int64_t total = 7, bs = 2;  // batches {0,1} {2,3} {4,5} {6}; batch 3 has no shard
  const std::string ref = tmp / "uninterrupted";
  write_run(ref, format, total, bs);
  const auto expected = snapshot(ref);
  const std::string dir = tmp / "damaged";
  write_run(dir, format, total, bs);
  const std::string suffix = format == SinkSpec::Format::kNpy ? "" : ".safetensors";
  const fs::path shard1 = fs::path(dir) / ("shard-000001" + suffix);
  const fs::path file1 = format == SinkSpec::Format::kNpy ? shard1 / "pixel_values.npy" : shard1;
  const std::string bytes = read_file(file1);
  const std::string manifest = read_file(fs::path(dir) / "manifest.jsonl");
  const std::string records = read_file(fs::path(dir) / "shards.jsonl");

  SECTION("truncated") { write_bytes(file1, bytes.substr(0, bytes.size() / 2)); }
  SECTION("rewritten with other bytes of the same size") {
    std::string other = bytes;
    other.back() = static_cast<char>(other.back() ^ 0x5a);
    write_bytes(file1, other);
  }
  SECTION("its record is gone") { write_bytes(fs::path(dir) / "shards.jsonl", records.substr(0, records.find('\n') + 1)); }
  SECTION("its record is damaged") {
    std::string damaged = records;
    const size_t second = records.find('\n') + 1;
    const size_t sha = records.find("\"sha256\":\"", second) + 10;
    damaged[sha] = damaged[sha] == '0' ? '1' : '0';
    write_bytes(fs::path(dir) / "shards.jsonl", damaged);
  }
  if (format == SinkSpec::Format::kNpy) {
    SECTION("npy: a file more") { write_bytes(shard1 / "extra.npy", "x"); }
    SECTION("npy: a file less") { fs::remove(shard1 / "original_sizes.0.npy"); }
  }
  {
    DatasetWriter w(dir, format, key_for(total, bs, format));
    CHECK(w.completed_batches() == 1);
    // Taken back: batch 1 on, lines, shards and records.
    size_t two_lines = manifest.find('\n', manifest.find('\n') + 1) + 1;
    CHECK(read_file(fs::path(dir) / "manifest.jsonl") == manifest.substr(0, two_lines));
    CHECK(read_file(fs::path(dir) / "shards.jsonl") == records.substr(0, records.find('\n') + 1));
    CHECK(!fs::exists(shard1));
    CHECK(!fs::exists(fs::path(dir) / ("shard-000002" + suffix)));
  }
  write_run(dir, format, total, bs, 1);
  CHECK(snapshot(dir) == expected);
}

TEST_CASE("DatasetWriter: the records in shards.jsonl", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const auto st = SinkSpec::Format::kSafetensors, npy = SinkSpec::Format::kNpy;
  write_run(tmp / "st", st, 3, 2);
  write_run(tmp / "npy", npy, 3, 2);
  const std::string s0 = read_file(fs::path(tmp / "st") / "shard-000000.safetensors");
  const std::string s1 = read_file(fs::path(tmp / "st") / "shard-000001.safetensors");
  CHECK(read_file(fs::path(tmp / "st") / "shards.jsonl") ==
        "{\"batch\":0,\"shard\":\"shard-000000.safetensors\",\"size\":" + std::to_string(s0.size()) +
            ",\"sha256\":\"" + sha256_hex(s0) + "\"}\n"
        "{\"batch\":1,\"shard\":\"shard-000001.safetensors\",\"size\":" + std::to_string(s1.size()) +
            ",\"sha256\":\"" + sha256_hex(s1) + "\"}\n");
  auto lines = read_file(fs::path(tmp / "npy") / "shards.jsonl");
  REQUIRE(std::count(lines.begin(), lines.end(), '\n') == 2);
  auto r = nlohmann::json::parse(lines.substr(0, lines.find('\n')));
  CHECK(r["batch"] == 0);
  CHECK(r["shard"] == "shard-000000");
  REQUIRE(r["files"].size() == 2);
  for (const char* name : {"pixel_values.npy", "original_sizes.0.npy"}) {
    INFO(name);
    const std::string f = read_file(fs::path(tmp / "npy") / "shard-000000" / name);
    CHECK(r["files"][name] == nlohmann::json({{"size", f.size()}, {"sha256", sha256_hex(f)}}));
  }
}

TEST_CASE("manifest.jsonl keeps bytes that are not UTF-8, as \\udcNN escapes", "[dataset_writer]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const auto npy = SinkSpec::Format::kNpy;
  const std::vector<std::string> inputs = {
      "imgs/caf\xe9.png",                         // Latin-1
      "imgs/\xff\xfe.jpg",                        // never UTF-8
      "imgs/ok-\xc3\xa9\xf0\x9f\x92\x80.png",     // valid UTF-8 (e acute, U+1F480): unchanged
      std::string("a\\udc80\"\n\x01") + '\0' + "b.png",  // looks like an escape; controls, NUL
      "\xc0\xaf\xed\xa0\x80\xe2\x82",             // overlong '/', an encoded surrogate, cut short
  };
  const std::string dir = tmp / "out";
  {
    DatasetWriter w(dir, npy, make_run_key({{"k", 1}}, inputs, 5, npy));
    std::vector<ManifestEntry> entries;
    int64_t rows = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      ManifestEntry e;
      e.input = inputs[i];
      if (i == 1) {
        e.ok = false;
        e.error = inputs[i] + ": cannot open";
      } else {
        e.index = rows++;
      }
      entries.push_back(e);
    }
    BatchFeature bf;
    bf.set("pixel_values", pattern(DType::kFloat32, {4, 2}, 0));
    w.write_batch(0, bf, entries);
  }
  CHECK(read_file(fs::path(dir) / "manifest.jsonl") ==
        "{\"input\": \"imgs/caf\\udce9.png\", \"status\": \"ok\", \"shard\": \"shard-000000\", \"index\": 0}\n"
        "{\"input\": \"imgs/\\udcff\\udcfe.jpg\", \"status\": \"error\", \"error\": \"imgs/\\udcff\\udcfe.jpg: cannot open\"}\n"
        "{\"input\": \"imgs/ok-\xc3\xa9\xf0\x9f\x92\x80.png\", \"status\": \"ok\", \"shard\": \"shard-000000\", \"index\": 1}\n"
        "{\"input\": \"a\\\\udc80\\\"\\n\\u0001\\u0000b.png\", \"status\": \"ok\", \"shard\": \"shard-000000\", \"index\": 2}\n"
        "{\"input\": \"\\udcc0\\udcaf\\udced\\udca0\\udc80\\udce2\\udc82\", \"status\": \"ok\", \"shard\": \"shard-000000\", \"index\": 3}\n");
  auto back = read_manifest(dir);
  REQUIRE(back.size() == inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    INFO(i);
    CHECK(back[i].input == inputs[i]);
  }
  CHECK(back[1].error == inputs[1] + ": cannot open");
  {
    DatasetWriter w(dir, npy, make_run_key({{"k", 1}}, inputs, 5, npy));  // the lines are committed
    CHECK(w.completed_batches() == 1);
  }
  // Random byte strings, biased towards escapes, quotes, NUL, bytes >= 0x80 and UTF-8
  // sequences, round-trip (every input failed: no shard).
  std::mt19937 rng(9);
  const std::vector<std::string> atoms = {"\\", "u", "d", "c", "8", "0", "\"", std::string(1, '\0'), "\n",
                                          "\xc3\xa9", "\xf0\x9f\x92\x80", "\xed\xb2\x80", "\\udc80",
                                          "\\ud83d", "a", "/"};
  std::vector<std::string> random_inputs;
  for (int i = 0; i < 300; ++i) {
    std::string r;
    for (int n = static_cast<int>(rng() % 12); n > 0; --n)
      r += rng() % 3 == 0 ? std::string(1, static_cast<char>(rng() % 256)) : atoms[rng() % atoms.size()];
    random_inputs.push_back(r);
  }
  const std::string random_dir = tmp / "random";
  {
    DatasetWriter w(random_dir, npy, make_run_key({{"k", 2}}, random_inputs, 300, npy));
    std::vector<ManifestEntry> entries;
    for (const auto& in : random_inputs) entries.push_back({in, false, "", -1, in + ": failed"});
    w.write_batch(0, BatchFeature(), entries);
  }
  back = read_manifest(random_dir);
  REQUIRE(back.size() == random_inputs.size());
  for (size_t i = 0; i < back.size(); ++i) {
    INFO(i);
    CHECK(back[i].input == random_inputs[i]);
    CHECK(back[i].error == random_inputs[i] + ": failed");
  }
  // Written by another tool: a surrogate pair is one character (U+1F480), an upper-case lone
  // escape one byte.
  const std::string other = tmp / "other";
  fs::create_directories(other);
  write_bytes(fs::path(other) / "manifest.jsonl",
             "{\"input\": \"\\ud83d\\udc80\\uDCE9\", \"status\": \"error\", \"error\": \"x\"}\n");
  back = read_manifest(other);
  REQUIRE(back.size() == 1);
  CHECK(back[0].input == "\xf0\x9f\x92\x80\xe9");
}

TEST_CASE("list_inputs leaves out the output folder inside the input folder", "[dataset_writer][input_source]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const fs::path data = tmp.path / "data";
  for (const char* f : {"a.png", "sub/b.jpg", "out/shard-000000/pixel_values.npy", "out/c.png", "out/deeper/d.png"}) {
    fs::create_directories((data / f).parent_path());
    write_bytes(data / f, "x");
  }
  const std::vector<std::string> all = {(data / "a.png").string(), (data / "out/c.png").string(),
                                        (data / "out/deeper/d.png").string(),
                                        (data / "out/shard-000000/pixel_values.npy").string(),
                                        (data / "sub/b.jpg").string()};
  const std::vector<std::string> mine = {(data / "a.png").string(), (data / "sub/b.jpg").string()};
  SourceSpec folder = source_from_argument(data.string(), /*recursive=*/true);
  SourceSpec glob = source_from_argument((data / "**" / "*.*").string());
  REQUIRE(glob.kind == SourceSpec::Kind::kGlob);
  CHECK(list_inputs(folder) == all);
  CHECK(list_inputs(glob) == all);
  // Any spelling of the output folder.
  for (const std::string& out : {(data / "out").string(), (data / "sub/../out/").string(),
                                 fs::relative(data / "out").string()}) {
    INFO(out);
    CHECK(list_inputs(folder, out) == mine);
    CHECK(list_inputs(glob, out) == mine);
  }
  CHECK(list_inputs(folder, (data / "missing").string()) == all);  // not there yet: nothing to leave out
  // Not recursive: the output folder is not listed anyway.
  CHECK(list_inputs(source_from_argument(data.string()), (data / "out").string()) ==
        std::vector<std::string>{(data / "a.png").string()});
  // The input folder itself as the output folder.
  CHECK_THROWS_WITH(list_inputs(folder, data.string()),
                    Catch::Contains(data.string() + ": is also the output folder"));
}

namespace {

// The tensor of `t` (float32) converted one value at a time by the references.
Tensor converted_by_reference(const Tensor& t, DType dtype) {
  Tensor out = Tensor::empty(dtype, t.shape());
  const float* in = static_cast<const float*>(t.raw_data());
  uint16_t* o = static_cast<uint16_t*>(out.raw_data());
  for (int64_t i = 0; i < t.numel(); ++i)
    o[i] = dtype == DType::kFloat16 ? float_to_half_reference(in[i]) : float_to_bfloat16_reference(in[i]);
  return out;
}

std::string key_with_dtype(int64_t total, int64_t batch_size, SinkSpec::Format format, DType dtype) {
  std::vector<std::string> inputs;
  for (int64_t i = 0; i < total; ++i) inputs.push_back("img" + std::to_string(i) + ".jpg");
  return make_run_key({{"size", {{"shortest_edge", 224}}}}, inputs, batch_size, format, dtype);
}

}  // namespace

TEST_CASE("cast_float32: float32 tensors (stacked and in lists) only, on any threads", "[dataset_writer][dtype]") {
  BatchFeature bf;
  bf.set("pixel_values", pattern(DType::kFloat32, {3, 5, 7, 11}, 1));
  bf.set("sizes", pattern(DType::kInt64, {3, 2}, 2));
  bf.set("f64", pattern(DType::kFloat64, {3}, 3));
  bf.set("per_image", std::vector<Tensor>{pattern(DType::kFloat32, {2, 3}, 4), pattern(DType::kUInt8, {4}, 5),
                                          Tensor::empty(DType::kFloat32, {0, 2}), pattern(DType::kFloat32, {1 << 17}, 6)});
  CHECK(has_float32(bf));
  for (DType dtype : {DType::kFloat16, DType::kBFloat16})
    for (int threads : {0, 1, 2, 3}) {
      INFO(dtype_name(dtype) << " threads " << threads);
      BatchFeature out = cast_float32(bf, dtype, threads);
      CHECK(!has_float32(out));
      CHECK(out.keys() == bf.keys());
      CHECK(same_tensor(out["pixel_values"], converted_by_reference(bf["pixel_values"], dtype)));
      CHECK(out["sizes"].raw_data() == bf["sizes"].raw_data());  // shared, not copied
      CHECK(same_tensor(out["f64"], bf["f64"]));
      const std::vector<Tensor> a = out.list("per_image"), b = bf.list("per_image");
      REQUIRE(a.size() == 4);
      CHECK(same_tensor(a[0], converted_by_reference(b[0], dtype)));
      CHECK(same_tensor(a[1], b[1]));
      CHECK((a[2].dtype() == dtype && a[2].shape() == Shape{0, 2}));
      CHECK(same_tensor(a[3], converted_by_reference(b[3], dtype)));
    }
  CHECK(cast_float32(bf, DType::kFloat32)["pixel_values"].raw_data() == bf["pixel_values"].raw_data());
  CHECK_THROWS_AS(cast_float32(bf, DType::kInt64), std::invalid_argument);
  CHECK(parse_float_dtype("bfloat16") == DType::kBFloat16);
  CHECK(!parse_float_dtype("half"));
  CHECK(!format_holds(SinkSpec::Format::kNpy, DType::kBFloat16));
  CHECK(format_holds(SinkSpec::Format::kNpy, DType::kFloat16));
}

TEST_CASE("npy: float16 is '<f2'; bfloat16 has no .npy type", "[dataset_writer][dtype]") {
  Tensor h = converted_by_reference(pattern(DType::kFloat32, {2, 3}, 1), DType::kFloat16);
  CHECK(npy_header(h).find("'descr': '<f2'") != std::string::npos);
  Tensor b = converted_by_reference(pattern(DType::kFloat32, {2, 3}, 1), DType::kBFloat16);
  CHECK_THROWS_AS(npy_header(b), std::invalid_argument);
}

TEST_CASE("DatasetWriter --dtype: float32 tensors written converted, the dtype in the run key", "[dataset_writer][dtype]") {
  TempDir tmp("pixelflow_dataset_writer_");
  const auto npy = SinkSpec::Format::kNpy, st = SinkSpec::Format::kSafetensors;
  // A float32 run keeps the key it had (no "dtype").
  CHECK(nlohmann::json::parse(key_for(3, 3, npy)).count("dtype") == 0);
  CHECK(nlohmann::json::parse(key_with_dtype(3, 3, npy, DType::kFloat16))["dtype"] == "float16");
  CHECK_THROWS_AS(make_run_key({}, {"a"}, 1, npy, DType::kInt64), std::invalid_argument);

  for (auto [format, dtype] : {std::pair{npy, DType::kFloat16}, std::pair{st, DType::kFloat16}, std::pair{st, DType::kBFloat16}}) {
    INFO(format_name(format) << " " << dtype_name(dtype));
    const std::string dir = tmp / (std::string(format_name(format)) + "_" + dtype_name(dtype));
    const std::string key = key_with_dtype(5, 3, format, dtype);
    {
      DatasetWriter w(dir, format, key);
      for (int64_t b = 0; b < 2; ++b) {
        auto [bf, entries] = make_batch(b, 3, 5);
        w.write_batch(b, bf, entries);
      }
    }
    CHECK(nlohmann::json::parse(read_file(fs::path(dir) / "run.json"))["dtype"] == dtype_name(dtype));
    auto [bf, entries] = make_batch(0, 3, 5);  // rows 1, 2 of the batch
    if (format == npy) {
      // load_npy reads no float16 (not an input type): compare the file's bytes.
      const std::string file = read_file(fs::path(dir) / "shard-000000" / "pixel_values.npy");
      const Tensor want = converted_by_reference(bf["pixel_values"], dtype);
      CHECK(file == npy_header(want) + std::string(npy_data(want)));
      CHECK(same_tensor(load_npy((fs::path(dir) / "shard-000000" / "original_sizes.0.npy").string()),
                        bf.list("original_sizes")[0]));
    } else {
      BatchFeature back = read_safetensors((fs::path(dir) / "shard-000000.safetensors").string());
      CHECK(same_tensor(back["pixel_values"], converted_by_reference(bf["pixel_values"], dtype)));
      CHECK(same_tensor(back["original_sizes.0"], bf.list("original_sizes")[0]));  // int64, as it was
    }
    // Resuming with another dtype (or none) is refused, naming it.
    CHECK_THROWS_WITH(DatasetWriter(dir, format, key_for(5, 3, format)),
                      Catch::Contains("dtype \"" + std::string(dtype_name(dtype)) + "\" there, absent now"));
    // The same dtype resumes: complete.
    DatasetWriter again(dir, format, key);
    CHECK(again.completed_batches() == 2);
  }
  // npy cannot hold bfloat16.
  CHECK_THROWS_AS(DatasetWriter(tmp / "npy_bf16", npy, key_with_dtype(3, 3, npy, DType::kBFloat16)),
                  std::invalid_argument);
  CHECK(!fs::exists(tmp / "npy_bf16"));
}
