// GLPNImageProcessor: no size; both sides are floored to a multiple of size_divisor.
#include "pipelines/processors/declare.h"

namespace pixelflow::pipelines::processors {

namespace {

// GLPN: floor both sides to a multiple of size_divisor, rescale (no normalize).
Plan glpn_plan(PlanBuilder& b) {
  if (b.on("do_resize"))
    b.op("resize", {{"size_divisor", b.p.at("size_divisor")}, {"resample", ops::param_int(b.p, "resample")}});
  if (b.on("do_rescale")) b.rescale();
  b.layout();
  return b.plan;
}

// validate_preprocess_arguments(do_resize=..., size=size_divisor, resample=...).
void glpn_resize_args(const CallContext& c) {
  if (c.flag("do_resize") && (c.val("size_divisor").is_null() || c.val("resample").is_null()))
    throw c.err(c.val("size_divisor").is_null() ? "size_divisor" : "resample",
                "size_divisor (GLPN's size) and resample must be specified if do_resize is true (transformers "
                "raises ValueError)");
}

void glpn_size_divisor(const CallContext& c, const json& /*size*/) {
  c.positive_int("size_divisor", "do_resize is true");
}

}  // namespace

// models/glpn/image_processing_glpn.py
ProcessorDecl glpn() {
  return {
      .name = "GLPNImageProcessor",
      .model_types = {"glpn"},
      .init = params({{raw("do_resize", true), raw("size_divisor", 32), raw("resample", kBilinear)}, rescale_params()}),
      .call = {.size_norm = SizeNorm::kNone, .resize_needs = ResizeNeeds::kNone, .validate_rescale = false,
               .validate_normalize = false, .validate_resize_args = glpn_resize_args,
               .check_resize = glpn_size_divisor},
      .plan = glpn_plan,
  };
}

}  // namespace pixelflow::pipelines::processors
