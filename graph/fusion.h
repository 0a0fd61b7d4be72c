// Fusion: rules that replace a run of physical ops by one op giving the same bytes, and rewrites
// that reorder ops where that cannot change a byte so that more runs fuse. The engine knows no
// rule: each is declared next to the ops it fuses (ops/*/..._fusion.h) and listed, in the order
// they are tried, in registry/fusion_rules.def. The unfused chain stays available (--no-fuse)
// and gives the same bytes (tested).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "graph/op.h"

namespace pixelflow {

// Looks at ops[i], ops[i + 1], ...; when its pattern starts at i, appends the fused op to `out`
// and returns how many ops it replaces (at least 2). Otherwise returns 0 and leaves `out` alone.
using FusionRule = size_t (*)(const std::vector<OpPtr>& ops, size_t i, std::vector<OpPtr>& out);

// Reorders `ops` in place, only where the chain's output cannot change.
using RewriteRule = void (*)(std::vector<OpPtr>& ops);

// Applies every rewrite in order, then walks the chain: at each position the first rule that
// matches replaces its run; an op no rule matches stays as it is.
std::vector<OpPtr> apply_fusion(std::vector<OpPtr> ops, std::span<const RewriteRule> rewrites,
                                std::span<const FusionRule> rules);

}  // namespace pixelflow
