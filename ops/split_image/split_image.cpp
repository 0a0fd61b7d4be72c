#include "ops/split_image/split_image.h"

#include <cstring>

#include "base/errors.h"
#include "ops/common/params.h"

namespace pixelflow::ops {

namespace {

const nlohmann::json& max_size_dict(const nlohmann::json& params) {
  if (!params.contains("max_image_size") || !params.at("max_image_size").is_object())
    throw ConfigError("max_image_size", "must be a dict with longest_edge, got " +
                                            (params.contains("max_image_size") ? params.at("max_image_size").dump()
                                                                               : std::string("nothing")));
  return params.at("max_image_size");
}

bool split(int64_t h, int64_t w, int64_t m) { return h > m || w > m; }

}  // namespace

SplitImageOp::SplitImageOp(const nlohmann::json& params)
    : m_(param_side(max_size_dict(params), "longest_edge", "max_image_size")),
      filter_(resample_from_int(param_int(params, "resample"), "resample")),
      channels_first_(param_bool_or(params, "channels_first", false)) {}

TensorSpec SplitImageOp::infer(const TensorSpec& in) const {
  if (in.shape.size() != 3)
    throw InputError("split_image needs an (height, width, channels) image, got " + shape_str(in.shape));
  if (!split(in.shape[0], in.shape[1], m_)) return in;
  return {DType::kUInt8, {in.shape[0] + m_, in.shape[1], in.shape[2]}};
}

void SplitImageOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  const Tensor& in = s.image;
  if (in.ndim() != 3)
    throw InputError("split_image needs an (height, width, channels) image, got " + shape_str(in.shape()));
  const int64_t h = in.dim(0), w = in.dim(1), c = in.dim(2);
  if (h % m_ != 0 || w % m_ != 0)
    throw InputError(s.source + ": split_image needs sides that are multiples of max_image_size.longest_edge (" +
                     std::to_string(m_) + "), got " + shape_str(in.shape()) + " (resize_for_vision_encoder first)");
  if (!split(h, w, m_)) {
    if (last) {  // the image itself is the output: into the sink's memory
      Tensor out = ctx.output_for(s, in.dtype(), in.shape());
      if (out.raw_data() != in.raw_data() && in.nbytes() > 0) std::memcpy(out.raw_data(), in.raw_data(), in.nbytes());
      s.image = std::move(out);
    }
    return;
  }
  if (in.dtype() != DType::kUInt8)
    throw InputError(s.source + ": split_image needs a uint8 image (the processor's resize makes one), got " +
                     dtype_name(in.dtype()));
  // The global image: the whole image resized to M x M (to_pil_image, Image.resize).
  const Tensor global = resize_pil(in, m_, m_, filter_, s.source, ctx.pool, channels_first_);
  const Shape shape{h + m_, w, c};
  check_output_shape("split_image canvas", shape[0], shape[1], c);
  Tensor out = last ? ctx.output_for(s, DType::kUInt8, shape) : ctx.new_tensor(DType::kUInt8, shape);
  char* o = static_cast<char*>(out.raw_data());
  const auto row = static_cast<size_t>(w * c), grow = static_cast<size_t>(m_ * c);
  std::memcpy(o, in.raw_data(), in.nbytes());
  for (int64_t y = 0; y < m_; ++y) {
    char* dst = o + static_cast<size_t>(h + y) * row;
    std::memcpy(dst, static_cast<const char*>(global.raw_data()) + static_cast<size_t>(y) * grow, grow);
    if (row > grow) std::memset(dst + grow, 0, row - grow);
  }
  s.image = std::move(out);
}

std::optional<std::pair<int64_t, int64_t>> SplitImageOp::grid(const Shape& out) const {
  if (!split(out.at(0), out.at(1), m_)) return std::make_pair(int64_t(0), int64_t(0));
  return std::make_pair((out.at(0) - m_) / m_, out.at(1) / m_);
}

std::vector<Rect> SplitImageOp::tiles(const Shape& out, int64_t /*group_size*/) const {
  const auto [rows, cols] = *grid(out);
  if (rows == 0) return {Rect::full(out.at(0), out.at(1))};
  std::vector<Rect> t;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t.push_back(Rect{c * m_, r * m_, m_, m_});
  t.push_back(Rect{0, rows * m_, m_, m_});
  return t;
}

}  // namespace pixelflow::ops
