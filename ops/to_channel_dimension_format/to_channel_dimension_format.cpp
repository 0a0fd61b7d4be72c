#include "ops/to_channel_dimension_format/to_channel_dimension_format.h"

#include "base/errors.h"
#include "ops/remap/remap.h"

namespace pixelflow::ops {

Layout parse_layout(const nlohmann::json& v, const std::string& key) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "channels_first") return Layout::kChannelsFirst;
    if (s == "channels_last") return Layout::kChannelsLast;
  }
  throw ConfigError(key, "must be \"channels_first\" or \"channels_last\", got " + v.dump());
}

ToChannelDimensionFormatOp::ToChannelDimensionFormatOp(const nlohmann::json& params)
    : layout_(parse_layout(params.value("data_format", nlohmann::json("channels_first")),
                           "data_format")) {}

TensorSpec ToChannelDimensionFormatOp::infer(const TensorSpec& in) const {
  if (layout_ == Layout::kChannelsLast || in.shape.size() != 3) return in;
  return {in.dtype, {in.shape[2], in.shape[0], in.shape[1]}};
}

void ToChannelDimensionFormatOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  if (layout_ == Layout::kChannelsLast || s.image.ndim() != 3) return;
  TensorSpec spec = infer({s.image.dtype(), s.image.shape()});
  Tensor out = last ? ctx.output_for(s, spec.dtype, spec.shape) : ctx.new_tensor(spec.dtype, spec.shape);
  remap_hwc(s.image, Rect::full(s.image.dim(0), s.image.dim(1)), false, true, out);
  s.image = std::move(out);
}

}  // namespace pixelflow::ops
