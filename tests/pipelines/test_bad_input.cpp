// Bad input at the loader and in the readers: the decompression-bomb limit (LoadSpec::max_pixels)
// for image files and .npy arrays, and regressions found by fuzzing (tests/fuzz): each a one-line
// error naming the input.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/stat.h>

#include <filesystem>

#include "base/errors.h"
#include "base/file_io.h"
#include "graph/npy.h"
#include "ops/load_input/load_input.h"
#include "pipelines/yaml_pipeline.h"
#include "tests/common/test_config_util.h"

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

// ---------------------------------------------------------------------------------------------
// Regressions found by the fuzz targets (tests/fuzz; the reproducers also seed their corpus).

namespace {

std::string corpus_file(const std::string& target, const std::string& name) {
  std::ifstream in(std::string(PIXELFLOW_SOURCE_DIR) + "/tests/fuzz/corpus/" + target + "/" + name, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <class F>
std::string error_text(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("fuzz regressions: .npy", "[npy][fuzz]") {
  // A header whose key holds newlines: the error quoted it verbatim, over several lines.
  const std::string bytes = corpus_file("fuzz_npy", "regress_newline_in_header_key.npy");
  const std::string err = error_text([&] { parse_npy(bytes.data(), bytes.size(), "bad.npy"); });
  CHECK_THAT(err, Catch::StartsWith("bad.npy: unexpected key 'd") && Catch::Contains("\\n \\ndescr"));
  CHECK(err.find('\n') == std::string::npos);
}

TEST_CASE("fuzz regressions: PNG", "[decode_image][fuzz]") {
  // A second IHDR after the image data with an unknown colour type: probe_png read the mode
  // through an emptied optional (a wild pointer). Pillow keeps the first mode (its chunk_IHDR
  // ignores unknown modes), opens the file as P 7x5 and refuses to load it (its last row has
  // filter type 141; Pillow reports the trailing IHDR's filter byte, which it reads first).
  const std::string bytes = corpus_file("fuzz_decode_image", "regress_png_second_ihdr_unknown_mode.png");
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const ops::ImageInfo info = ops::probe_image(data, bytes.size(), "ihdr.png");
  CHECK(info.mode == "P");
  CHECK(info.width == 7);
  CHECK(info.height == 5);
  CHECK_THAT(error_text([&] { ops::decode_image(data, bytes.size(), "ihdr.png"); }),
             Catch::StartsWith("ihdr.png: ") && Catch::Contains("filter"));
}

TEST_CASE("fuzz regressions: YAML pipelines", "[yaml][fuzz]") {
  // yaml-cpp's LoadAll loops forever on this stream (its parser stops advancing and keeps
  // reporting empty documents); the reader loads the first document and counts at most two.
  const std::string text = corpus_file("fuzz_pipeline_yaml", "regress_loadall_hang.yaml");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string err = error_text([&] { pipelines::parse_pipeline_yaml(text, "hang.yaml"); });
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  CHECK_THAT(err, Catch::StartsWith("hang.yaml:"));
  CHECK(err.find('\n') == std::string::npos);
  // More than one document is refused where the second starts.
  CHECK(error_text([&] { pipelines::parse_pipeline_yaml("ops:\n  - flip_channel_order\n---\nbatch_size: 2\n", "two.yaml"); }) ==
        "two.yaml:3:1: (top level): one document per file, found more than one");
}

TEST_CASE("fuzz regressions: a config path the file system refuses", "[yaml][fuzz]") {
  // `config:` with a name too long for the file system: std::filesystem::exists threw
  // filesystem_error (not a pixelflow error). Now the path is simply not found.
  const std::string text = corpus_file("fuzz_pipeline_yaml", "regress_config_path_too_long.yaml");
  const std::string err = error_text([&] { pipelines::parse_pipeline_yaml(text, "long.yaml"); });
  CHECK(err.find('\n') == std::string::npos);
  CHECK(err != "<no error>");
  const std::string long_name(5000, 'x');
  CHECK_THAT(error_text([&] { pipelines::parse_pipeline_yaml("config: " + long_name + "\n", "long.yaml"); }),
             Catch::StartsWith("long.yaml:1:9: config: "));
}

// ---------------------------------------------------------------------------------------------
// Files that are not regular files (base/file_io.h): refused by type before anything is read,
// with the same one-line message wherever they are read.

namespace {

// A temporary folder holding each kind of non-regular file under an input's name.
struct OddFiles {
  test_config::TempDir dir;
  std::string zero_jpg = (dir.path() / "zero.jpg").string();    // -> /dev/zero
  std::string zero_npy = (dir.path() / "zero.npy").string();    // -> /dev/zero
  std::string fifo_jpg = (dir.path() / "fifo.jpg").string();    // a FIFO, no writer
  std::string fifo_npy = (dir.path() / "fifo.npy").string();
  std::string folder_jpg = (dir.path() / "x.jpg").string();     // a folder
  OddFiles() {
    std::filesystem::create_symlink("/dev/zero", zero_jpg);
    std::filesystem::create_symlink("/dev/zero", zero_npy);
    REQUIRE(mkfifo(fifo_jpg.c_str(), 0600) == 0);
    REQUIRE(mkfifo(fifo_npy.c_str(), 0600) == 0);
    std::filesystem::create_directory(folder_jpg);
  }
  std::vector<std::pair<std::string, std::string>> all() const {
    return {{zero_jpg, "a character device"}, {zero_npy, "a character device"}, {fifo_jpg, "a FIFO"},
            {fifo_npy, "a FIFO"}, {folder_jpg, "a directory"}};
  }
};

}  // namespace

TEST_CASE("file_io: only regular files are read, never past their size", "[file_io][load_input]") {
  OddFiles odd;
  for (const auto& entry : odd.all()) {
    const std::string& path = entry.first;  // clang 14 cannot capture a structured binding
    const std::string& kind = entry.second;
    INFO(path);
    const std::string want = path + ": not a regular file (" + kind + ")";
    CHECK(error_text([&] { read_regular_file(path); }) == want);
    CHECK(error_text([&] { RegularFile f(path, FileRole::kConfig); }) == want);
    CHECK_THROWS_AS(RegularFile(path, FileRole::kConfig), ConfigError);
    CHECK_THROWS_AS(RegularFile(path, FileRole::kInput), DecodeError);
  }
  CHECK_THAT(error_text([&] { read_regular_file((odd.dir.path() / "missing.jpg").string()); }),
             Catch::EndsWith("missing.jpg: cannot open file: No such file or directory"));
  const std::string text = (odd.dir.path() / "a.txt").string();
  test_config::write_file(text, "0123456789");
  CHECK(read_regular_file(text) == "0123456789");
  CHECK(read_regular_file(text, 10) == "0123456789");
  CHECK(error_text([&] { read_regular_file(text, 9, "a config file"); }) ==
        text + ": file too large (10 bytes, the limit for a config file is 9)");
  RegularFile f(text);
  char buf[16];
  CHECK(f.size() == 10);
  CHECK(f.read(buf, 4) == 4);
  CHECK(f.read(buf, sizeof buf) == 6);
  CHECK(f.read(buf, sizeof buf) == 0);
}

TEST_CASE("non-regular inputs: one message in every position, nothing read", "[file_io][load_input]") {
  OddFiles odd;
  const std::string good = fixture("jpeg_rgb_420.jpg");
  LoadSpec spec;
  for (const auto& [path, kind] : odd.all()) {
    INFO(path);
    const std::string want = path + ": not a regular file (" + kind + ")";
    // First input: read while the loader infers the layout from its header.
    CHECK(load_error(ops::InputItem::file(path), spec) == want);
    // Any input: read when loaded (a FIFO used to block in open, /dev/zero to be read to the end).
    std::string later;
    try {
      ops::InputLoader loader({ops::InputItem::file(good), ops::InputItem::file(path)}, spec);
      Sample s;
      s.index = 1;
      loader.load(s, ExecContext{});
    } catch (const Error& e) {
      later = e.what();
    }
    CHECK(later == want);
    // As a segmentation map.
    ops::InputItem with_map = ops::InputItem::file(good);
    with_map.labels_path = path;
    CHECK(load_error(with_map, spec) == want);
  }
  CHECK(error_text([&] { load_npy(odd.zero_npy); }) == odd.zero_npy + ": not a regular file (a character device)");
  CHECK(error_text([&] { load_npy(odd.fifo_npy); }) == odd.fifo_npy + ": not a regular file (a FIFO)");
}

TEST_CASE(".npy files: only the header and the data it declares are read", "[npy][file_io]") {
  test_config::TempDir dir;
  const Tensor t = Tensor::zeros(DType::kUInt8, {2, 3});
  const std::string header = npy_header(t);
  const std::string path = (dir.path() / "trailing.npy").string();
  test_config::write_file(path, npy_bytes(t) + std::string(1000, 'x'));  // trailing bytes
  const std::string bytes = read_npy_file(path, path);
  CHECK(bytes.size() == header.size() + 6);
  CHECK(load_npy(path).shape() == Shape{2, 3});
  CHECK(read_npy_file_header(path, path).shape == Shape{2, 3});
  // The check sees the header before any data is read; a short file is reported as truncated.
  bool checked = false;
  read_npy_file(path, path, [&](const TensorSpec& spec) { checked = spec.shape == Shape{2, 3}; });
  CHECK(checked);
  const std::string short_path = (dir.path() / "short.npy").string();
  test_config::write_file(short_path, npy_claiming("(100000, 100000)"));
  CHECK_THAT(error_text([&] { load_npy(short_path); }), Catch::StartsWith(short_path + ": truncated .npy data"));
  // A header not padded to 64 bytes, data right after it.
  const std::string tiny = (dir.path() / "tiny.npy").string();
  std::string tiny_bytes("\x93NUMPY\x01\x00", 8);
  const std::string dict = "{'descr':'|u1','fortran_order':False,'shape':(3,)}";
  tiny_bytes.push_back(char(dict.size()));
  tiny_bytes.push_back(0);
  test_config::write_file(tiny, tiny_bytes + dict + "abcxyz");
  const Tensor small = load_npy(tiny);
  REQUIRE(small.shape() == Shape{3});
  CHECK(std::string(static_cast<const char*>(small.raw_data()), 3) == "abc");
}

TEST_CASE("a control character in an input's name is escaped once, in every position", "[load_input]") {
  test_config::TempDir dir;
  const std::string odd = (dir.path() / "a\nb.jpg").string();
  test_config::write_file(odd, "not an image");
  const std::string shown = one_line_message(odd);
  const std::string first = load_error(ops::InputItem::file(odd), LoadSpec{});
  CHECK_THAT(first, Catch::StartsWith(shown + ": cannot identify image file"));
  CHECK(first.find("b.jpg") == first.rfind("b.jpg"));  // the name once
  CHECK(with_source(odd, first) == first);
  CHECK(with_source("other", first) == "other: " + first);
}
