// split_image: Idefics3's and SmolVLM's image splitting (Idefics3ImageProcessor.split_image).
// An image larger than max_image_size (M) on a side is cut into ceil(H / M) x ceil(W / M) tiles,
// row-major, followed by the whole image resized to M x M (the "global" image, resized as the
// processor's resize does: ops::resize_pil); an image of at most M x M is passed as it is, alone
// (rows = cols = 0). The processor resizes every image to multiples of M first
// (resize_for_vision_encoder), so that every tile is M x M; the op requires that (InputError
// otherwise).
// The op's output holds both: the image at the top left and the global image below it at the
// left, (H + M, W, C); tiles() gives the windows (tiles, then the global image) and grid() the
// rows and columns (what return_row_col_info returns).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "graph/op.h"
#include "ops/common/tiling.h"
#include "ops/resize/resize.h"

namespace pixelflow::ops {

class SplitImageOp : public Op, public TileCutter {
 public:
  static inline const std::vector<std::string> kParamKeys = {"max_image_size", "max_image_size.longest_edge",
                                                             "resample", "channels_first"};
  // params: {"max_image_size": {"longest_edge": M}, "resample": code, "channels_first": bool (the
  // global image's resize: ops::resize_pil's channels_first)}.
  explicit SplitImageOp(const nlohmann::json& params);
  std::string name() const override { return "split_image"; }
  // Input: an (H, W, C) image, H and W multiples of M.
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  std::vector<Rect> tiles(const Shape& out, int64_t group_size = 1) const override;
  // (rows, cols) of the split for an output of shape `out`: (0, 0) when the image was not split.
  std::optional<std::pair<int64_t, int64_t>> grid(const Shape& out) const override;
  int64_t max_image_size() const { return m_; }

 private:
  int64_t m_;
  Resample filter_;
  bool channels_first_;
};

}  // namespace pixelflow::ops
