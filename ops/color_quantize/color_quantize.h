// color_quantize: ImageGPT's colour quantization. Each pixel (3 values) becomes the index of the
// nearest of the config's colour clusters, with NumPy's mixed precisions reproduced: the
// squared norm of the pixel in the pixel's dtype (float32 after ImageGPT's normalize, wrapping
// uint8 squares without it), the cross term and the clusters' norms in float64,
// d = |x|^2 - 2 x.c + |c|^2, first minimum wins. Output: int64 (H * W,), key "input_ids".
#pragma once

#include <vector>

#include "graph/op.h"

namespace pixelflow::ops {

class ColorQuantizeOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {"clusters"};
  // params: {"clusters": [[r, g, b], ...]}
  explicit ColorQuantizeOp(const nlohmann::json& params);
  std::string name() const override { return "color_quantize"; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;

 private:
  std::vector<double> clusters_;  // (K, 3) row-major
  std::vector<double> norms_;     // |c|^2 per cluster, summed as NumPy does
};

// The quantization of an (H, W, 3) image into `out` (H * W) int64.
void color_quantize(const Tensor& image, const std::vector<double>& clusters,
                    const std::vector<double>& norms, Tensor& out);

}  // namespace pixelflow::ops
