// The decompression-bomb limit at the loader (LoadSpec::max_pixels): image files and .npy arrays,
// from files and from memory, refused from their header with a one-line error naming the input.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "graph/errors.h"
#include "graph/npy.h"
#include "ops/load_input/load_input.h"

using namespace pixelflow;

namespace {

std::string fixture(const std::string& name) { return std::string(PIXELFLOW_TEST_DATA_DIR) + "/decode/" + name; }

// The error loading input 0 through an InputLoader with `spec`, or "" when it loads.
std::string load_error(ops::InputItem item, LoadSpec spec) {
  try {
    ops::InputLoader loader({std::move(item)}, spec);
    Sample s;
    loader.load(s, ExecContext{});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A .npy header claiming `shape` (uint8) over 16 bytes of data.
std::string npy_claiming(const std::string& shape) {
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': " + shape + ", }";
  dict.append(117 - dict.size(), ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(char(dict.size()));
  out.push_back(0);
  return out + dict + std::string(16, '\0');
}

}  // namespace

TEST_CASE(".npy arrays: the limit counts H x W, from the header", "[load_input][bomb]") {
  LoadSpec spec;
  spec.input_data_format = Layout::kChannelsLast;
  for (const char* shape : {"(100000, 100000, 3)", "(3, 100000, 100000)", "(100000, 100000)"}) {
    INFO(shape);
    const std::string err = load_error(ops::InputItem::from_bytes(npy_claiming(shape), "bomb.npy"), spec);
    CHECK_THAT(err, Catch::StartsWith("bomb.npy: ") && Catch::Contains("more than the limit of 178956970"));
  }
  // Within the limit the header is fine and the data is simply missing.
  CHECK_THAT(load_error(ops::InputItem::from_bytes(npy_claiming("(1000, 1000, 3)"), "short.npy"), spec),
             Catch::StartsWith("short.npy: truncated .npy data"));
  // Without a limit the same array is refused as truncated, still before allocation.
  spec.max_pixels = 0;
  CHECK_THAT(load_error(ops::InputItem::from_bytes(npy_claiming("(100000, 100000, 3)"), "bomb.npy"), spec),
             Catch::StartsWith("bomb.npy: truncated .npy data"));
  // A real array just over a small limit, and at it.
  Tensor t = Tensor::zeros(DType::kUInt8, {4, 5, 3});
  spec.max_pixels = 19;
  CHECK_THAT(load_error(ops::InputItem::from_bytes(npy_bytes(t), "small.npy"), spec),
             Catch::Contains("has 20 pixels, more than the limit of 19"));
  spec.max_pixels = 20;
  CHECK(load_error(ops::InputItem::from_bytes(npy_bytes(t), "small.npy"), spec).empty());
}

TEST_CASE("image files: LoadSpec::max_pixels reaches the decoder", "[load_input][bomb]") {
  LoadSpec spec;
  spec.max_pixels = 37 * 23 - 1;
  const std::string path = fixture("jpeg_rgb_420.jpg");  // 37 x 23
  CHECK_THAT(load_error(ops::InputItem::file(path), spec),
             Catch::StartsWith(path + ": ") && Catch::Contains("exceeds the limit of 850 pixels"));
  spec.max_pixels = 37 * 23;
  CHECK(load_error(ops::InputItem::file(path), spec).empty());
  spec.max_pixels = 0;
  CHECK(load_error(ops::InputItem::file(path), spec).empty());
}
