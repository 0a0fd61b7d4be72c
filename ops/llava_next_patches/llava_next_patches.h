// llava_next_patches: LLaVA-NeXT's "anyres" tiling (LlavaNextImageProcessor.get_image_patches).
// The image is resized, keeping its aspect ratio, into the grid resolution that
// select_best_resolution picks among image_grid_pinpoints (get_patch_output_size: the constrained
// side exact, the other ceil(side * scale)), centred on a zero canvas of that resolution
// (_pad_for_patching), and cut into patch_size x patch_size patches row-major (divide_to_patches;
// edge patches are smaller when patch_size does not divide the resolution); before them comes the
// whole image resized to base_size (a side, or [height, width]: LLaVA-OneVision's size). All
// resizes use `resample` (Pillow's resampler).
// With grouped_pad_color (LLaVA-OneVision), an image the caller passed as one of several of a
// sample (InputGroup, size > 1) is not tiled: it is padded to a square of its longest side, centred
// on that color (LlavaOnevisionImageProcessor.pad_to_square), and that square is its one window.
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

// The canvas the patches are cut from, for an (h, w, c) image: (h, w) of the canvas and where
// the image resized to (image_h, image_w) lies on it (zeros elsewhere). Normally the best
// resolution with the image centred; transformers' layout inference in _pad_for_patching pads
// other axes when it reads the resized array the wrong way round (a channels-last image resized
// to a height of 1 or 3: canvas (image_h, image_w + best_h - image_h), the image centred along the
// width; a channels-first one with 2 or 4+ channels resized to a width of 1 or 3: canvas
// (image_h + best_w - image_w, image_w)), and raises (InputError naming `source`) where it cannot
// infer a layout or where the misread padding would change the channel count.
struct PatchCanvas {
  int64_t h, w, top, left, image_h, image_w;
};
PatchCanvas patch_canvas(int64_t h, int64_t w, int64_t c, bool channels_first,
                         const std::vector<std::pair<int64_t, int64_t>>& resolutions, const std::string& source);

class LlavaNextPatchesOp : public Op, public TileCutter {
 public:
  static inline const std::vector<std::string> kParamKeys = {"image_grid_pinpoints", "patch_size", "base_size",
                                                             "resample", "grouped_pad_color"};
  explicit LlavaNextPatchesOp(const nlohmann::json& params);
  std::string name() const override { return "llava_next_patches"; }
  // Input: an (H, W, C) image.
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  std::vector<Rect> tiles(const Shape& out, int64_t group_size) const override;

 private:
  void pad_to_square(Sample& s, const ExecContext& ctx, bool last) const;

  std::vector<std::pair<int64_t, int64_t>> resolutions_;
  int64_t patch_, base_h_, base_w_;
  nlohmann::json grouped_pad_color_;  // null: grouped images are tiled like the others
  Resample filter_;
};

}  // namespace pixelflow::ops
