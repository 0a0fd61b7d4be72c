// What each Hugging Face image processor's preprocess() does, as a logical plan of ops: one
// function per processor family, reading the arguments resolve_call() produced (HF's names).
#pragma once

#include <nlohmann/json.hpp>

#include "graph/plan.h"

namespace pixelflow::pipelines {

struct PlanOptions {
  bool load_image = false;  // inputs decoded like transformers.image_utils.load_image
};

// Throws ConfigError for a class without a plan.
Plan make_plan(const std::string& processor_class, const nlohmann::json& params,
               const PlanOptions& opts = {});

}  // namespace pixelflow::pipelines
