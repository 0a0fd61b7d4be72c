// Internal to ops/resize: Pillow's resampling geometry, shared by the Halide path and the scalar
// reference. Everything here reproduces Pillow 9.4 (src/libImaging/Resample.c and the nearest-
// neighbour affine scaling of Geometry.c) operation for operation in double precision, so that
// the integer coefficients are the very ones Pillow uses. Compiled with -ffp-contract=off.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/tensor.h"
#include "ops/resize/resize.h"

namespace pixelflow::ops::resize_detail {

// Pillow's fixed point: 32 bits minus 8 for the pixel value, minus 2 for overflow headroom.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kRoundingBias = int32_t(1) << (kPrecisionBits - 1);

// Filter codes as Pillow numbers them (0 NEAREST .. 5 HAMMING); NEAREST has no kernel.
struct Kernel {
  double (*fn)(double);
  double support;
};
// Kernel of a convolution filter (1..5); nullptr-free, asserts on 0.
const Kernel& kernel_for(int filter);

// Fixed-point coefficients of one axis, for a contiguous range of output positions.
struct AxisCoeffs {
  int ksize = 0;                 // Pillow's ksize: row length of `k`
  std::vector<int32_t> xmin;     // per output: first input index
  std::vector<int32_t> count;    // per output: number of taps (Pillow's "xmax - xmin")
  std::vector<int32_t> k;        // per output: ksize coefficients, zero past `count`
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for an axis resized from in_size to
// out_size (the box is the whole axis), evaluated for outputs [o0, o1) only. Each output's
// coefficients depend on that output alone, so a sub-range gives the same numbers as the full
// computation. Requires 0 <= o0 <= o1 <= out_size, in_size >= 1, out_size >= 1.
void precompute_coeffs_8bpc(int in_size, int out_size, int filter, int o0, int o1,
                            AxisCoeffs& out);

// Source index of each output position [o0, o1) under Pillow's NEAREST resize (affine scaling
// with an accumulated double coordinate); -1 where Pillow leaves the pixel 0. The accumulation
// always starts at output 0, as Pillow's does.
void nearest_indices(int in_size, int out_size, int o0, int o1, std::vector<int32_t>& out);

// Pillow's clip8: the fixed-point sum shifted down and clamped to [0, 255].
inline uint8_t clip8(int32_t ss) {
  int32_t v = ss >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Validates the arguments of resize_u8 / resize_u8_reference (throws InputError naming `who`).
void check_resize_args(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                       const Rect& window, const Tensor& out, const char* who);

}  // namespace pixelflow::ops::resize_detail
