#include "graph/fusion.h"

namespace pixelflow {

std::vector<OpPtr> apply_fusion(std::vector<OpPtr> ops, std::span<const RewriteRule> rewrites,
                                std::span<const FusionRule> rules) {
  for (RewriteRule rewrite : rewrites) rewrite(ops);
  std::vector<OpPtr> out;
  for (size_t i = 0; i < ops.size();) {
    size_t used = 0;
    for (FusionRule rule : rules)
      if ((used = rule(ops, i, out)) > 0) break;
    if (used == 0) {
      out.push_back(ops[i]);
      used = 1;
    }
    i += used;
  }
  return out;
}

}  // namespace pixelflow
