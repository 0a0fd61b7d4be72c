// pan_and_scan: Gemma 3's crops of images much wider than tall (or taller than wide)
// (Gemma3ImageProcessor.pan_and_scan). The op passes the image through unchanged; the crops are
// windows of it, a function of its size alone (crops()), which PreparedCall cuts out after the
// image is loaded: the image, then its crops, are each processed as an image of their own
// (Plan::tile_ops), and the batch counts each image's crops (num_crops, 0 when none).
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"
#include "ops/common/tiling.h"

namespace pixelflow::ops {

class PanAndScanOp : public Op, public TileCutter {
 public:
  static inline const std::vector<std::string> kParamKeys = {
      "pan_and_scan_min_crop_size", "pan_and_scan_max_num_crops", "pan_and_scan_min_ratio_to_activate"};
  explicit PanAndScanOp(const nlohmann::json& params);
  std::string name() const override { return "pan_and_scan"; }
  TensorSpec infer(const TensorSpec& in) const override { return in; }
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  // The crops of an (h, w) image, row-major (none when its aspect ratio is below the threshold or
  // the crops would be smaller than the minimum); the last row / column may be narrower (Python
  // slicing clips them at the border).
  std::vector<Rect> crops(int64_t h, int64_t w) const;
  // TileCutter: the whole image, then its crops; the batch counts the crops.
  std::vector<Rect> tiles(const Shape& out, int64_t /*group_size*/) const override {
    std::vector<Rect> t{Rect::full(out.at(0), out.at(1))};
    for (const Rect& r : crops(out.at(0), out.at(1))) t.push_back(r);
    return t;
  }
  int64_t count(int64_t n) const override { return n - 1; }

 private:
  int64_t min_crop_size_, max_num_crops_;
  double min_ratio_;
};

}  // namespace pixelflow::ops
