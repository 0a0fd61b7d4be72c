#include "ops/pointwise/pointwise_fusion.h"

#include <algorithm>

#include "ops/center_crop/center_crop.h"
#include "ops/flip_channel_order/flip_channel_order.h"
#include "ops/normalize/normalize.h"
#include "ops/pointwise/fused_pointwise_op.h"
#include "ops/rescale/rescale.h"
#include "ops/to_channel_dimension_format/to_channel_dimension_format.h"

namespace pixelflow::ops {

namespace {

template <class T>
const T* as(const OpPtr& op) {
  return dynamic_cast<const T*>(op.get());
}

// The pointwise step of a rescale or normalize op; nullopt for other ops.
std::optional<PointwiseStep> step_of(const OpPtr& op) {
  if (const auto* r = as<RescaleOp>(op)) return r->step();
  if (const auto* n = as<NormalizeOp>(op)) return n->step();
  return std::nullopt;
}

}  // namespace

size_t fuse_pointwise_chain(const std::vector<OpPtr>& ops, size_t i, std::vector<OpPtr>& out) {
  size_t j = i;
  std::optional<FusedPointwiseOp::Crop> crop;
  std::vector<PointwiseStep> steps;
  bool flip = false;
  Layout layout = Layout::kChannelsLast;
  std::string name;
  const auto take = [&](const OpPtr& op) {
    name += (name.empty() ? "" : "+") + op->name();
    ++j;
  };

  if (j < ops.size() && ops[j]->target() == Target::kImage)
    if (const auto* c = as<CenterCropOp>(ops[j]); c && c->fixed()) {
      crop = FusedPointwiseOp::Crop{c->height(), c->width()};
      take(ops[j]);
    }
  while (j < ops.size())
    if (auto step = step_of(ops[j])) {
      steps.push_back(*step);
      take(ops[j]);
    } else {
      break;
    }
  if (j < ops.size() && as<FlipChannelOrderOp>(ops[j])) {
    flip = true;
    take(ops[j]);
  }
  if (j < ops.size())
    if (const auto* l = as<ToChannelDimensionFormatOp>(ops[j])) {
      layout = l->layout();
      take(ops[j]);
    }
  if (j - i < 2) return 0;
  out.push_back(std::make_shared<FusedPointwiseOp>(crop, std::move(steps), flip, layout, name));
  return j - i;
}

void commute_center_crop_before_rescale(std::vector<OpPtr>& ops) {
  for (size_t i = 1; i < ops.size(); ++i) {
    const auto* crop = as<CenterCropOp>(ops[i]);
    if (!crop || !crop->fixed() || crop->target() != Target::kImage) continue;
    size_t j = i;
    while (j > 0) {
      const auto* r = as<RescaleOp>(ops[j - 1]);
      if (!r || r->step().offset || !(r->step().scale > 0)) break;
      --j;
    }
    if (j < i) std::rotate(ops.begin() + j, ops.begin() + i, ops.begin() + i + 1);
  }
}

}  // namespace pixelflow::ops
