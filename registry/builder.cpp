#include "registry/builder.h"

#include <algorithm>

#include "base/errors.h"
#include "registry/registry.h"
#include "ops/center_crop/center_crop.h"
#include "ops/flip_channel_order/flip_channel_order.h"
#include "ops/normalize/normalize.h"
#include "ops/pad/pad.h"
#include "ops/pointwise/fused_pointwise_op.h"
#include "ops/rescale/rescale.h"
#include "ops/resize/resize_op.h"
#include "ops/to_channel_dimension_format/to_channel_dimension_format.h"

namespace pixelflow {

namespace {

template <class T>
const T* as(const OpPtr& op) {
  return dynamic_cast<const T*>(op.get());
}

// Fuses the longest run starting at ops[i] of the form
//   [center_crop] (rescale | normalize)* [flip_channel_order] [to_channel_dimension_format]
// into one op when it spans at least two logical ops. Returns the number of ops consumed
// (0: nothing fused).
size_t fuse_pointwise(const std::vector<OpPtr>& ops, size_t i, std::vector<OpPtr>& out) {
  size_t j = i;
  std::optional<ops::FusedPointwiseOp::Crop> crop;
  std::vector<ops::PointwiseStep> steps;
  bool flip = false;
  Layout layout = Layout::kChannelsLast;
  std::string name;
  auto add_name = [&](const std::string& n) { name += (name.empty() ? "" : "+") + n; };

  if (j < ops.size() && ops[j]->target() == Target::kImage) {
    const auto* c = as<ops::CenterCropOp>(ops[j]);
    if (c && c->fixed()) {
      crop = ops::FusedPointwiseOp::Crop{c->height(), c->width()};
      add_name(c->name());
      ++j;
    }
  }
  for (; j < ops.size(); ++j) {
    if (const auto* r = as<ops::RescaleOp>(ops[j])) steps.push_back(r->step());
    else if (const auto* n = as<ops::NormalizeOp>(ops[j])) steps.push_back(n->step());
    else break;
    add_name(ops[j]->name());
  }
  if (j < ops.size() && as<ops::FlipChannelOrderOp>(ops[j])) {
    flip = true;
    add_name(ops[j]->name());
    ++j;
  }
  if (j < ops.size()) {
    if (const auto* l = as<ops::ToChannelDimensionFormatOp>(ops[j])) {
      layout = l->layout();
      add_name(l->name());
      ++j;
    }
  }
  if (j - i < 2) return 0;
  out.push_back(std::make_shared<ops::FusedPointwiseOp>(crop, std::move(steps), flip, layout, name));
  return j - i;
}

// A fixed center_crop right after rescale steps that map 0 to +0.0 (no offset, positive scale)
// may move before them: cropping then pads with uint8 zeros that the steps turn into the same
// +0.0 the crop would have padded with. MobileViT (resize, rescale, center_crop, ...) then
// fuses like the others.
void commute_crops(std::vector<OpPtr>& ops) {
  for (size_t i = 1; i < ops.size(); ++i) {
    const auto* crop = as<ops::CenterCropOp>(ops[i]);
    if (!crop || !crop->fixed() || crop->target() != Target::kImage) continue;
    size_t j = i;
    while (j > 0) {
      const auto* r = as<ops::RescaleOp>(ops[j - 1]);
      if (!r || r->step().offset || !(r->step().scale > 0)) break;
      --j;
    }
    if (j < i) std::rotate(ops.begin() + j, ops.begin() + i, ops.begin() + i + 1);
  }
}

// The fewest pixels (H x W) every output of `op` has, whatever its input, and the config key that
// asks for them; {0, ""} when the output size follows the input.
struct OutputFloor {
  int64_t height = 0, width = 0;
  std::string key;
};

OutputFloor output_floor(const OpPtr& op) {
  if (const auto* r = as<ops::ResizeOp>(op)) {
    const ops::ResizeRule& rule = r->rule();
    if (rule.kind == ops::ResizeRule::Kind::kExact) return {rule.height, rule.width, "size"};
    // The short side becomes shortest_edge and the long one at least that (without a cap).
    if (rule.kind == ops::ResizeRule::Kind::kShortestEdge && !rule.max_size)
      return {rule.shortest_edge, rule.shortest_edge, "size.shortest_edge"};
  } else if (const auto* c = as<ops::CenterCropOp>(op)) {
    if (c->fixed()) return {c->height(), c->width(), "crop_size"};
  } else if (const auto* p = as<ops::PadOp>(op)) {
    return {p->size_divisor(), p->size_divisor(), "size_divisor"};  // sides padded up to multiples
  }
  return {};
}

}  // namespace

void check_output_sizes(const Plan& plan) {
  if (plan.load.max_pixels <= 0) return;  // no limit asked for
  const int64_t limit = std::max(plan.load.max_pixels, LoadSpec{}.max_pixels);
  for (const auto* specs : {&plan.image_ops, &plan.label_ops}) {
    for (const auto& spec : *specs) {
      const OutputFloor f = output_floor(make_op(spec));
      int64_t pixels = 0;
      if (f.key.empty() || (!__builtin_mul_overflow(f.height, f.width, &pixels) && pixels <= limit)) continue;
      throw ConfigError(f.key, spec.name + " to " + std::to_string(f.height) + " x " + std::to_string(f.width) +
                                   (pixels > 0 ? " = " + std::to_string(pixels) : std::string()) +
                                   " pixels per image, more than the limit of " + std::to_string(limit) +
                                   " (the pixel limit of --max-image-pixels, PIXELFLOW_MAX_IMAGE_PIXELS or "
                                   "load.max_image_pixels, at least 178956970; 0: no limit)");
    }
  }
}

std::vector<OpPtr> build_ops(const std::vector<OpSpec>& specs, const BuildOptions& opts) {
  std::vector<OpPtr> logical;
  for (const auto& spec : specs) logical.push_back(make_op(spec));
  if (!opts.fuse) return logical;
  commute_crops(logical);

  std::vector<OpPtr> physical;
  for (size_t i = 0; i < logical.size();) {
    const auto* resize = as<ops::ResizeOp>(logical[i]);
    const auto* crop = i + 1 < logical.size() ? as<ops::CenterCropOp>(logical[i + 1]) : nullptr;
    if (resize && crop && crop->fixed() && resize->target() == crop->target()) {
      physical.push_back(resize->with_crop({crop->height(), crop->width()}));
      i += 2;
      continue;
    }
    if (size_t used = fuse_pointwise(logical, i, physical)) {
      i += used;
      continue;
    }
    physical.push_back(logical[i]);
    ++i;
  }
  return physical;
}

Pipeline build_pipeline(const Plan& plan, const BuildOptions& opts) {
  check_output_sizes(plan);
  Pipeline p(build_ops(plan.image_ops, opts), build_ops(plan.label_ops, opts));
  // Per input, what check_output_sizes checks per plan: no array of a sample beyond the pixel
  // limit (at least its default), with up to 4 channels.
  if (plan.load.max_pixels > 0) p.set_max_sample_values(4 * std::max(plan.load.max_pixels, LoadSpec{}.max_pixels));
  return p;
}

}  // namespace pixelflow
