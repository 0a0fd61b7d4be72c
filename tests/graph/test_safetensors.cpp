// graph/safetensors.h: tensor names (KEY, KEY.0, ...), the layout the writer's pieces give, and
// the reader's refusal of malformed headers, one line naming the file. (Byte-exact files and
// round trips of every dtype: tests/pipelines/test_dataset_writer.cpp.)
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/errors.h"
#include "graph/safetensors.h"

using namespace pixelflow;
namespace fs = std::filesystem;

namespace {

Tensor floats(Shape shape, std::vector<float> v) {
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  REQUIRE(static_cast<size_t>(t.numel()) == v.size());
  if (!v.empty()) std::memcpy(t.raw_data(), v.data(), t.nbytes());  // memcpy from null is undefined
  return t;
}

// A file of an 8-byte length, `header` and `data`.
std::string file_of(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

struct TempFile {
  std::string path = (fs::temp_directory_path() / ("pixelflow_st_" + std::to_string(::getpid()) + ".safetensors")).string();
  ~TempFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
  void write(const std::string& bytes) const {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << bytes;
  }
};

}  // namespace

TEST_CASE("named_tensors: KEY for stacked tensors, KEY.i for lists, clashes refused", "[safetensors]") {
  BatchFeature bf;
  bf.set("b", floats({1}, {1}));
  bf.set("a", std::vector<Tensor>{floats({1}, {2}), floats({2}, {3, 4})});
  auto named = named_tensors(bf, "where");
  REQUIRE(named.size() == 3);
  CHECK(named[0].name == "b");
  CHECK(named[1].name == "a.0");
  CHECK(named[2].name == "a.1");

  BatchFeature clash;
  clash.set("a", std::vector<Tensor>{floats({1}, {2})});
  clash.set("a.0", floats({1}, {1}));
  CHECK_THROWS_WITH(named_tensors(clash, "out/shard"),
                    Catch::StartsWith("out/shard: two tensors would be named 'a.0'"));
  BatchFeature undefined;
  undefined.set("x", Tensor());
  CHECK_THROWS_WITH(named_tensors(undefined, "w"), Catch::Equals("w: tensor 'x' is undefined"));
}

TEST_CASE("safetensors_layout: the header, then the tensors in data order", "[safetensors]") {
  BatchFeature bf;
  bf.set("z", floats({2}, {1, 2}));
  bf.set("empty", floats({0}, {}));
  bf.set("a", floats({1}, {3}));
  const SafetensorsLayout layout = safetensors_layout(bf, {}, "x");
  REQUIRE(layout.tensors.size() == 3);
  CHECK(layout.tensors[0].name == "a");  // same dtype: by name
  CHECK(layout.tensors[1].name == "empty");
  CHECK(layout.tensors[2].name == "z");
  const auto pieces = layout.pieces();
  REQUIRE(pieces.size() == 3);  // the empty tensor has no piece
  CHECK(pieces[0] == layout.header);
  CHECK(layout.header.size() % 8 == 0);
  std::string joined;
  for (auto p : pieces) joined += p;
  CHECK(joined == safetensors_bytes(bf, {}));
}

TEST_CASE("read_safetensors refuses malformed headers, one line naming the file", "[safetensors]") {
  TempFile f;
  const std::string data(8, '\0');  // two float32
  auto rejects = [&](const std::string& header, const std::string& needle, const std::string& body = std::string(8, '\0')) {
    f.write(file_of(header, body));
    INFO(header);
    CHECK_THROWS_WITH(read_safetensors(f.path),
                      Catch::StartsWith(f.path + ": ") && Catch::Contains(needle) && !Catch::Contains("\n"));
  };
  const std::string ok = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  f.write(file_of(ok, data));
  CHECK(read_safetensors(f.path).tensor("x").shape() == Shape{2});

  rejects(" {}", "header does not start with '{'");
  rejects("{", "header is not a JSON object");
  rejects(R"({"x":[]})", "tensor 'x': not an object");
  rejects(R"({"x":{"dtype":"F32","shape":[2]}})", "tensor 'x': needs dtype, shape and data_offsets");
  rejects(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", "needs dtype, shape and data_offsets");
  rejects(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "shape must hold non-negative integers");
  rejects(R"({"x":{"dtype":"F32","shape":[1099511627776,2],"data_offsets":[0,8]}})", "absurd shape");
  rejects(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}})", "data_offsets must be non-negative");
  rejects(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "data_offsets do not match its shape and dtype");
  rejects(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
          "data_offsets leave a gap or overlap");
  rejects(R"({"x":{"dtype":"I16","shape":[4],"data_offsets":[0,8]}})", "dtype I16 is not supported");  // (BF16, F16: read)
  rejects(ok, "data ends at byte 70, file has 71", std::string(9, '\0'));
  f.write(std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8));
  CHECK_THROWS_WITH(read_safetensors(f.path), Catch::Contains("header length 4294967295 too large"));
}
