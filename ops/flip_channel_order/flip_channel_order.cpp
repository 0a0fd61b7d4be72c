#include "ops/flip_channel_order/flip_channel_order.h"

#include "ops/remap/remap.h"

namespace pixelflow::ops {

void FlipChannelOrderOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  Tensor out = last ? ctx.output_for(s, s.image.dtype(), s.image.shape())
                    : ctx.new_tensor(s.image.dtype(), s.image.shape());
  remap_hwc(s.image, Rect::full(s.image.dim(0), s.image.dim(1)), true, false, out);
  s.image = std::move(out);
}

}  // namespace pixelflow::ops
