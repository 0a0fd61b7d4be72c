// YAML pipelines: the second front end of the builder (the first is preprocessor_config.json).
// A YAML file names the ops of a plan explicitly (or points at a processor config) and carries
// the settings of a whole-dataset run; both resolve to a PipelineSpec. The format is described,
// key by key, in pipelines/PIPELINES.md.
//
//   PipelineSpec spec = load_pipeline_yaml("pipelines/models/openai__clip-vit-base-patch32/pipeline.yaml");
//   PreparedCall call(spec.plan, spec.options);
//
// Errors: every problem (YAML syntax, unknown key, wrong type, bad value, unknown op, a
// parameter an op rejects) is a ConfigError whose message is one line,
//   FILE:LINE:COLUMN: KEY.PATH: what is wrong
// (line and column 1-based; key path like `ops[2].resize.size.shortest_edge`); its where() is
// "FILE:LINE:COLUMN" and its key_path() the key path.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipelines/pipeline_spec.h"

namespace pixelflow::pipelines {

// Reads and parses the YAML file at `path`; relative paths inside it (input, output, config)
// are relative to the file's folder.
PipelineSpec load_pipeline_yaml(const std::string& path);

// Parses YAML text. `origin` names it in error messages and in PipelineSpec::origin; relative
// paths inside it are relative to origin's folder (the current directory when it has none).
PipelineSpec parse_pipeline_yaml(const std::string& text, const std::string& origin);

// The parameters (Hugging Face keys) the YAML reader accepts for each registered op, with the
// keys allowed inside dict-valued parameters ("size.height", ...). One entry per registry op.
const std::map<std::string, std::vector<std::string>>& yaml_op_params();

// PIL's resampling filter for a name ("nearest", "lanczos", "bilinear", "bicubic", "box",
// "hamming", any case); -1 when the name is none of them.
int resample_from_name(const std::string& name);

// The resolved spec as JSON (plan, load settings, ops with their parameters, run settings), for
// `pixelflow check-pipeline` and for people reading what a file resolved to.
nlohmann::ordered_json describe_pipeline(const PipelineSpec& spec);

}  // namespace pixelflow::pipelines
