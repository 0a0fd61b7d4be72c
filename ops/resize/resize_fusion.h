// Fusion rule of resize (graph/fusion.h; listed in registry/fusion_rules.def).
#pragma once

#include "graph/fusion.h"

namespace pixelflow::ops {

// resize + center_crop (fixed size, same target) -> one resize computing only the cropped
// pixels (Hugging Face's zero padding where the crop is larger than the resized image).
size_t fuse_resize_center_crop(const std::vector<OpPtr>& ops, size_t i, std::vector<OpPtr>& out);

}  // namespace pixelflow::ops
