// Internal to ops/resize: Pillow's two resampling passes on the Halide kernels, shared by
// resize_u8 (resize_u8.cpp) and ResizeStream (resize_stream.cpp).
//
// Host side: clip the window to the resized image (zeros elsewhere), compute Pillow's
// coefficients for the window's columns and rows only, lay them out for the kernels (taps
// zero-padded to the window's longest filter, starts moved inwards at the image borders), then
// run the horizontal pass over exactly the input rows the vertical pass needs and the vertical
// pass over the window's rows, skipping a pass where Pillow skips it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "graph/rect.h"
#include "ops/resize/resize_tables.h"

namespace pixelflow::ops::resize_detail {

// What the host guarantees the kernels (see halide_generators/resize), whatever their schedule
// knobs (rows_per_block <= 16 dividing 16, column_block <= 16, tile_vector <= 64, vertical
// block <= 64 bytes).
constexpr int kRowMultiple = 16;  // horizontal pass: output rows
constexpr int kColMultiple = 16;  // horizontal pass: output columns (bytes)
constexpr int kMinTile = 16;      // horizontal pass: tile pixels
constexpr int kMinBytes = 64;     // vertical pass: bytes per row

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// A growable byte buffer that never initializes (fresh pages are touched by their first real
// use only) and never shrinks.
class RawBuffer {
 public:
  uint8_t* get(size_t n);

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t cap_ = 0;
};

// Per-thread scratch: kernel tables and intermediate images, reused across calls.
struct Scratch {
  AxisTables horiz, vert;
  KernelTables horiz_k, vert_k;
  std::vector<int32_t> indices_x, indices_y;
  RawBuffer tmp, src_pad, out_pad;
};

// Copies a (rows x bytes) block between row-strided memory.
void copy_rows(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride,
               int64_t rows, int64_t bytes);

// Zeroes every pixel of `window` (an image of c channels at `out`) outside `inside`, its part
// inside the resized image (window.clip(out_h, out_w)).
void zero_outside(const Rect& inside, const Rect& window, int c, uint8_t* out);

// What Pillow's two passes compute for a region (the part of a window inside the resized image,
// in output coordinates), and the kernels' layout of it.
struct Passes {
  int h = 0, w = 0, c = 0;
  bool horizontal = false, vertical = false;  // a pass is skipped where its axis keeps its size
  int out_rows = 0;                           // rows of the region
  int64_t nq = 0;                             // bytes per output row of the region
  int ry0 = 0, ry1 = 0;  // input rows the horizontal pass produces (those the vertical reads)
  // Horizontal pass: output row bytes padded for the q blocks and the vertical pass's vectors,
  // its tile (pixels [x0, x0 + tile_width), x0 a multiple of 4: the digit groups are aligned to
  // it; the kernel reads pixels past the input's end as its last byte), rows padded to 16.
  int nq_pad = 0, x0 = 0, tile_width = 0, rows_pad = 0;
  bool use_digits = false;
  int src_rows() const { return ry1 - ry0; }
};

// The kernels index with int32: whether every buffer they see for the region stays below 2 GiB
// (with input rows [ry0, ry1) through the horizontal pass).
bool fits_kernels(int h, int w, int c, const Rect& region, int ry0, int ry1);

// Pillow's coefficients for the region (into s.vert / s.horiz and the horizontal kernel tables)
// and the passes' geometry. Throws InputError where the kernels cannot take the sizes.
Passes plan_passes(int h, int w, int c, int out_h, int out_w, int filter, const Rect& region, Scratch& s);

// The horizontal pass on input rows [y0, y0 + rows) into `tmp` (row y0 at tmp, nq_pad bytes per
// row, round_up(rows, 16) rows written). `in` holds those rows (`in_stride` apart, row y0 first),
// columns [in_x, in_x + in_width) of the input: every column a non-zero coefficient reads.
void horizontal_pass(const Passes& p, Scratch& s, const uint8_t* in, int in_x, int in_width,
                     int64_t in_stride, int y0, int rows, uint8_t* tmp);

// The vertical pass (or the copy that replaces it) from `src`, input rows [ry0, ry1) with
// src_width readable bytes per row, into dst (row stride dst_stride).
void vertical_pass(const Passes& p, Scratch& s, const uint8_t* src, int64_t src_stride, int src_width,
                   uint8_t* dst, int64_t dst_stride);

}  // namespace pixelflow::ops::resize_detail
