// The one rectangle type of the project: a window of an image in pixel coordinates (Op's
// input_region, crops, pads, resize windows, decoded regions).
#pragma once

#include <algorithm>
#include <cstdint>

namespace pixelflow {

// Columns [x, x + width), rows [y, y + height). It may reach outside the image it refers to
// (a crop larger than the image, a pad: negative x or y); where it does, the pixels are 0.
struct Rect {
  int64_t x = 0, y = 0, width = 0, height = 0;

  // The whole of a (height, width) image.
  static Rect full(int64_t height, int64_t width) { return {0, 0, width, height}; }

  bool operator==(const Rect&) const = default;
  bool empty() const { return width <= 0 || height <= 0; }
  // Whether the rectangle lies inside a (height, width) image.
  bool inside(int64_t image_height, int64_t image_width) const {
    return x >= 0 && y >= 0 && width <= image_width - x && height <= image_height - y;
  }
  // The part inside a (height, width) image (height, width >= 0): empty (with x, y clamped into
  // the image) when they do not overlap. Computed without overflow for any int64 rectangle.
  Rect clip(int64_t image_height, int64_t image_width) const {
    Rect r;
    clip_span(x, width, image_width, r.x, r.width);
    clip_span(y, height, image_height, r.y, r.height);
    return r;
  }

 private:
  static void clip_span(int64_t start, int64_t length, int64_t size, int64_t& lo, int64_t& n) {
    lo = std::clamp<int64_t>(start, 0, size);
    n = 0;
    if (length <= 0 || start >= size) return;
    if (start < 0) {
      if (length <= -start) return;  // ends before 0 (length + start cannot overflow here)
      length += start;
    }
    n = std::min(length, size - lo);
  }
};

}  // namespace pixelflow
