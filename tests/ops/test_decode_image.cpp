// decode_image against Pillow 9.4: tests/data/decode/manifest.json holds, for every fixture, the
// mode and the SHA-256 of np.array(Image.open(f)), of np.array(im.convert("RGB")) and of
// transformers' load_image (exif_transpose + convert("RGB")), or the fact that Pillow refuses the
// file (regenerate with tests/data/decode/make_fixtures.py).
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "graph/tensor.h"
#include "ops/convert_rgb/convert_rgb.h"
#include "ops/decode_image/decode_image.h"
#include "base/sha256.h"

namespace pixelflow::decode_test {

std::string sha256_hex(const Tensor& t) {
  return pixelflow::sha256_hex(std::string_view(static_cast<const char*>(t.raw_data()), t.nbytes()));
}

const nlohmann::json& decode_manifest() {
  static const nlohmann::json manifest = [] {
    std::ifstream in(std::string(PIXELFLOW_TEST_DATA_DIR) + "/decode/manifest.json");
    if (!in) throw std::runtime_error("tests/data/decode/manifest.json is missing");
    return nlohmann::json::parse(in);
  }();
  return manifest;
}

}  // namespace pixelflow::decode_test

using namespace pixelflow;
using decode_test::sha256_hex;

namespace {

std::string fixture(const std::string& name) { return std::string(PIXELFLOW_TEST_DATA_DIR) + "/decode/" + name; }

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Shape, dtype and SHA-256 of `t` equal the manifest entry `expected`.
void check_array(const Tensor& t, const nlohmann::json& expected) {
  Shape shape = expected["shape"].get<Shape>();
  CHECK(t.shape() == shape);
  CHECK(std::string(dtype_name(t.dtype())) == expected["dtype"].get<std::string>());
  CHECK(sha256_hex(t) == expected["sha256"].get<std::string>());
}

bool supported(const std::string& format) {
  return format == "JPEG" || format == "MPO" || format == "PNG" || format == "WEBP" || format == "BMP";
}

}  // namespace

TEST_CASE("decode_image gives Pillow's mode and pixels for every fixture", "[decode_image]") {
  const auto& files = decode_test::decode_manifest()["files"];
  REQUIRE(files.size() >= 100);
  int decoded = 0, refused = 0;
  for (const auto& [name, expected] : files.items()) {
    INFO("fixture " << name);
    std::string path = fixture(name);
    if (expected.contains("error")) {
      // Pillow refuses the file: so must we, with a one-line message naming it.
      INFO("Pillow: " << expected["error"].get<std::string>());
      try {
        ops::decode_image_file(path);
        FAIL("decoded a file Pillow refuses");
      } catch (const DecodeError& e) {
        CHECK(std::string(e.what()).find(path) == 0);
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
        CHECK(e.file() == path);
      }
      ++refused;
      continue;
    }
    std::string format = expected["format"];
    if (!supported(format)) {
      // Formats Pillow opens but pixelflow does not decode are named in the error.
      REQUIRE_THROWS_WITH(ops::decode_image_file(path), Catch::Contains("unsupported image format: " + format));
      continue;
    }
    ops::DecodedImage img = ops::decode_image_file(path);
    CHECK(img.format == format);
    CHECK(img.mode == expected["mode"].get<std::string>());
    check_array(img.pixels, expected["np_array"]);
    CHECK(img.exif_orientation == expected["exif_orientation"].get<int>());
    CHECK(img.palette.size() == (img.mode == "P" ? 768u : 0u));
    check_array(ops::convert_rgb(img), expected["convert_rgb"]);
    check_array(ops::load_image_rgb(img), expected["load_image"]);
    ++decoded;
  }
  CHECK(decoded >= 80);
  CHECK(refused >= 15);
}

TEST_CASE("decode from memory, from a file and probe_image agree", "[decode_image]") {
  BufferPool pool;
  for (const auto& [name, expected] : decode_test::decode_manifest()["files"].items()) {
    if (expected.contains("error") || !supported(expected["format"])) continue;
    INFO("fixture " << name);
    std::vector<uint8_t> bytes = read_bytes(fixture(name));
    ops::DecodedImage img = ops::decode_image(bytes.data(), bytes.size(), name, {}, &pool);
    CHECK(sha256_hex(img.pixels) == expected["np_array"]["sha256"].get<std::string>());
    ops::ImageInfo info = ops::probe_image(bytes.data(), bytes.size(), name);
    CHECK(info.format == img.format);
    CHECK(info.mode == img.mode);
    CHECK(info.height == img.pixels.dim(0));
    CHECK(info.width == img.pixels.dim(1));
    CHECK(info.exif_orientation == img.exif_orientation);
  }
}

TEST_CASE("decoded pixels come from the pool and are reused", "[decode_image]") {
  BufferPool pool;
  std::vector<uint8_t> bytes = read_bytes(fixture("jpeg_rgb_420.jpg"));
  const void* first;
  {
    ops::DecodedImage img = ops::decode_image(bytes.data(), bytes.size(), "a.jpg", {}, &pool);
    first = img.pixels.raw_data();
  }
  CHECK(pool.cached_bytes() >= 23 * 37 * 3);
  ops::DecodedImage again = ops::decode_image(bytes.data(), bytes.size(), "a.jpg", {}, &pool);
  CHECK(again.pixels.raw_data() == first);
}

TEST_CASE("bad input: clear errors naming the file", "[decode_image]") {
  SECTION("zero bytes") {
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("empty.jpg")),
                        Catch::StartsWith(fixture("empty.jpg") + ": ") && Catch::Contains("empty file"));
    REQUIRE_THROWS_AS(ops::decode_image(nullptr, 0, "mem"), DecodeError);
  }
  SECTION("unknown format") {
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("not_an_image.txt")), Catch::Contains("cannot identify image file"));
    REQUIRE_THROWS_AS(ops::probe_image(reinterpret_cast<const uint8_t*>("hello"), 5, "x"), DecodeError);
  }
  SECTION("missing file") {
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("no_such_file.png")), Catch::Contains("cannot open file"));
  }
  SECTION("truncated and corrupt data") {
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("jpeg_truncated.jpg")), Catch::Contains("truncated"));
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("png_truncated.png")), Catch::Contains("truncated"));
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("png_bad_ihdr_crc.png")), Catch::Contains("bad checksum"));
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("png_bad_filter.png")), Catch::Contains("filter"));
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("bmp_truncated.bmp")), Catch::Contains("truncated"));
    REQUIRE_THROWS_AS(ops::decode_image_file(fixture("webp_truncated.webp")), DecodeError);
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("jpeg_arith_over_64k.jpg")), Catch::Contains("broken JPEG data"));
  }
  SECTION("absurd declared sizes are refused from the header, before allocation") {
    // 60000 x 60000 RGB would need 10.8 GB; 100000 x 100000 even more.
    for (const char* name : {"jpeg_huge_declared.jpg", "png_huge_declared.png", "bmp_huge_declared.bmp"}) {
      INFO(name);
      REQUIRE_THROWS_WITH(ops::decode_image_file(fixture(name)), Catch::Contains("exceeds the limit of 178956970 pixels"));
      std::vector<uint8_t> bytes = read_bytes(fixture(name));
      ops::ImageInfo info = ops::probe_image(bytes.data(), bytes.size(), name);  // the probe only reads
      CHECK(info.width * info.height > 178956970);
    }
  }
  SECTION("max_pixels is configurable") {
    ops::DecodeOptions tight;
    tight.max_pixels = 37 * 23 - 1;
    REQUIRE_THROWS_WITH(ops::decode_image_file(fixture("jpeg_rgb_420.jpg"), tight), Catch::Contains("exceeds"));
    tight.max_pixels = 37 * 23;
    CHECK(ops::decode_image_file(fixture("jpeg_rgb_420.jpg"), tight).pixels.dim(1) == 37);
    ops::DecodeOptions unlimited;
    unlimited.max_pixels = 0;
    CHECK(ops::decode_image_file(fixture("png_c2_b8.png"), unlimited).pixels.dim(0) == 5);
  }
}

TEST_CASE("damaged files never crash: every prefix and random byte flips", "[decode_image]") {
  // Each damaged input either decodes to a well-formed RGB image or is refused with a DecodeError
  // naming the file; any other exception (or a crash) fails the test. Both outcomes must occur:
  // the empty prefix of every file is refused, and the untouched file decodes.
  std::mt19937 rng(12345);
  int decoded = 0, refused = 0;
  for (const char* name : {"jpeg_rgb_422_progressive.jpg", "jpeg_cmyk_adobe.jpg", "jpeg_arith_progressive.jpg",
                           "png_c3_b4_interlaced.png", "png_c6_b16.png", "webp_lossy_alpha.webp",
                           "webp_lossless.webp", "webp_animated.webp", "bmp_rle4.bmp", "bmp_8_palette.bmp"}) {
    INFO(name);
    std::vector<uint8_t> good = read_bytes(fixture(name));
    REQUIRE(!good.empty());
    // true: decoded to (H, W, 3) uint8; false: refused with a DecodeError naming the file.
    auto attempt = [&](const std::vector<uint8_t>& bytes) {
      try {
        ops::DecodedImage img = ops::decode_image(bytes.data(), bytes.size(), name);
        Tensor rgb = ops::convert_rgb(img);
        CHECK(rgb.dtype() == DType::kUInt8);
        CHECK(rgb.ndim() == 3);
        CHECK(rgb.dim(0) > 0);
        CHECK(rgb.dim(1) > 0);
        CHECK(rgb.dim(2) == 3);
        ++decoded;
        return true;
      } catch (const DecodeError& e) {
        CHECK(std::string(e.what()).find(name) == 0);
        CHECK(e.file() == name);
        ++refused;
        return false;
      }
    };
    CHECK_FALSE(attempt({}));
    CHECK(attempt(good));
    for (size_t cut = 1 + good.size() / 97; cut < good.size(); cut += 1 + good.size() / 97) {
      attempt(std::vector<uint8_t>(good.begin(), good.begin() + cut));
    }
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<uint8_t> bytes = good;
      int flips = 1 + int(rng() % 4);
      for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = uint8_t(rng());
      attempt(bytes);
    }
  }
  CHECK(decoded > 10);
  CHECK(refused > 10);
}

TEST_CASE("libjpeg warnings and errors are never printed", "[decode_image]") {
  std::vector<uint8_t> bytes = read_bytes(fixture("jpeg_rgb_444_q100.jpg"));
  // Corrupt the entropy-coded data (libjpeg warns) and cut the file (libjpeg errors).
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 8; ++i) bytes[i] = 0xFF;
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + bytes.size() * 3 / 4);
  std::fflush(stderr);
  char path[] = "/tmp/pixelflow_stderr_XXXXXX";
  int capture = mkstemp(path);
  REQUIRE(capture >= 0);
  int saved = dup(2);
  dup2(capture, 2);
  for (const auto* data : {&bytes, &cut}) {
    try {
      ops::decode_image(data->data(), data->size(), "corrupt.jpg");
    } catch (const DecodeError&) {
    }
  }
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  off_t printed = lseek(capture, 0, SEEK_END);
  close(capture);
  unlink(path);
  CHECK(printed == 0);
}

// ---------------------------------------------------------------------------------------------
// Decompression bombs and absurd sizes: files crafted in memory whose headers claim far more
// pixels than they hold. The limit (and the size sanity checks) must refuse them from the header,
// before anything that grows with the image is allocated: fast, and with the process's peak RSS
// unchanged (ctest runs every TEST_CASE in a fresh process, so the peak starts small).

namespace {

uint32_t crc32_of(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}
std::string le32(uint32_t v) {
  return {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
}
std::string le16(uint16_t v) { return {char(v), char(v >> 8)}; }

std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32_of(type + data));
}

// An 8-bit RGB PNG header claiming width x height, then a few bytes of zlib data and IEND.
std::string crafted_png(uint32_t width, uint32_t height) {
  std::string ihdr = be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  const std::string idat("\x78\x9c\x63\x60\x00\x00\x00\x02\x00\x01", 10);  // zlib of one 0 byte
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", idat) +
         png_chunk("IEND", "");
}

// A 24-bit BMP (40-byte info header) claiming width x height over 64 bytes of pixel data.
std::string crafted_bmp(uint32_t width, uint32_t height, uint32_t compression = 0, int bits = 24) {
  std::string info = le32(40) + le32(width) + le32(height) + le16(1) + le16(uint16_t(bits)) + le32(compression) +
                     le32(0) + le32(2835) + le32(2835) + le32(0) + le32(0);
  std::string palette;
  if (bits == 8)
    for (int i = 0; i < 256; ++i) palette += std::string{char(i), char(255 - i), char(i / 2), 0};
  std::string pixels(64, '\0');
  if (compression == 1) {  // RLE8: two deltas of 255 rows (Pillow skips a byte pair first), then the end
    pixels.clear();
    for (int i = 0; i < 2; ++i) pixels += std::string("\x00\x02\x00\x00\xff\xff", 6);
    pixels += std::string("\x00\x01", 2);
  }
  const uint32_t offset = uint32_t(14 + info.size() + palette.size());
  return "BM" + le32(uint32_t(offset + pixels.size())) + le32(0) + le32(offset) + info + palette + pixels;
}

// The 1x1 JPEG fixture with its frame header (SOF0) patched to claim width x height.
std::string crafted_jpeg(uint16_t width, uint16_t height) {
  std::vector<uint8_t> good = read_bytes(fixture("jpeg_1x1.jpg"));
  std::string bytes(good.begin(), good.end());
  const size_t sof = bytes.find("\xff\xc0");
  REQUIRE(sof != std::string::npos);
  bytes[sof + 5] = char(height >> 8);
  bytes[sof + 6] = char(height);
  bytes[sof + 7] = char(width >> 8);
  bytes[sof + 8] = char(width);
  return bytes;
}

// A lossless WebP (VP8L) whose bitstream header claims width x height (at most 16384 each).
std::string crafted_webp(uint32_t width, uint32_t height) {
  const uint32_t bits = (width - 1) | (height - 1) << 14;  // no alpha, version 0
  std::string vp8l = std::string(1, '\x2f') + le32(bits) + std::string(27, '\0');
  std::string chunk = "VP8L" + le32(uint32_t(vp8l.size())) + vp8l;
  return "RIFF" + le32(uint32_t(4 + chunk.size())) + "WEBP" + chunk;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// decode_image refuses `bytes`: a DecodeError naming `name` whose message contains `needle`,
// within a second, without raising the peak RSS by more than 32 MiB.
void check_refused(const std::string& bytes, const std::string& name, const std::string& needle,
                   int64_t max_pixels = ops::kDefaultMaxImagePixels) {
  INFO(name << " (" << bytes.size() << " bytes), max_pixels " << max_pixels);
  ops::DecodeOptions opts;
  opts.max_pixels = max_pixels;
  const long rss_before = peak_rss_kib();
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  try {
    ops::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name, opts);
  } catch (const DecodeError& e) {
    message = e.what();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK_THAT(message, Catch::StartsWith(name + ": ") && Catch::Contains(needle));
  CHECK(message.find('\n') == std::string::npos);
  CHECK(seconds < 1.0);
  CHECK(peak_rss_kib() - rss_before < 32 * 1024);
}

}  // namespace

TEST_CASE("headers claiming huge sizes in tiny files are refused before allocation", "[decode_image][bomb]") {
  const std::string limit = "exceeds the limit of 178956970 pixels";
  SECTION("over the default limit (Pillow's DecompressionBombError threshold)") {
    const std::string png = crafted_png(100000, 100000);
    CHECK(png.size() < 80);
    check_refused(png, "bomb.png", limit);
    check_refused(crafted_jpeg(65500, 65500), "bomb.jpg", limit);
    check_refused(crafted_bmp(100000, 100000), "bomb.bmp", limit);
    check_refused(crafted_bmp(0x7FFFFFFF, 2), "bomb_wide.bmp", limit);
    check_refused(crafted_webp(16384, 16384), "bomb.webp", limit);
    // Just above the limit, and the same count with the limit one higher: passes the check (then
    // fails as truncated, still before allocating).
    check_refused(crafted_png(178956971, 1), "edge.png", limit);
    check_refused(crafted_png(178956971, 1), "edge.png", "truncated", 178956971);
  }
  SECTION("the header is still read like Image.open: probe_image reports the claimed size") {
    const std::string png = crafted_png(100000, 100000);
    ops::ImageInfo info = ops::probe_image(reinterpret_cast<const uint8_t*>(png.data()), png.size(), "bomb.png");
    CHECK(info.width == 100000);
    CHECK(info.height == 100000);
  }
  SECTION("without a limit, sizes no file could hold are still refused before allocation") {
    check_refused(crafted_bmp(0xFFFFFFFFu, 1), "wide.bmp", "absurd image size 4294967295x1", 0);
    check_refused(crafted_png(0x80000000u, 1), "wide.png", "absurd image size 2147483648x1", 0);
    // 10^10 pixels in 60 bytes: more than deflate can expand those bytes to.
    check_refused(crafted_png(100000, 100000), "tiny.png", "truncated", 0);
    check_refused(crafted_bmp(100000, 100000), "tiny.bmp", "truncated", 0);
    check_refused(crafted_bmp(20000, 20000, /*RLE8*/ 1, 8), "tiny_rle.bmp", "not enough image data", 0);
  }
  SECTION("empty sizes") {
    check_refused(crafted_png(0, 5), "zero.png", "no pixels");
    check_refused(crafted_png(5, 0), "zero.png", "no pixels");
    check_refused(crafted_bmp(0, 7), "zero.bmp", "no pixels");
    check_refused(crafted_jpeg(0, 7), "zero.jpg", "empty");
  }
}

TEST_CASE("every bad file is one line naming the file", "[decode_image]") {
  // Zero bytes, text, formats pixelflow does not read, truncated and corrupt files of each format,
  // a directory: each refused with "<file>: <problem>" on one line.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty.jpg", "empty file"},
      {"not_an_image.txt", "cannot identify image file"},
      {"gif_image.gif", "unsupported image format: GIF"},
      {"jpeg_truncated.jpg", "truncated"},
      {"jpeg_no_sof.jpg", "JPEG"},
      {"png_truncated.png", "truncated"},
      {"png_bad_ihdr_crc.png", "bad checksum"},
      {"bmp_truncated.bmp", "truncated"},
      {"webp_truncated.webp", "WebP"},
  };
  for (const auto& [file, needle] : cases) {
    INFO(file);
    const std::string path = fixture(file);
    std::string message;
    try {
      ops::decode_image_file(path);
    } catch (const DecodeError& e) {
      message = e.what();
    }
    CHECK_THAT(message, Catch::StartsWith(path + ": ") && Catch::Contains(needle));
    CHECK(message.find('\n') == std::string::npos);
  }
  CHECK_THROWS_WITH(ops::decode_image_file(std::string(PIXELFLOW_TEST_DATA_DIR)),
                    Catch::StartsWith(std::string(PIXELFLOW_TEST_DATA_DIR) + ": ") && Catch::Contains("directory"));
}
