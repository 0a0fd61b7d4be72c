// to_channel_dimension_format: the final layout of the model input. Images travel through the
// graph channels-last (H, W, C); this op writes them as data_format asks.
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow::ops {

class ToChannelDimensionFormatOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {"data_format"};
  // params: {"data_format": "channels_first" | "channels_last"}
  explicit ToChannelDimensionFormatOp(const nlohmann::json& params);
  explicit ToChannelDimensionFormatOp(Layout layout) : layout_(layout) {}
  std::string name() const override { return "to_channel_dimension_format"; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  Layout layout() const { return layout_; }

 private:
  Layout layout_;
};

Layout parse_layout(const nlohmann::json& value, const std::string& key);

}  // namespace pixelflow::ops
