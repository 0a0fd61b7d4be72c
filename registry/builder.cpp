#include "registry/builder.h"

#include <algorithm>

#include "base/errors.h"
#include "graph/fusion.h"
#include "ops/pointwise/pointwise_fusion.h"
#include "ops/resize/resize_fusion.h"
#include "registry/registry.h"

namespace pixelflow {

namespace {

constexpr RewriteRule kRewrites[] = {
#define PIXELFLOW_REWRITE(name, fn) &fn,
#include "registry/fusion_rules.def"
};
constexpr FusionRule kFusionRules[] = {
#define PIXELFLOW_FUSION(name, fn) &fn,
#include "registry/fusion_rules.def"
};

}  // namespace

void check_output_sizes(const Plan& plan) {
  if (plan.load.max_pixels <= 0) return;  // no limit asked for
  const int64_t limit = std::max(plan.load.max_pixels, LoadSpec{}.max_pixels);
  for (const auto* specs : {&plan.image_ops, &plan.label_ops}) {
    for (const auto& spec : *specs) {
      const std::optional<OutputFloor> f = make_op(spec)->output_floor();
      int64_t pixels = 0;
      if (!f || (!__builtin_mul_overflow(f->height, f->width, &pixels) && pixels <= limit)) continue;
      throw ConfigError(f->key, spec.name + " to " + std::to_string(f->height) + " x " + std::to_string(f->width) +
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
  return apply_fusion(std::move(logical), kRewrites, kFusionRules);
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
