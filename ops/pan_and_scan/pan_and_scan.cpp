#include "ops/pan_and_scan/pan_and_scan.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/errors.h"
#include "ops/common/params.h"

namespace pixelflow::ops {

PanAndScanOp::PanAndScanOp(const nlohmann::json& params)
    : min_crop_size_(param_int(params, "pan_and_scan_min_crop_size")),
      max_num_crops_(param_int(params, "pan_and_scan_max_num_crops")),
      min_ratio_(param_double(params, "pan_and_scan_min_ratio_to_activate")) {
  if (min_crop_size_ <= 0)
    throw ConfigError("pan_and_scan_min_crop_size",
                      "must be a positive number of pixels (transformers divides by it), got " + std::to_string(min_crop_size_));
}

void PanAndScanOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  if (s.image.ndim() != 3 && s.image.ndim() != 2)
    throw InputError("pan_and_scan needs an image, got " + shape_str(s.image.shape()));
  if (last) {  // the image itself is the output: into the sink's memory
    Tensor out = ctx.output_for(s, s.image.dtype(), s.image.shape());
    if (out.raw_data() != s.image.raw_data() && s.image.nbytes() > 0)
      std::memcpy(out.raw_data(), s.image.raw_data(), s.image.nbytes());
    s.image = std::move(out);
  }
}

std::vector<Rect> PanAndScanOp::crops(int64_t h, int64_t w) const {
  if (h <= 0 || w <= 0) return {};
  const double hd = static_cast<double>(h), wd = static_cast<double>(w);
  int64_t nw = 1, nh = 1;
  // Python: int(math.floor(x)) of floats; min / max of ints.
  if (w >= h) {
    if (wd / hd < min_ratio_) return {};
    nw = static_cast<int64_t>(std::floor(wd / hd + 0.5));
    nw = std::min(static_cast<int64_t>(std::floor(wd / static_cast<double>(min_crop_size_))), nw);
    nw = std::min(max_num_crops_, std::max<int64_t>(2, nw));
  } else {
    if (hd / wd < min_ratio_) return {};
    nh = static_cast<int64_t>(std::floor(hd / wd + 0.5));
    nh = std::min(static_cast<int64_t>(std::floor(hd / static_cast<double>(min_crop_size_))), nh);
    nh = std::min(max_num_crops_, std::max<int64_t>(2, nh));
  }
  if (nw == 0 || nh == 0)
    throw InputError("pan_and_scan: pan_and_scan_max_num_crops is 0 (transformers divides the image by it: "
                     "ZeroDivisionError)");
  if (nw < 0 || nh < 0) return {};  // negative crop sizes: below the minimum
  const int64_t cw = static_cast<int64_t>(std::ceil(wd / static_cast<double>(nw)));
  const int64_t ch = static_cast<int64_t>(std::ceil(hd / static_cast<double>(nh)));
  if (std::min(cw, ch) < min_crop_size_) return {};
  std::vector<Rect> out;
  for (int64_t i = 0; i < nh; ++i)
    for (int64_t j = 0; j < nw; ++j) {
      const int64_t y = ch * i, x = cw * j;
      // image[y:y+ch, x:x+cw]: clipped at the border (possibly empty).
      out.push_back(Rect{std::min(x, w), std::min(y, h), std::max<int64_t>(0, std::min(cw, w - x)),
                         std::max<int64_t>(0, std::min(ch, h - y))});
    }
  return out;
}

}  // namespace pixelflow::ops
