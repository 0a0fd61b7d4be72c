// The arithmetic of post_process_object_detection that the op and its reference share: torch's
// softmax, sigmoid, max and top-k orders, and the box conversion (see
// post_process_object_detection.h for what each reproduces). Built with -ffp-contract=off.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "ops/post_process_object_detection/post_process_object_detection.h"

namespace pixelflow::ops::detection {

// softmax over one row of n values: m = max, e = exp(x - m), sum in 16 lanes (lane j takes
// e[j], e[j + 16], ...; a tail shorter than 16 goes to the first lanes) then halves added
// pairwise (8, 4, 2, 1), out = e * (1 / sum). NaN anywhere makes every output NaN.
template <class S>
void softmax_row(const S* x, int64_t n, S* out) {
  S m = x[0];
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    nan = nan || std::isnan(x[i]);
    m = x[i] > m ? x[i] : m;
  }
  if (nan) m = std::numeric_limits<S>::quiet_NaN();
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i] - m);
  constexpr int64_t W = 16;
  S sum;
  if (n < W) {  // reduce_all of a short row: sequential
    sum = out[0];
    for (int64_t i = 1; i < n; ++i) sum = sum + out[i];
  } else {
    S lanes[W];
    for (int64_t j = 0; j < W; ++j) lanes[j] = out[j];
    int64_t d = W;
    for (; d + W <= n; d += W)
      for (int64_t j = 0; j < W; ++j) lanes[j] = lanes[j] + out[d + j];
    for (int64_t j = 0; d + j < n; ++j) lanes[j] = lanes[j] + out[d + j];
    for (int64_t w = W / 2; w >= 1; w /= 2)
      for (int64_t j = 0; j < w; ++j) lanes[j] = lanes[j] + lanes[j + w];
    sum = lanes[0];
  }
  const S inv = S(1) / sum;
  for (int64_t i = 0; i < n; ++i) out[i] = out[i] * inv;
}

template <class S>
S sigmoid(S x) {
  return S(1) / (S(1) + std::exp(-x));
}

// torch.max(dim) over n values: (value, index) of the first maximum; a NaN wins (the first).
template <class S>
std::pair<S, int64_t> max_first(const S* p, int64_t n) {
  S best = p[0];
  int64_t at = 0;
  if (std::isnan(best)) return {best, 0};
  for (int64_t i = 1; i < n; ++i) {
    if (std::isnan(p[i])) return {p[i], i};
    if (p[i] > best) best = p[i], at = i;
  }
  return {best, at};
}

// k of torch.topk for sigmoid_top_k: min(top_k, n), or num_queries without top_k.
inline int64_t top_k_count(const std::optional<int64_t>& top_k, int64_t num_queries, int64_t n) {
  return top_k ? std::min(*top_k, n) : std::min(num_queries, n);
}

// torch.topk(largest=True, sorted=True) on CPU (aten/src/ATen/native/TopKImpl.h): the first k
// entries of `queue` ((value, index) pairs in index order) become the top k in torch's order.
inline void torch_top_k(std::vector<std::pair<double, int64_t>>& queue, int64_t k) {
  using Elem = std::pair<double, int64_t>;
  auto greater = [](const Elem& a, const Elem& b) {
    return (std::isnan(a.first) && !std::isnan(b.first)) || (a.first > b.first);
  };
  const auto n = static_cast<int64_t>(queue.size());
  if (k <= 0) return;
  if (k * 64 <= n) {
    std::partial_sort(queue.begin(), queue.begin() + k, queue.end(), greater);
  } else {
    std::nth_element(queue.begin(), queue.begin() + (k - 1), queue.end(), greater);
    std::sort(queue.begin(), queue.begin() + (k - 1), greater);
  }
}

// One box (cx, cy, w, h) to corners, scaled: out = x0, y0, x1, y1 as doubles holding the values
// of the result dtype.
template <class B>
void corners(const B* b, const std::optional<ItemBoxScale>& scale, double out[4]) {
  const B half_w = B(0.5) * b[2], half_h = B(0.5) * b[3];
  const B c[4] = {b[0] - half_w, b[1] - half_h, b[0] + half_w, b[1] + half_h};
  if (!scale) {
    for (int i = 0; i < 4; ++i) out[i] = static_cast<double>(c[i]);
    return;
  }
  double sw = scale->width, sh = scale->height;
  if (scale->dtype == DType::kFloat32) sw = static_cast<float>(sw), sh = static_cast<float>(sh);
  const double s[4] = {sw, sh, sw, sh};
  const bool f64 = sizeof(B) == 8 || scale->dtype == DType::kFloat64;
  for (int i = 0; i < 4; ++i)
    out[i] = f64 ? static_cast<double>(c[i]) * s[i]
                 : static_cast<double>(static_cast<float>(c[i]) * static_cast<float>(s[i]));
}

}  // namespace pixelflow::ops::detection
