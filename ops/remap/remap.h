// Data movement shared by center_crop, flip_channel_order and to_channel_dimension_format:
// a window of an (H, W, C) image (zero outside), optionally with its channels reversed,
// written channels-last or channels-first. Halide kernels for uint8/float32/float64, a scalar
// path for other dtypes.
#pragma once

#include "graph/rect.h"
#include "graph/tensor.h"

namespace pixelflow::ops {

// `in`: (H, W, C) or (H, W). `out`: (win.height, win.width, C) or (C, win.height, win.width)
// when channels_first_out (2-D in gives 2-D out when !channels_first_out).
void remap_hwc(const Tensor& in, const Rect& win, bool flip_channels, bool channels_first_out,
               Tensor& out);
// Plain scalar version (the oracle for the kernel).
void remap_hwc_reference(const Tensor& in, const Rect& win, bool flip_channels,
                         bool channels_first_out, Tensor& out);

}  // namespace pixelflow::ops
