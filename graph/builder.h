// Builder: logical plan -> physical ops. With fusion on (the default) it merges
//   resize + center_crop                       -> one resize computing only the cropped pixels
//   [center_crop] + rescale/normalize steps
//     + [flip_channel_order] + [to_channel_dimension_format]
//                                              -> one pass (table lookup for 8-bit data)
// A center_crop after rescale steps that map 0 to +0.0 moves before them first (exact).
// With fusion off every logical op is its own node; both give the same bytes (tested).
#pragma once

#include <vector>

#include "graph/op.h"
#include "graph/pipeline.h"
#include "graph/plan.h"

namespace pixelflow {

struct BuildOptions {
  bool fuse = true;
};

std::vector<OpPtr> build_ops(const std::vector<OpSpec>& specs, const BuildOptions& opts = {});
Pipeline build_pipeline(const Plan& plan, const BuildOptions& opts = {});

}  // namespace pixelflow
