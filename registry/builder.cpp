#include "registry/builder.h"

#include <algorithm>

#include "base/errors.h"
#include "graph/fusion.h"
#include "ops/patchify/patchify_fusion.h"
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

// The pixel limit check_output_sizes applies for `plan`; 0: none.
int64_t pixel_limit(const Plan& plan) {
  return plan.load.max_pixels <= 0 ? 0 : std::max(plan.load.max_pixels, LoadSpec{}.max_pixels);
}

// Throws ConfigError (naming the key) when every output of `op` has more pixels than `limit`.
void check_output_floor(const OpSpec& spec, const Op& op, int64_t limit) {
  const std::optional<OutputFloor> f = op.output_floor();
  int64_t pixels = 0;
  if (!f || (!__builtin_mul_overflow(f->height, f->width, &pixels) && pixels <= limit)) return;
  throw ConfigError(f->key, spec.name + " to " + std::to_string(f->height) + " x " + std::to_string(f->width) +
                                (pixels > 0 ? " = " + std::to_string(pixels) : std::string()) +
                                " pixels per image, more than the limit of " + std::to_string(limit) +
                                " (the pixel limit of --max-image-pixels, PIXELFLOW_MAX_IMAGE_PIXELS or "
                                "load.max_image_pixels, at least 178956970; 0: no limit)");
}

// The logical ops of `specs`, each checked against `limit` (0: no check) as soon as it is built.
std::vector<OpPtr> make_ops(const std::vector<OpSpec>& specs, int64_t limit) {
  std::vector<OpPtr> ops;
  for (const auto& spec : specs) {
    ops.push_back(make_op(spec));
    if (limit > 0) check_output_floor(spec, *ops.back(), limit);
  }
  return ops;
}

std::vector<OpPtr> fuse(std::vector<OpPtr> logical, const BuildOptions& opts) {
  if (!opts.fuse) return logical;
  return apply_fusion(std::move(logical), kRewrites, kFusionRules);
}

}  // namespace

void check_output_sizes(const Plan& plan) {
  const int64_t limit = pixel_limit(plan);
  if (limit <= 0) return;  // no limit asked for
  make_ops(plan.image_ops, limit);
  make_ops(plan.label_ops, limit);
}

std::vector<OpPtr> build_ops(const std::vector<OpSpec>& specs, const BuildOptions& opts) {
  return fuse(make_ops(specs, 0), opts);
}

// Each op is built once: checked (as check_output_sizes does, image chain first), then fused.
Pipeline build_pipeline(const Plan& plan, const BuildOptions& opts) {
  const int64_t limit = pixel_limit(plan);
  std::vector<OpPtr> image = make_ops(plan.image_ops, limit);
  std::vector<OpPtr> labels = make_ops(plan.label_ops, limit);
  Pipeline p(fuse(std::move(image), opts), fuse(std::move(labels), opts));
  // Per input, what check_output_sizes checks per plan: no array of a sample beyond the pixel
  // limit (at least its default), with up to 4 channels.
  if (limit > 0) p.set_max_sample_values(4 * limit);
  return p;
}

}  // namespace pixelflow
