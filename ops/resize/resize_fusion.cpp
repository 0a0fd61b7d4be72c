#include "ops/resize/resize_fusion.h"

#include "ops/center_crop/center_crop.h"
#include "ops/resize/resize_op.h"

namespace pixelflow::ops {

size_t fuse_resize_center_crop(const std::vector<OpPtr>& ops, size_t i, std::vector<OpPtr>& out) {
  if (i + 1 >= ops.size()) return 0;
  const auto* resize = dynamic_cast<const ResizeOp*>(ops[i].get());
  const auto* crop = dynamic_cast<const CenterCropOp*>(ops[i + 1].get());
  if (!resize || !crop || !crop->fixed() || resize->target() != crop->target()) return 0;
  out.push_back(resize->with_crop({crop->height(), crop->width()}));
  return 2;
}

}  // namespace pixelflow::ops
