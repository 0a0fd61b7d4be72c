// crop_to_patches: GOT-OCR2's tiling (GotOcr2ImageProcessor.crop_image_to_patches), the kind of
// tiling InternVL-style models use. An image is resized (Pillow's resampler) to a canvas of
// columns x rows tiles of patch_size, the grid whose aspect ratio is closest to the image's among
// those of min_patches..max_patches tiles (get_optimal_tiled_canvas), and cut into the tiles in
// row-major order; when there is more than one tile, the whole image resized to patch_size (the
// thumbnail) follows. Output: the tiles stacked, (n, patch_h, patch_w, C), in the input's dtype
// class (uint8 stays uint8; float arrays go through transformers' PIL conversion like resize).
// Each tile is then processed as an image of its own (PreparedCall runs the rest of the plan per
// tile: Plan::tile_ops).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "graph/op.h"
#include "ops/resize/resize.h"

namespace pixelflow::ops {

// (columns, rows) of the best grid, exactly as transformers computes it (float64 aspect ratios,
// ties to the grid with more tiles while the image's area exceeds half the canvas's).
std::pair<int64_t, int64_t> optimal_tiled_canvas(int64_t height, int64_t width, int64_t tile_h, int64_t tile_w,
                                                 int64_t min_tiles, int64_t max_tiles);

class CropToPatchesOp : public Op {
 public:
  static inline const std::vector<std::string> kParamKeys = {
      "min_patches", "max_patches", "patch_size", "patch_size.height", "patch_size.width", "resample",
      "use_thumbnail"};
  // params: {"min_patches": n, "max_patches": n, "patch_size": {"height", "width"}, "resample":
  // filter (transformers uses BICUBIC, 3, whatever the config says), "use_thumbnail": bool}.
  explicit CropToPatchesOp(const nlohmann::json& params);
  std::string name() const override { return "crop_to_patches"; }
  // Input: an (H, W, C) image.
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  std::optional<OutputFloor> output_floor() const override { return OutputFloor{tile_h_, tile_w_, "patch_size"}; }

  // The tiles (and the thumbnail) of an (H, W) image: (columns, rows, count).
  struct Layout {
    int64_t columns, rows, count;
  };
  Layout layout(int64_t h, int64_t w) const;

 private:
  int64_t min_patches_, max_patches_, tile_h_, tile_w_;
  Resample filter_;
  bool thumbnail_;
};

}  // namespace pixelflow::ops
