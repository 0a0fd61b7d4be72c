// libFuzzer: bytes -> decode_image (every format: the dispatcher sniffs JPEG, PNG, WebP, BMP,
// anything else is refused), with a 4 M pixel limit; then the conversions the loader applies
// (convert("RGB"), exif_transpose) and, for JPEGs, a region decode and a DCT-reduced decode.
#include <cstddef>
#include <cstdint>

#include "ops/convert_rgb/convert_rgb.h"
#include "ops/decode_image/decode_image.h"
#include "tests/fuzz/fuzz_common.h"

using namespace pixelflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ops::DecodeOptions opts;
  opts.max_pixels = 4 << 20;
  fuzz::expect_clean([&] {
    ops::ImageInfo info = ops::probe_image(data, size, "fuzz.img");
    (void)info;
  });
  bool decoded = false;
  fuzz::expect_clean([&] {
    ops::DecodedImage img = ops::decode_image(data, size, "fuzz.img", opts);
    decoded = true;
    Tensor rgb = ops::convert_rgb(img);
    (void)rgb;
    Tensor upright = ops::convert_rgb(ops::exif_transpose(std::move(img)));
    (void)upright;
  });
  if (!decoded || size < 3 || data[0] != 0xFF || data[1] != 0xD8) return 0;
  // JPEG only: the planned decodes (region of interest, DCT-domain reduction).
  for (int variant = 0; variant < 2; ++variant) {
    ops::DecodeOptions planned = opts;
    planned.plan = [variant](const ops::ImageInfo& info) {
      ops::DecodePlan plan;
      if (variant == 0) {
        plan.region = Rect{info.width / 3, info.height / 4, info.width / 2 + 1, info.height / 2 + 1};
      } else {
        plan.reduce = 4;
      }
      return plan;
    };
    fuzz::expect_clean([&] { ops::decode_image(data, size, "fuzz.jpg", planned); });
  }
  return 0;
}
