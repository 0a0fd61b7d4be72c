#include "ops/patchify/patchify_fusion.h"

#include "ops/normalize/normalize.h"
#include "ops/patchify/patchify.h"
#include "ops/rescale/rescale.h"
#include "ops/to_channel_dimension_format/to_channel_dimension_format.h"

namespace pixelflow::ops {

size_t fuse_pointwise_patchify(const std::vector<OpPtr>& ops, size_t i, std::vector<OpPtr>& out) {
  std::vector<PointwiseStep> steps;
  std::string name;
  size_t j = i;
  for (; j < ops.size() && ops[j]->target() == Target::kImage; ++j) {
    if (const auto* r = dynamic_cast<const RescaleOp*>(ops[j].get())) {
      steps.push_back(r->step());
    } else if (const auto* n = dynamic_cast<const NormalizeOp*>(ops[j].get())) {
      steps.push_back(n->step());
    } else {
      break;
    }
    name += ops[j]->name() + "+";
  }
  if (j + 1 >= ops.size()) return 0;
  const auto* layout = dynamic_cast<const ToChannelDimensionFormatOp*>(ops[j].get());
  const auto* patchify = dynamic_cast<const PatchifyOp*>(ops[j + 1].get());
  if (!layout || layout->layout() != Layout::kChannelsFirst || !patchify) return 0;
  name += ops[j]->name() + "+" + ops[j + 1]->name();
  out.push_back(std::make_shared<FusedPatchifyOp>(std::move(steps), patchify->grid(), name));
  return j + 2 - i;
}

}  // namespace pixelflow::ops
