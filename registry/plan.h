// Plan: the logical description of a processor call, one OpSpec per Hugging Face transform, as
// the config front ends (preprocessor_config.json, later YAML) produce it. The builder turns a
// plan into physical ops, fusing chains where it can.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow {

// How inputs become arrays before the first op.
struct LoadSpec {
  bool convert_rgb = false;     // PIL's convert("RGB") after decoding (do_convert_rgb)
  bool exif_transpose = false;  // transformers.image_utils.load_image: EXIF orientation, then RGB
  // Channel layout of array inputs; when absent it is inferred from the first input as
  // Hugging Face's infer_channel_dimension_format does.
  std::optional<Layout> input_data_format;
  // Infer the layout of every input on its own (VideoMAE does, per frame) instead of from the
  // first input only.
  bool infer_layout_per_input = false;
  // Decompression-bomb limit (ops::DecodeOptions::max_pixels): inputs with more than max_pixels
  // pixels are refused from their header, before allocation; <= 0: no limit. Default 178956970,
  // where Pillow raises DecompressionBombError (2 * Image.MAX_IMAGE_PIXELS). For .npy inputs the
  // pixels are the product of the two largest dimensions (H x W of an HWC or CHW array).
  int64_t max_pixels = 178956970;
};

struct Plan {
  std::string processor_class;
  LoadSpec load;
  std::vector<OpSpec> image_ops;
  std::vector<OpSpec> label_ops;
  bool video = false;  // inputs are videos: the image output is (N, T, ...) (VideoMAE)
  std::string image_key = "pixel_values";
  std::string labels_key = "labels";
  std::vector<std::string> warnings;  // what Hugging Face would warn about for this call
};

}  // namespace pixelflow
