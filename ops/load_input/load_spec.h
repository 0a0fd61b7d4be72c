// LoadSpec: how a loader (ops/load_input) turns inputs into arrays before a plan's first op. Part
// of a Plan (registry/plan.h); here, below the registry, because the loader reads it.
#pragma once

#include <cstdint>
#include <optional>

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
  // The layout inference counts 4 channels too (infer_channel_dimension_format with
  // num_channels=(1, 3, 4): Idefics3 / SmolVLM); otherwise (1, 3).
  bool infer_layout_4_channels = false;
};

}  // namespace pixelflow
