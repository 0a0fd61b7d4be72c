// llava_next_patches: LLaVA-NeXT's "anyres" tiling (LlavaNextImageProcessor.get_image_patches).
// The image is resized, keeping its aspect ratio, into the grid resolution that
// select_best_resolution picks among image_grid_pinpoints (get_patch_output_size: the constrained
// side exact, the other ceil(side * scale)), centred on a zero canvas of that resolution
// (_pad_for_patching), and cut into patch_size x patch_size patches row-major (divide_to_patches;
// edge patches are smaller when patch_size does not divide the resolution); before them comes the
// whole image resized to base_size x base_size. All resizes use `resample` (Pillow's resampler).
// The op's output holds both: the padded grid image at the top left and the base image at its
// bottom-right corner, (best_h + base, best_w + base, C); tiles() gives the windows (base first).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "graph/op.h"
#include "ops/common/tiling.h"
#include "ops/resize/resize.h"

namespace pixelflow::ops {

// transformers.image_processing_utils.select_best_resolution: (height, width) of the resolution
// with the most effective pixels, then the least waste.
std::pair<int64_t, int64_t> select_best_resolution(int64_t h, int64_t w,
                                                   const std::vector<std::pair<int64_t, int64_t>>& resolutions);
// get_patch_output_size: the aspect-preserving size inside `target`.
std::pair<int64_t, int64_t> patch_output_size(int64_t h, int64_t w, int64_t target_h, int64_t target_w);

class LlavaNextPatchesOp : public Op, public TileCutter {
 public:
  static inline const std::vector<std::string> kParamKeys = {"image_grid_pinpoints", "patch_size", "base_size",
                                                             "resample"};
  explicit LlavaNextPatchesOp(const nlohmann::json& params);
  std::string name() const override { return "llava_next_patches"; }
  // Input: an (H, W, C) image.
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  std::vector<Rect> tiles(const Shape& out) const override;

 private:
  std::vector<std::pair<int64_t, int64_t>> resolutions_;
  int64_t patch_, base_;
  Resample filter_;
};

}  // namespace pixelflow::ops
