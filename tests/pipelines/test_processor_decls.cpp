// The processor declarations (pipelines/processors/): the list is consistent, and every declared
// class loads its defaults, round-trips through save_pretrained, resolves a default call and has
// a plan.
#include <catch2/catch.hpp>

#include <set>

#include "pipelines/post_processing.h"
#include "pipelines/processor_config.h"
#include "pipelines/processor_plans.h"
#include "pipelines/processors/processor.h"

using namespace pixelflow;
using namespace pixelflow::pipelines;
using nlohmann::json;

TEST_CASE("the declaration list is consistent", "[config][processors]") {
  const auto& decls = processors::all_processors();
  std::vector<std::string> names;
  std::set<std::string> model_types;
  for (const auto& d : decls) {
    INFO(d.name);
    names.push_back(d.name);
    CHECK(d.name.ends_with("ImageProcessor"));
    CHECK(d.plan != nullptr);
    CHECK_FALSE(d.init.empty());
    CHECK_FALSE(d.preprocess_params.empty());
    CHECK_FALSE(d.model_types.empty());
    for (const auto& t : d.model_types) CHECK(model_types.insert(t).second);  // one class per model_type
    if (d.semantic_segmentation) CHECK(d.segmentation_maps);
    CHECK(has_semantic_segmentation(d.name) == d.semantic_segmentation);
    CHECK(infers_layout_per_image(d.name) == d.infers_layout_per_image);
    CHECK(canonical_processor_class(d.name + "Fast") == std::optional<std::string>(d.name));
  }
  CHECK(names == supported_processor_classes());  // the Python package's SUPPORTED_CLASSES
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
}

TEST_CASE("every declared class loads its defaults, round-trips and resolves a call", "[config][processors]") {
  for (const auto& d : processors::all_processors()) {
    INFO(d.name);
    const ProcessorConfig cfg =
        processor_config_from_json_text(json{{"image_processor_type", d.name}}.dump(), "decl.json");
    CHECK(cfg.class_name == d.name);
    CHECK(cfg.warnings.empty());
    for (const auto& p : d.init) CHECK(cfg.attributes.contains(p.name));
    // save_pretrained, then from_pretrained of what was saved: the same attributes and text.
    const std::string saved = to_json_string(cfg);
    const ProcessorConfig again = processor_config_from_json_text(saved, "saved.json");
    CHECK(again.attributes == cfg.attributes);
    CHECK(to_json_string(again) == saved);
    // A default call (ImageGPT's defaults quantize with clusters it does not have).
    const json call = d.has_init_param("clusters") ? json{{"do_color_quantize", false}} : json::object();
    const CallArgs args = resolve_call(cfg, call);
    CHECK(args.warnings.empty());
    for (const auto& p : d.preprocess_params) CHECK(args.params.contains(p));
    const Plan plan = make_plan(d.name, args.params);
    CHECK(plan.processor_class == d.name);
    CHECK_FALSE(plan.image_ops.empty());
  }
}

TEST_CASE("legacy keys are kept as attributes, or dropped by a filtered __init__", "[config][processors]") {
  for (const auto& d : processors::all_processors()) {
    for (const auto& key : d.legacy_keys) {
      INFO(d.name << " " << key);
      const ProcessorConfig cfg =
          processor_config_from_json_text(json{{"image_processor_type", d.name}, {key, true}}.dump(), "legacy.json");
      if (d.filtered_init) {
        CHECK_FALSE(cfg.attributes.contains(key));
        REQUIRE(cfg.warnings.size() == 1);
        CHECK(cfg.warnings[0] == "The following named arguments are not valid for `" + d.name +
                                     ".__init__` and were ignored: '" + key + "'");
      } else {
        CHECK(cfg.attributes.at(key) == true);
        CHECK(cfg.warnings.empty());
      }
    }
  }
}
