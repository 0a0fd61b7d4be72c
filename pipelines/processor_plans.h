// What each Hugging Face image processor's preprocess() does, as a logical plan of ops: the plan
// function of the class's declaration (pipelines/processors/<family>.cpp), reading the arguments
// resolve_call() produced (HF's names).
#pragma once

#include <nlohmann/json.hpp>

#include "registry/plan.h"

namespace pixelflow::pipelines {

struct PlanOptions {
  bool load_image = false;  // inputs decoded like transformers.image_utils.load_image
};

// Whether the class infers the channel layout of each image on its own (MobileNetV2, BEiT, Segformer,
// DPT, MobileViT in their _preprocess_image; VideoMAE per frame) rather than once from images[0]
// (when input_data_format is not given).
bool infers_layout_per_image(const std::string& processor_class);

// Throws ConfigError for a class without a plan.
Plan make_plan(const std::string& processor_class, const nlohmann::json& params,
               const PlanOptions& opts = {});

}  // namespace pixelflow::pipelines
