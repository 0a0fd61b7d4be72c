// The run key and the names of a dataset run's files (see pipelines/dataset_writer.h):
//   DIR/run.json, DIR/manifest.jsonl, DIR/shards.jsonl,
//   DIR/shard-000000/ (npy) or DIR/shard-000000.safetensors, one per batch,
//   DIR/.pixelflow-<ID>.NAME.tmp, the run's temporaries.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipelines/pipeline_spec.h"

namespace pixelflow::pipelines {

// "npy" or "safetensors".
const char* format_name(SinkSpec::Format format);

// The run key of a run over `inputs` (in order): {"config": CONFIG, "inputs_sha256": SHA-256 of
// the inputs joined by '\n' (each followed by '\n'), "total": N, "batch_size": B, "format": F},
// and "dtype": "float16" or "bfloat16" when float32 outputs are written as that (`dtype`; left
// out for kFloat32, so that float32 runs keep the key they had before --dtype).
std::string make_run_key(const nlohmann::json& config, const std::vector<std::string>& inputs,
                         int64_t batch_size, SinkSpec::Format format, DType dtype = DType::kFloat32);

// ceil(total / batch_size).
int64_t batch_count(int64_t total, int64_t batch_size);

// "shard-000042" (npy folder) or "shard-000042.safetensors".
std::string shard_name(int64_t b, SinkSpec::Format format);
// The batch number of a shard name as shard_name writes it: "shard-" and 6 to 18 digits (no
// more leading zeros than shard_name writes), then nothing (npy) or ".safetensors"; -1 for any
// other name.
int64_t shard_number(const std::string& name, SinkSpec::Format format);
// Either format's shard name.
bool is_shard_name(const std::string& name);

// The id of the run whose run.json holds `run_json_text`: its first 16 SHA-256 hex digits.
std::string run_id_of(const std::string& run_json_text);
// The run's temporary for NAME: ".pixelflow-<id>.NAME.tmp".
std::string temp_name(const std::string& run_id, const std::string& name);
bool is_temporary_of(const std::string& name, const std::string& run_id);

// What differs between the run key in run.json (`there`) and this run's (`here`), one line:
// "config.size.shortest_edge 224 there, 256 now; total absent there, 3 now; and 2 more".
std::string describe_difference(const nlohmann::json& there, const nlohmann::json& here);

}  // namespace pixelflow::pipelines
