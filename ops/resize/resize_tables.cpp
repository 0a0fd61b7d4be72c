// Pillow's coefficients laid out for the resampling kernels (see resize_tables.h).
#include "ops/resize/resize_tables.h"

#include <algorithm>
#include <climits>

namespace pixelflow::ops::resize_detail {

namespace {

// Splits k into balanced bytes, k = d0 + 2^8 d1 + 2^16 d2 with every d in [-128, 127]; false when
// k is out of that range.
bool byte_digits(int32_t k, int8_t d[3]) {
  int64_t v = k;
  for (int i = 0; i < 2; ++i) {
    const int64_t lo = ((v + 128) & 255) - 128;
    d[i] = static_cast<int8_t>(lo);
    v = (v - lo) / 256;
  }
  if (v < -128 || v > 127) return false;
  d[2] = static_cast<int8_t>(v);
  return true;
}

// Sizes the tables of `outputs` outputs for Pillow's coefficients (taps: the longest window;
// groups: digit groups of 4 taps from a multiple of 4), all zero.
void size_tables(const AxisCoeffs& a, int n, int outputs, bool digits, AxisTables& t) {
  int taps = 1, groups = 0;
  for (int i = 0; i < n; ++i) {
    taps = std::max(taps, a.count[i]);
    if (digits) groups = std::max(groups, (a.xmin[i] - floor4(a.xmin[i]) + a.count[i] + 3) / 4);
  }
  t.taps = taps;
  t.groups = groups;
  t.coeffs.assign(static_cast<size_t>(outputs) * taps, 0);
  t.starts.assign(outputs, 0);
  t.starts4.assign(outputs, 0);
  t.digit_table.assign(static_cast<size_t>(outputs) * groups * 12, 0);
  t.digits_ok = true;
  t.first = INT32_MAX;
  t.last = 0;
}

// Output i's byte digits, from input index start4 (a multiple of 4).
void fill_digits(const AxisCoeffs& a, int i, const int32_t* k, AxisTables& t) {
  const int s4 = floor4(a.xmin[i]);
  t.starts4[i] = s4;
  int8_t* dg = t.digit_table.data() + static_cast<size_t>(i) * t.groups * 12;
  for (int r = 0; r < a.count[i]; ++r) {
    const int tap = a.xmin[i] - s4 + r;
    int8_t d[3] = {0, 0, 0};
    if (!byte_digits(k[r], d)) t.digits_ok = false;
    for (int dd = 0; dd < 3; ++dd) dg[(tap / 4) * 12 + 4 * dd + tap % 4] = d[dd];
  }
  t.first = std::min(t.first, s4);
  t.last = std::max(t.last, s4 + 4 * t.groups);
}

}  // namespace

void make_tables(int in_size, int out_size, int filter, int o0, int o1, int outputs,
                 bool digits, AxisTables& t) {
  const AxisKey key{in_size, out_size, filter, o0, o1, outputs};
  if (t.key == key && t.digits == digits) return;
  t.key = AxisKey{};
  t.digits = digits;
  precompute_coeffs_8bpc(in_size, out_size, filter, o0, o1, t.pillow);
  const AxisCoeffs& a = t.pillow;
  const int n = o1 - o0;
  size_tables(a, n, outputs, digits, t);
  const int taps = t.taps;
  for (int i = 0; i < n; ++i) {
    const int32_t* k = &a.k[static_cast<size_t>(i) * a.ksize];
    // A window longer than the axis (a padded tap) starts at 0 and reads past its end.
    const int s = std::max(0, std::min(a.xmin[i], in_size - taps));
    std::copy(k, k + a.count[i], &t.coeffs[static_cast<size_t>(i) * taps + (a.xmin[i] - s)]);
    t.starts[i] = s;
    t.first = std::min(t.first, s);
    t.last = std::max(t.last, s + taps);
    if (digits) fill_digits(a, i, k, t);
  }
  // Padded outputs read where the last real one does.
  for (int i = n; i < outputs; ++i) {
    t.starts[i] = t.starts[n - 1];
    t.starts4[i] = t.starts4[n - 1];
  }
  t.key = key;
}

void KernelTables::make(const AxisTables& t, int origin, int channels, int outputs, int group_width) {
  const Key k{&t, t.key, origin, channels, outputs, group_width};
  if (key == k) return;
  key = Key{};
  taps = t.taps;
  groups = t.groups;
  const int pixels = static_cast<int>(t.starts.size());
  coeffs.resize(static_cast<size_t>(outputs) * taps);
  starts.resize(outputs);
  starts4.resize(outputs);
  digits.resize(static_cast<size_t>(outputs) * groups * 12);
  for (int o = 0; o < outputs; ++o) {
    const int x = std::min(o / channels, pixels - 1), ch = o % channels;
    // Pointer arithmetic, not operator[]: the digit tables are empty when groups == 0.
    std::copy_n(t.coeffs.data() + static_cast<size_t>(x) * taps, taps, coeffs.data() + static_cast<size_t>(o) * taps);
    std::copy_n(t.digit_table.data() + static_cast<size_t>(x) * groups * 12, groups * 12,
                digits.data() + static_cast<size_t>(o) * groups * 12);
    starts[o] = (t.starts[x] - origin) * channels + ch;
    starts4[o] = group_width == 1 ? t.starts4[x] - origin
                                  : (t.starts4[x] - origin) / group_width * 4 + ch;
  }
  key = k;
}

}  // namespace pixelflow::ops::resize_detail
