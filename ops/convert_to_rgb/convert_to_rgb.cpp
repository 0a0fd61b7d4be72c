#include "ops/convert_to_rgb/convert_to_rgb.h"

#include <array>
#include <cstring>

#include "base/errors.h"

namespace pixelflow::ops {

uint8_t composite_over_white(uint8_t c, uint8_t a) {
  // ImagingAlphaComposite with dst = (255, 255, 255, 255), src = (c, a): PRECISION_BITS 7,
  // SHIFTFORDIV255(x) = ((x >> 8) + x) >> 8; a fully transparent source keeps the background.
  if (a == 0) return 255;
  const uint32_t blend = 255u * (255u - a);
  const uint32_t outa255 = a * 255u + blend;
  const uint32_t coef1 = a * 255u * 255u * (1u << 7) / outa255;
  const uint32_t coef2 = 255u * (1u << 7) - coef1;
  const uint32_t t = c * coef1 + 255u * coef2 + (0x80u << 7);
  return static_cast<uint8_t>((((t >> 8) + t) >> 8) >> 7);
}

namespace {

// composite_over_white for every (c, a), built once.
const std::array<uint8_t, 65536>& composite_table() {
  static const std::array<uint8_t, 65536> table = [] {
    std::array<uint8_t, 65536> t{};
    for (int a = 0; a < 256; ++a)
      for (int c = 0; c < 256; ++c) t[static_cast<size_t>(a * 256 + c)] = composite_over_white(uint8_t(c), uint8_t(a));
    return t;
  }();
  return table;
}

void check_input(const Shape& shape, DType dtype, const std::string& where) {
  if (shape.size() != 3 || (shape[2] != 1 && shape[2] != 3 && shape[2] != 4))
    throw InputError(where + "convert_to_rgb needs an (height, width, 1, 3 or 4 channels) image, got " +
                     shape_str(shape));
  if (dtype != DType::kUInt8)
    throw InputError(where + "convert_to_rgb needs a uint8 image (the processor's resize makes one), got " +
                     dtype_name(dtype));
}

}  // namespace

ConvertToRgbOp::ConvertToRgbOp(const nlohmann::json& /*params*/) {}

TensorSpec ConvertToRgbOp::infer(const TensorSpec& in) const {
  check_input(in.shape, in.dtype, "");
  return {DType::kUInt8, {in.shape[0], in.shape[1], 3}};
}

void ConvertToRgbOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  const Tensor& in = s.image;
  check_input(in.shape(), in.dtype(), s.source + ": ");
  const int64_t h = in.dim(0), w = in.dim(1), c = in.dim(2);
  const Shape shape{h, w, 3};
  if (c == 3) {
    if (last) {
      Tensor out = ctx.output_for(s, DType::kUInt8, shape);
      if (out.raw_data() != in.raw_data() && in.nbytes() > 0) std::memcpy(out.raw_data(), in.raw_data(), in.nbytes());
      s.image = std::move(out);
    }
    return;
  }
  Tensor out = last ? ctx.output_for(s, DType::kUInt8, shape) : ctx.new_tensor(DType::kUInt8, shape);
  const uint8_t* p = in.data<uint8_t>();
  uint8_t* o = out.data<uint8_t>();
  const int64_t n = h * w;
  if (c == 1) {
    for (int64_t i = 0; i < n; ++i, o += 3) o[0] = o[1] = o[2] = p[i];
  } else {
    const auto& table = composite_table();
    for (int64_t i = 0; i < n; ++i, p += 4, o += 3) {
      const uint8_t* row = table.data() + static_cast<size_t>(p[3]) * 256;
      o[0] = row[p[0]];
      o[1] = row[p[1]];
      o[2] = row[p[2]];
    }
  }
  s.image = std::move(out);
}

}  // namespace pixelflow::ops
