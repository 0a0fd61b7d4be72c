// Plan: the logical description of a processor call, one OpSpec per Hugging Face transform, as
// the config front ends (preprocessor_config.json, later YAML) produce it. The builder turns a
// plan into physical ops, fusing chains where it can.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graph/op.h"
#include "ops/load_input/load_spec.h"

namespace pixelflow {

// How a call's per-image outputs become the batch.
enum class Batching {
  kStack,    // stacked (N, ...) per key with tensors, else a list per image (most processors)
  kPatches,  // patchify's arrays: rows concatenated + image_grid_thw (ops::collate_patches), always arrays
};

struct Plan {
  std::string processor_class;
  LoadSpec load;
  // Tiling processors: ops run on each input image whose result stacks its tiles (n, h, w, C)
  // (GOT-OCR2's crop_to_patches), or, when the last is pan_and_scan (Gemma 3), the image followed
  // by its crops; image_ops then run on every tile as an image of its own. Empty for the others.
  std::vector<OpSpec> tile_ops;
  // When set (GOT-OCR2's "num_patches", Gemma 3's "num_crops"): an int64 array with each input's
  // number of tiles (tiles_without_tile_ops each when the plan has no tile_ops).
  std::string tiles_key;
  int64_t tiles_without_tile_ops = 1;
  std::vector<OpSpec> image_ops;
  std::vector<OpSpec> label_ops;
  Batching batching = Batching::kStack;
  bool video = false;  // inputs are videos: the image output is (N, T, ...) (VideoMAE)
  std::string image_key = "pixel_values";
  std::string labels_key = "labels";
  std::vector<std::string> warnings;  // what Hugging Face would warn about for this call
};

}  // namespace pixelflow
