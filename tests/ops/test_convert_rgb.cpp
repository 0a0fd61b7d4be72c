// convert_rgb and exif_transpose against Pillow 9.4: inputs are built from the same formulas as
// in tests/data/decode/make_fixtures.py, whose manifest.json holds Pillow's results
// (convert_cases: np.array(Image.fromarray(x, mode).convert("RGB")); transpose_cases:
// Image.transpose for each EXIF orientation).
#include <catch2/catch.hpp>

#include <cstring>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "graph/tensor.h"
#include "ops/convert_rgb/convert_rgb.h"
#include "ops/decode_image/decode_image.h"

namespace pixelflow::decode_test {
// Defined in test_decode_image.cpp.
std::string sha256_hex(const Tensor& t);
const nlohmann::json& decode_manifest();
}  // namespace pixelflow::decode_test

using namespace pixelflow;
using decode_test::sha256_hex;

namespace {

// An (h, w, channels) or (h, w) tensor whose element (y, x, c) is f(y, x)[c].
template <class T>
Tensor from_formula(int64_t h, int64_t w, int channels, DType dtype,
                    const std::function<std::vector<int64_t>(int64_t, int64_t)>& f) {
  Shape shape = channels ? Shape{h, w, channels} : Shape{h, w};
  Tensor t = Tensor::empty(dtype, shape);
  T* p = static_cast<T*>(t.raw_data());
  int c_count = channels ? channels : 1;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      std::vector<int64_t> v = f(y, x);
      for (int c = 0; c < c_count; ++c) p[(y * w + x) * c_count + c] = T(v[size_t(c)]);
    }
  }
  return t;
}

ops::DecodedImage image_of(std::string mode, Tensor pixels) {
  ops::DecodedImage img;
  img.format = "PNG";
  img.mode = std::move(mode);
  img.pixels = std::move(pixels);
  return img;
}

void check_against(const Tensor& t, const nlohmann::json& expected) {
  CHECK(t.shape() == expected["shape"].get<Shape>());
  CHECK(std::string(dtype_name(t.dtype())) == expected["dtype"].get<std::string>());
  CHECK(sha256_hex(t) == expected["sha256"].get<std::string>());
}

Tensor bits_image() {  // mode "1": True stored as 0xFF, as np.array gives it
  return from_formula<uint8_t>(9, 13, 0, DType::kBool, [](int64_t y, int64_t x) {
    return std::vector<int64_t>{(x * 3 + y) % 5 == 0 ? 0xFF : 0};
  });
}

Tensor int_image(int64_t h, int64_t w) {
  return from_formula<int32_t>(h, w, 0, DType::kInt32, [](int64_t y, int64_t x) {
    return std::vector<int64_t>{(y * 64 + x) * 37 - 70000};
  });
}

}  // namespace

TEST_CASE("convert_rgb matches Pillow's convert(\"RGB\") for every mode", "[convert_rgb]") {
  const auto& cases = decode_test::decode_manifest()["convert_cases"];
  REQUIRE(cases.size() == 8);

  SECTION("CMYK, all (c, k) pairs and mixed channels") {
    Tensor cmyk = from_formula<uint8_t>(256, 256, 4, DType::kUInt8, [](int64_t y, int64_t x) {
      return std::vector<int64_t>{y, x, (y * 7 + x * 3) % 256, (y * 13 + x * 5) % 256};
    });
    check_against(ops::convert_rgb(image_of("CMYK", cmyk)), cases["CMYK"]);
    Tensor ck = from_formula<uint8_t>(256, 256, 4, DType::kUInt8, [](int64_t y, int64_t x) {
      return std::vector<int64_t>{y, x, x, x};
    });
    check_against(ops::convert_rgb(image_of("CMYK", ck)), cases["CMYK_ck"]);
  }
  SECTION("I is clipped to 0..255") {
    check_against(ops::convert_rgb(image_of("I", int_image(64, 64))), cases["I"]);
  }
  SECTION("L and LA replicate luminance, alpha is dropped") {
    Tensor l = from_formula<uint8_t>(16, 16, 0, DType::kUInt8, [](int64_t y, int64_t x) {
      return std::vector<int64_t>{y * 16 + x};
    });
    check_against(ops::convert_rgb(image_of("L", l)), cases["L"]);
    Tensor la = from_formula<uint8_t>(16, 16, 2, DType::kUInt8, [](int64_t y, int64_t x) {
      return std::vector<int64_t>{y * 16 + x, 255 - x};
    });
    check_against(ops::convert_rgb(image_of("LA", la)), cases["LA"]);
  }
  SECTION("RGBA drops alpha without compositing") {
    Tensor rgba = from_formula<uint8_t>(16, 16, 4, DType::kUInt8, [](int64_t y, int64_t x) {
      return std::vector<int64_t>{y * 16 + x, x * 3, y * 5, (x * y) % 256};
    });
    check_against(ops::convert_rgb(image_of("RGBA", rgba)), cases["RGBA"]);
  }
  SECTION("1 maps to 0/255") {
    check_against(ops::convert_rgb(image_of("1", bits_image())), cases["1"]);
  }
  SECTION("P maps through the palette") {
    ops::DecodedImage img = image_of("P", from_formula<uint8_t>(16, 16, 0, DType::kUInt8, [](int64_t y, int64_t x) {
                                       return std::vector<int64_t>{y * 16 + x};
                                     }));
    for (int i = 0; i < 256; ++i) {
      img.palette.push_back(uint8_t((i * 5) % 256));
      img.palette.push_back(uint8_t((i * 11) % 256));
      img.palette.push_back(uint8_t(255 - i));
    }
    check_against(ops::convert_rgb(img), cases["P"]);
  }
}

TEST_CASE("convert_rgb values spelled out", "[convert_rgb]") {
  // CMYK: Pillow's cmyk2rgb, channel = 255 - k - MULDIV255(c, 255 - k).
  Tensor cmyk = Tensor::empty(DType::kUInt8, {1, 4, 4});
  const uint8_t in[16] = {0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255, 100, 50, 200, 30};
  std::memcpy(cmyk.raw_data(), in, 16);
  Tensor rgb = ops::convert_rgb(image_of("CMYK", cmyk));
  const uint8_t* o = rgb.data<uint8_t>();
  CHECK(std::vector<int>(o, o + 12) ==
        std::vector<int>{255, 255, 255, 0, 255, 255, 0, 0, 0, 137, 181, 49});

  Tensor ints = Tensor::empty(DType::kInt32, {1, 4});
  const int32_t iv[4] = {-5, 17, 255, 65535};
  std::memcpy(ints.raw_data(), iv, sizeof(iv));
  Tensor clipped = ops::convert_rgb(image_of("I", ints));
  const uint8_t* c = clipped.data<uint8_t>();
  CHECK(std::vector<int>{c[0], c[3], c[6], c[9]} == std::vector<int>{0, 17, 255, 255});
}

TEST_CASE("convert_rgb on RGB returns the same storage", "[convert_rgb]") {
  Tensor rgb = Tensor::zeros(DType::kUInt8, {4, 5, 3});
  Tensor out = ops::convert_rgb(image_of("RGB", rgb));
  CHECK(out.raw_data() == rgb.raw_data());
  CHECK(out.storage() == rgb.storage());
}

TEST_CASE("convert_rgb output comes from the pool", "[convert_rgb]") {
  BufferPool pool;
  Tensor la = Tensor::zeros(DType::kUInt8, {8, 8, 2});
  const void* first;
  {
    Tensor out = ops::convert_rgb(image_of("LA", la), &pool);
    first = out.raw_data();
  }
  CHECK(ops::convert_rgb(image_of("LA", la), &pool).raw_data() == first);
}

TEST_CASE("convert_rgb rejects what it cannot convert", "[convert_rgb]") {
  CHECK_THROWS_AS(ops::convert_rgb(image_of("YCbCr", Tensor::zeros(DType::kUInt8, {2, 2, 3}))), InputError);
  CHECK_THROWS_AS(ops::convert_rgb(image_of("P", Tensor::zeros(DType::kUInt8, {2, 2}))), InputError);  // no palette
  CHECK_THROWS_AS(ops::convert_rgb(image_of("RGB", Tensor::zeros(DType::kUInt8, {2, 2, 4}))), InputError);
  CHECK_THROWS_AS(ops::convert_rgb(image_of("I", Tensor::zeros(DType::kUInt8, {2, 2}))), InputError);
}

TEST_CASE("exif_transpose matches Image.transpose for orientations 2..8", "[convert_rgb]") {
  const auto& cases = decode_test::decode_manifest()["transpose_cases"];
  REQUIRE(cases.size() == 7);
  Tensor rgb = from_formula<uint8_t>(5, 7, 3, DType::kUInt8, [](int64_t y, int64_t x) {
    return std::vector<int64_t>{y * 7 + x, 100 + y, 200 + x};
  });
  Tensor ints = int_image(5, 7);
  for (int orientation = 2; orientation <= 8; ++orientation) {
    INFO("orientation " << orientation);
    const auto& expected = cases[std::to_string(orientation)];
    for (auto [mode, pixels] : {std::pair<std::string, Tensor>{"RGB", rgb}, {"I", ints}, {"1", bits_image()}}) {
      INFO("mode " << mode);
      ops::DecodedImage img = image_of(mode, pixels);
      img.exif_orientation = orientation;
      ops::DecodedImage out = ops::exif_transpose(img);
      check_against(out.pixels, expected[mode]);
      CHECK(out.exif_orientation == 1);
      CHECK(out.mode == mode);
    }
  }
}

TEST_CASE("exif_transpose keeps the palette and leaves orientation 1 alone", "[convert_rgb]") {
  ops::DecodedImage img = image_of("P", Tensor::zeros(DType::kUInt8, {3, 2}));
  img.palette.assign(768, 7);
  img.exif_orientation = 6;
  ops::DecodedImage rotated = ops::exif_transpose(img);
  CHECK(rotated.pixels.shape() == Shape{2, 3});
  CHECK(rotated.palette == img.palette);

  ops::DecodedImage upright = image_of("RGB", Tensor::zeros(DType::kUInt8, {3, 2, 3}));
  CHECK(ops::exif_transpose(upright).pixels.raw_data() == upright.pixels.raw_data());
  // load_image = exif_transpose then convert("RGB"): upright RGB needs no copy at all.
  CHECK(ops::load_image_rgb(upright).raw_data() == upright.pixels.raw_data());
}
