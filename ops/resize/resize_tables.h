// Internal to ops/resize: Pillow's coefficients (resize_coeffs.h) laid out for the Halide
// resampling kernels (halide_generators/resize).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/resize/resize_coeffs.h"

namespace pixelflow::ops::resize_detail {

// Rounds down to a multiple of 4 (towards -infinity).
inline int floor4(int v) { return v >= 0 ? v / 4 * 4 : -((-v + 3) / 4 * 4); }

// Which geometry an axis' tables were made for (they are reused while it repeats, as it does for
// a batch of same-sized images).
struct AxisKey {
  int in_size = -1, out_size = -1, filter = -1, o0 = -1, o1 = -1, outputs = -1;
  bool operator==(const AxisKey&) const = default;
};

// The kernel tables of one axis (see halide_generators/resize): for every output, `taps` int32
// coefficients from input index start (windows moved inwards at the far border, with leading
// zeros). For the horizontal pass (`digits`), also the same coefficients as byte
// digits in `groups` groups of 4 taps from start4, a multiple of 4
// (digits[(o * groups + g) * 12 + 4 * d + e] is digit d of tap 4 g + e); these windows may end
// past the axis (the kernel clamps those reads; their coefficients are zero).
struct AxisTables {
  AxisKey key;
  bool digits = false;
  AxisCoeffs pillow;
  int taps = 0, groups = 0;
  bool digits_ok = false;  // every coefficient has a byte split
  std::vector<int32_t> coeffs, starts, starts4;
  std::vector<int8_t> digit_table;
  int first = 0, last = 0;  // input indexes read: [first, last)
};

// Pillow's coefficients of outputs [o0, o1) laid out for the kernels, for `outputs` >= o1 - o0
// outputs (the extra ones have zero coefficients and read where the last real one does).
void make_tables(int in_size, int out_size, int filter, int o0, int o1, int outputs,
                 bool digits, AxisTables& t);

// The tables a kernel gets: an axis' tables expanded to `outputs` kernel outputs (output o is
// pixel o / channels of channel o % channels), with the starts relative to input index `origin`:
// int32 starts in bytes of the kernel's input (taps step `channels`), digit starts in groups of
// `group_width` indexes times `channels` plus the channel (see the horizontal generator's tile4;
// group_width = channels = 1 for the vertical pass, where start4 is a row).
struct KernelTables {
  struct Key {
    const AxisTables* axis = nullptr;
    AxisKey key;
    int origin = 0, channels = 0, outputs = 0, group_width = 0;
    bool operator==(const Key&) const = default;
  } key;
  std::vector<int32_t> coeffs, starts, starts4;  // (outputs, taps), (outputs), (outputs)
  std::vector<int8_t> digits;                     // (outputs, groups, 12)
  int taps = 0, groups = 0;

  // Does nothing when the arguments (and the axis tables) are those of the last call.
  void make(const AxisTables& t, int origin, int channels, int outputs, int group_width);
  int outputs() const { return key.outputs; }
};

}  // namespace pixelflow::ops::resize_detail
