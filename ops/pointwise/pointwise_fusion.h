// Fusion rules of the pointwise ops (graph/fusion.h; listed in registry/fusion_rules.def).
#pragma once

#include "graph/fusion.h"

namespace pixelflow::ops {

// The longest run at ops[i] of the form
//   [center_crop] (rescale | normalize)* [flip_channel_order] [to_channel_dimension_format]
// spanning at least two ops -> one FusedPointwiseOp (one pass over memory; a table lookup for
// 8-bit data).
size_t fuse_pointwise_chain(const std::vector<OpPtr>& ops, size_t i, std::vector<OpPtr>& out);

// Rewrite: a fixed center_crop right after rescale steps that map 0 to +0.0 (no offset, positive
// scale) moves before them: cropping then pads with uint8 zeros that the steps turn into the
// same +0.0 the crop would have padded with. MobileViT (resize, rescale, center_crop, ...) then
// fuses like the others.
void commute_center_crop_before_rescale(std::vector<OpPtr>& ops);

}  // namespace pixelflow::ops
