#include "ops/pointwise/fused_pointwise_op.h"

#include "ops/center_crop/center_crop.h"

namespace pixelflow::ops {

FusedPointwiseOp::FusedPointwiseOp(std::optional<Crop> crop, std::vector<PointwiseStep> steps,
                                   bool flip_channels, Layout layout, std::string name)
    : crop_(crop), steps_(std::move(steps)), flip_(flip_channels), layout_(layout),
      name_(std::move(name)) {}

TensorSpec FusedPointwiseOp::infer(const TensorSpec& in) const {
  Shape s = in.shape;
  if (crop_) {
    s[0] = crop_->height;
    s[1] = crop_->width;
  }
  const int64_t c = s.size() == 3 ? s[2] : 1;
  check_channels(steps_, c);
  if (layout_ == Layout::kChannelsFirst && s.size() == 3) s = {c, s[0], s[1]};
  return {pointwise_dtype(steps_, in.dtype), s};
}

void FusedPointwiseOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  const Tensor& in = s.image;
  const Rect win = crop_ ? center_crop_window(in.dim(0), in.dim(1), crop_->height, crop_->width)
                         : Rect::full(in.dim(0), in.dim(1));
  TensorSpec spec = infer({in.dtype(), in.shape()});
  Tensor out = last ? ctx.output_for(s, spec.dtype, spec.shape) : ctx.new_tensor(spec.dtype, spec.shape);
  pointwise_fused(in, win, steps_, flip_, layout_ == Layout::kChannelsFirst && in.ndim() == 3, out);
  s.image = std::move(out);
}

}  // namespace pixelflow::ops
