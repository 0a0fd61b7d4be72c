// libFuzzer: bytes -> preprocessor_config.json text -> ProcessorConfig (class resolution,
// from_dict, validation) -> to_json_string -> resolve_call -> make_plan for the class named ->
// build_pipeline (fused and unfused). When the input holds a line "---", the text after it is
// the call kwargs (a JSON object), as `pixelflow preprocess --set` passes them.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "registry/builder.h"
#include "pipelines/processor_config.h"
#include "pipelines/processor_plans.h"
#include "tests/fuzz/fuzz_common.h"

using namespace pixelflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string kwargs_text;
  if (const size_t cut = text.find("\n---\n"); cut != std::string::npos) {
    kwargs_text = text.substr(cut + 5);
    text.resize(cut);
  }
  fuzz::expect_clean([&] {
    const pipelines::ProcessorConfig cfg = pipelines::processor_config_from_json_text(text, "fuzz.json");
    (void)pipelines::to_json_string(cfg);
    nlohmann::json kwargs = nlohmann::json::object();
    if (!kwargs_text.empty()) {
      kwargs = nlohmann::json::parse(kwargs_text, nullptr, /*allow_exceptions=*/false);
      if (kwargs.is_discarded()) return;
    }
    const pipelines::CallArgs args = pipelines::resolve_call(cfg, kwargs);
    for (bool load_image : {false, true}) {
      pipelines::PlanOptions plan_opts;
      plan_opts.load_image = load_image;
      const Plan plan = pipelines::make_plan(cfg.class_name, args.params, plan_opts);
      for (bool fuse : {true, false}) (void)build_pipeline(plan, BuildOptions{fuse}).describe();
    }
  });
  return 0;
}
