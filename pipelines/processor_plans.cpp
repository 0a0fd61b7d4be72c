// make_plan: the plan function of the class's declaration (pipelines/processors/<family>.cpp).
#include "pipelines/processor_plans.h"

#include <algorithm>

#include "base/errors.h"
#include "base/text.h"
#include "pipelines/processors/plan_builder.h"
#include "pipelines/processors/processor.h"

namespace pixelflow::pipelines {

using nlohmann::json;

namespace {

const processors::ProcessorDecl* with_plan(const std::string& processor_class) {
  const processors::ProcessorDecl* d = processors::find_processor(processor_class);
  return d && d->plan ? d : nullptr;
}

}  // namespace

bool infers_layout_per_image(const std::string& processor_class) {
  const processors::ProcessorDecl* d = processors::find_processor(processor_class);
  return d && d->infers_layout_per_image;
}

Plan make_plan(const std::string& processor_class, const json& params, const PlanOptions& opts) {
  const processors::ProcessorDecl* decl = with_plan(processor_class);
  if (!decl) {
    std::vector<std::string> known;
    for (const auto& d : processors::all_processors())
      if (d.plan) known.push_back(d.name);
    std::sort(known.begin(), known.end());
    throw ConfigError("image_processor_type",
                      processor_class + " is not supported yet (supported: " + join(known) + ")");
  }
  processors::PlanBuilder b(processor_class, params, opts.load_image);
  Plan plan = decl->plan(b);
  if (decl->infers_layout_per_image) plan.load.infer_layout_per_input = !plan.load.input_data_format.has_value();
  return plan;
}

}  // namespace pixelflow::pipelines
