// Builder: logical plan -> physical ops. Each OpSpec becomes its op (registry/registry.h); with
// fusion on (the default) the rules of registry/fusion_rules.def then merge runs of ops, e.g.
//   resize + center_crop                       -> one resize computing only the cropped pixels
//   [center_crop] + rescale/normalize steps
//     + [flip_channel_order] + [to_channel_dimension_format]
//                                              -> one pass (table lookup for 8-bit data)
// With fusion off every logical op is its own node; both give the same bytes (tested).
#pragma once

#include <vector>

#include "graph/op.h"
#include "graph/pipeline.h"
#include "registry/plan.h"

namespace pixelflow {

struct BuildOptions {
  bool fuse = true;
};

std::vector<OpPtr> build_ops(const std::vector<OpSpec>& specs, const BuildOptions& opts = {});
// Checks the plan (check_output_sizes), then builds its ops.
Pipeline build_pipeline(const Plan& plan, const BuildOptions& opts = {});

// Refuses, before any input is read or memory allocated, a plan one of whose ops (Op::output_floor:
// resize, center_crop, pad) makes every image's output (or an intermediate) larger than the pixel limit: more pixels
// (H x W) than plan.load.max_pixels, or than its default 178956970 if that is larger; no check
// when plan.load.max_pixels <= 0. Throws ConfigError naming the key ("size", "crop_size", ...).
void check_output_sizes(const Plan& plan);

}  // namespace pixelflow
