// Glue between Tensors and Halide AOT kernels.
#pragma once

#include <HalideBuffer.h>

#include <string>

#include "base/errors.h"
#include "graph/halide_runtime.h"
#include "graph/tensor.h"

namespace pixelflow::ops {

// Halide buffer over an interleaved (H, W, C) tensor, with dimensions (c, x, y) and its
// top-left pixel at (x_min, y_min).
template <class T>
Halide::Runtime::Buffer<T> hwc_buffer(const Tensor& t, int x_min = 0, int y_min = 0) {
  const int h = static_cast<int>(t.dim(0)), w = static_cast<int>(t.dim(1)),
            c = static_cast<int>(t.dim(2));
  halide_dimension_t dims[3] = {{0, c, 1}, {x_min, w, c}, {y_min, h, w * c}};
  return Halide::Runtime::Buffer<T>(const_cast<T*>(static_cast<const T*>(t.raw_data())), 3, dims);
}

// Halide buffer with dimensions (x, y, c) over an image tensor that is either channels-first
// (C, H, W) or channels-last (H, W, C).
template <class T>
Halide::Runtime::Buffer<T> xyc_buffer(Tensor& t, bool channels_first) {
  int h, w, c;
  if (channels_first) {
    c = static_cast<int>(t.dim(0)), h = static_cast<int>(t.dim(1)), w = static_cast<int>(t.dim(2));
    halide_dimension_t dims[3] = {{0, w, 1}, {0, h, w}, {0, c, w * h}};
    return Halide::Runtime::Buffer<T>(static_cast<T*>(t.raw_data()), 3, dims);
  }
  h = static_cast<int>(t.dim(0)), w = static_cast<int>(t.dim(1)), c = static_cast<int>(t.dim(2));
  halide_dimension_t dims[3] = {{0, w, c}, {0, h, w * c}, {0, c, 1}};
  return Halide::Runtime::Buffer<T>(static_cast<T*>(t.raw_data()), 3, dims);
}

// Throws KernelError when a Halide pipeline returned an error code.
inline void check_kernel(int rc, const char* kernel) {
  if (rc != 0) {
    std::string msg = take_halide_error();
    throw KernelError(std::string("Halide kernel ") + kernel + " failed with code " +
                      std::to_string(rc) + (msg.empty() ? "" : ": " + msg));
  }
}

}  // namespace pixelflow::ops
