// Fusion rule of patchify (graph/fusion.h; listed in registry/fusion_rules.def).
#pragma once

#include "graph/fusion.h"

namespace pixelflow::ops {

// (rescale | normalize)* to_channel_dimension_format(channels_first) patchify at ops[i] -> one
// FusedPatchifyOp: the chain is computed once per pixel and written straight into the patch
// layout (one pass over memory instead of three).
size_t fuse_pointwise_patchify(const std::vector<OpPtr>& ops, size_t i, std::vector<OpPtr>& out);

}  // namespace pixelflow::ops
