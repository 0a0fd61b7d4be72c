#include "ops/pad/pad.h"

#include "ops/common/params.h"
#include "ops/remap/remap.h"

namespace pixelflow::ops {

Rect pad_window(int64_t h, int64_t w, int64_t d) {
  auto padded = [d](int64_t n) { return (n + d - 1) / d * d; };
  const int64_t nh = padded(h), nw = padded(w);
  return Rect{-((nw - w) / 2), -((nh - h) / 2), nw, nh};
}

PadOp::PadOp(const nlohmann::json& params) : size_divisor_(param_side(params, "size_divisor")) {}

TensorSpec PadOp::infer(const TensorSpec& in) const {
  Rect win = pad_window(in.shape[0], in.shape[1], size_divisor_);
  Shape s = in.shape;
  s[0] = win.height;
  s[1] = win.width;
  return {in.dtype, s};
}

void PadOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  Rect win = pad_window(s.image.dim(0), s.image.dim(1), size_divisor_);
  check_output_shape("pad", win.height, win.width, s.image.ndim() == 3 ? s.image.dim(2) : 1);
  TensorSpec spec = infer({s.image.dtype(), s.image.shape()});
  Tensor out = last ? ctx.output_for(s, spec.dtype, spec.shape) : ctx.new_tensor(spec.dtype, spec.shape);
  remap_hwc(s.image, win, false, false, out);
  s.image = std::move(out);
}

}  // namespace pixelflow::ops
