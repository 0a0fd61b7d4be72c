// Plan: the logical description of a processor call, one OpSpec per Hugging Face transform, as
// the config front ends (preprocessor_config.json, later YAML) produce it. The builder turns a
// plan into physical ops, fusing chains where it can.
#pragma once

#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "graph/op.h"
#include "ops/load_input/load_spec.h"

namespace pixelflow {

// How a call's per-image outputs become the batch.
enum class Batching {
  kStack,    // stacked (N, ...) per key with tensors, else a list per image (most processors)
  kPatches,  // patchify's arrays: rows concatenated + image_grid_thw (ops::collate_patches), always arrays
  kTilesPerInput,  // tile_ops plans: each input's tiles as one (n, ...) array (LLaVA-NeXT), see pad_tiles
  kPad,      // DETR family's pad(): every image zero-padded at the bottom / right to the batch's
             // largest height and width (or PadSpec::size), then stacked (or a list per image);
             // with PadSpec::pixel_mask also `pixel_mask`, int64 (N, H, W), 1 on the image's pixels
  // Idefics3 / SmolVLM (tile_ops plans run through PreparedCall::run_groups; run() passes every
  // input as a group of its own, the rows of a dataset run): each group's frames
  // (its images' tiles, in order) as one (n, ...) array; with pad_tiles (do_pad) zero frames up
  // to the batch's most, and (unless pad.pixel_mask is false) "pixel_attention_mask", int64
  // (frames, H, W), 1 on real frames, per group;
  // stacked (groups, frames, ...) with return_tensors. grid_keys then give one int64 array per
  // group (its images' rows / cols).
  kFramesPerSample,
};

// Batching::kPad's settings.
struct PadSpec {
  bool pixel_mask = true;  // Yolos: false
  // pad_size {"height", "width"}: every image padded to it (it must not be smaller than any image).
  std::optional<std::pair<int64_t, int64_t>> size;
};

// Detection annotations (DETR family): the COCO-detection dicts attached to the inputs
// (InputItem::annotation) become per-image labels (pipelines/detection_labels.h).
struct AnnotationSpec {
  bool accepted = false;  // the class takes annotations
  bool resized = false;   // do_resize: boxes and area scaled to the resized image, "size" set
  bool convert = false;   // do_convert_annotations: boxes to relative (cx, cy, w, h)
  bool padded = false;    // do_pad: "size" is the padded size, converted boxes rescaled to it
  std::string format = "coco_detection";
  bool segmentation_masks = false;  // return_segmentation_masks (refused)
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
  // Batching::kTilesPerInput: pad every input's tiles with zero tiles to the batch's most (do_pad).
  bool pad_tiles = false;
  // When set (LLaVA-NeXT's "image_sizes"): an int64 (N, 2) array of each input's (height, width).
  std::string input_sizes_key;
  // When set (LLaVA-OneVision's "batch_num_images"): an int64 array of the number of images of
  // each group of PreparedCall::run_groups (1 each for PreparedCall::run).
  std::string group_sizes_key;
  // When set (Idefics3's {"rows", "cols"}): int64 arrays of each input's tile grid, from the tile
  // stage's TileCutter::grid.
  std::pair<std::string, std::string> grid_keys;
  std::vector<OpSpec> image_ops;
  std::vector<OpSpec> label_ops;
  Batching batching = Batching::kStack;
  PadSpec pad;
  AnnotationSpec annotations;
  bool video = false;  // inputs are videos: the image output is (N, T, ...) (VideoMAE)
  std::string image_key = "pixel_values";
  std::string labels_key = "labels";
  std::vector<std::string> warnings;  // what Hugging Face would warn about for this call
};

}  // namespace pixelflow
