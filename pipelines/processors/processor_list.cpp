// The registry of processor declarations: processor_list.def read into one list.
#include <algorithm>

#include "base/text.h"
#include "pipelines/processors/processor.h"

namespace pixelflow::pipelines::processors {

// The declaring functions, one per line of the list (defined in the family files).
#define PIXELFLOW_PROCESSOR(fn) ProcessorDecl fn();
#include "pipelines/processors/processor_list.def"
#undef PIXELFLOW_PROCESSOR

namespace {

// Fills in what a declaration may leave out.
ProcessorDecl completed(ProcessorDecl d) {
  if (d.preprocess_params.empty()) {
    for (const auto& p : d.init) d.preprocess_params.push_back(p.name);
    for (const char* p : {"return_tensors", "data_format", "input_data_format"}) d.preprocess_params.push_back(p);
  }
  return d;
}

}  // namespace

const std::vector<ProcessorDecl>& all_processors() {
  static const std::vector<ProcessorDecl> list = {
#define PIXELFLOW_PROCESSOR(fn) completed(fn()),
#include "pipelines/processors/processor_list.def"
#undef PIXELFLOW_PROCESSOR
  };
  return list;
}

const ProcessorDecl* find_processor(const std::string& canonical_name) {
  for (const auto& d : all_processors())
    if (d.name == canonical_name) return &d;
  return nullptr;
}

bool ProcessorDecl::has_init_param(const std::string& key) const {
  return std::any_of(init.begin(), init.end(), [&](const InitParam& p) { return p.name == key; });
}

std::string keys_of(const nlohmann::json& dict) {
  std::vector<std::string> keys;
  for (auto it = dict.begin(); it != dict.end(); ++it) keys.push_back(it.key());
  return "{" + join(keys) + "}";
}

}  // namespace pixelflow::pipelines::processors
