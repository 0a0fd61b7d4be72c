// PipelineSpec: everything a whole-dataset run needs, whichever front end produced it.
//
// A JSON processor config (preprocessor_config.json + call kwargs) and a YAML pipeline file
// (pipelines/PIPELINES.md) are two front ends of one builder: both resolve to a PipelineSpec,
// whose Plan goes to build_pipeline() and whose other fields drive the data loader and
// `pixelflow run`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "registry/plan.h"
#include "pipelines/image_processor.h"

namespace pixelflow::pipelines {

enum class OnError { kFail, kSkip };

// Where the inputs of a run come from.
struct SourceSpec {
  enum class Kind { kFolder, kGlob, kList };
  Kind kind = Kind::kFolder;
  // kFolder: a directory (image files in it, sorted by name); kGlob: a pattern such as
  // "data/**/*.jpg"; kList: a text file with one path per line (relative paths are relative to
  // the list file's folder; blank lines and lines starting with '#' are ignored).
  std::string path;
  bool recursive = false;  // kFolder: descend into sub-folders
};

// Where the batches go.
struct SinkSpec {
  enum class Format { kNpy, kSafetensors };
  std::string out_dir;
  Format format = Format::kNpy;
  // The type float32 outputs are written as (--dtype): kFloat32 (as computed), kFloat16 or
  // kBFloat16 (rounded to nearest even; see pipelines/dataset/float_dtype.h).
  DType dtype = DType::kFloat32;
};

struct PipelineSpec {
  std::string origin;  // the file the spec came from, for messages ("" when built in code)
  Plan plan;           // what to compute, one OpSpec per transform (see registry/plan.h)
  // threads (0: all cores), max_in_flight (bound on images in flight; 0: 2 x threads + 2),
  // fuse, load_image, ...; skip_failed follows on_error.
  CallOptions options;
  std::optional<SourceSpec> source;
  int64_t batch_size = 32;
  bool ordered = true;  // false: a batch's rows may come in completion order (the manifest says which)
  OnError on_error = OnError::kFail;
  std::optional<SinkSpec> sink;
  // Post-processing nodes (e.g. post_process_semantic_segmentation), run on model outputs.
  std::vector<OpSpec> post_process;
};

}  // namespace pixelflow::pipelines
