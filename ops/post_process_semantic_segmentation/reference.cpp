// Scalar reference of post_process_semantic_segmentation: PyTorch's bilinear tables and both of
// its float kernels' arithmetic, written as plain loops (the oracle for the fused kernels).
// Built with -ffp-contract=off (top-level CMakeLists.txt): every product and sum rounds on its own.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "base/errors.h"
#include "ops/post_process_semantic_segmentation/post_process_semantic_segmentation.h"

namespace pixelflow::ops {

template <class T>
LinearAxis<T> pytorch_linear_axis(int64_t in_size, int64_t out_size) {
  if (in_size <= 0 || out_size <= 0) throw std::logic_error("pytorch_linear_axis: empty axis");
  LinearAxis<T> a;
  const auto n = static_cast<size_t>(out_size);
  a.index0.resize(n);
  a.index1.resize(n);
  a.lambda0.resize(n);
  a.lambda1.resize(n);
  // area_pixel_compute_scale without scale_factor: opmath(input_size) / output_size.
  const T scale = static_cast<T>(in_size) / static_cast<T>(out_size);
  for (int64_t i = 0; i < out_size; ++i) {
    const auto s = static_cast<size_t>(i);
    if (in_size == out_size) {  // compute_source_index_and_lambda: plain copy weights
      a.index0[s] = a.index1[s] = static_cast<int32_t>(i);
      a.lambda0[s] = T(1);
      a.lambda1[s] = T(0);
      continue;
    }
    // area_pixel_compute_source_index (align_corners=False, not cubic).
    T src = scale * (static_cast<T>(i) + static_cast<T>(0.5)) - static_cast<T>(0.5);
    if (src < T(0)) src = T(0);
    // guard_index_and_lambda: floorf() takes a float, also when opmath is double.
    const int64_t index =
        std::min(static_cast<int64_t>(std::floor(static_cast<float>(src))), in_size - 1);
    const T lambda = std::min(std::max(src - static_cast<T>(index), T(0)), T(1));
    a.index0[s] = static_cast<int32_t>(index);
    a.index1[s] = static_cast<int32_t>(index + (index < in_size - 1 ? 1 : 0));
    a.lambda1[s] = lambda;
    a.lambda0[s] = T(1) - lambda;
  }
  return a;
}

template LinearAxis<float> pytorch_linear_axis<float>(int64_t, int64_t);
template LinearAxis<double> pytorch_linear_axis<double>(int64_t, int64_t);

BilinearArithmetic pytorch_bilinear_arithmetic(int64_t channels, int64_t in_h, int64_t in_w,
                                               int64_t out_h, int64_t out_w) {
  // _use_vectorized_kernel_cond_2d: channels-last contiguous input with C > 3 (a contiguous
  // (1, C, h, w) tensor is channels-last contiguous only when h == w == 1), or a small output.
  const bool channels_last_input = in_h == 1 && in_w == 1;
  if ((channels_last_input && channels > 3) || out_h + out_w <= 128)
    return BilinearArithmetic::kChannelsLast;
  return BilinearArithmetic::kGeneric;
}

namespace {

// torch.argmax's comparison: does `v` (a later class) replace the running maximum `m`?
template <class T>
inline bool replaces(T v, T m) {
  if (std::isnan(m)) return false;
  return std::isnan(v) || v > m;
}

// Vectorized<float> / Vectorized<double> of PyTorch's AVX2 and default builds: 256 bits.
constexpr int64_t kTorchVectorBytes = 32;

template <class T>
void reference_item(const Tensor& logits, const std::optional<TargetSize>& size, Tensor& out,
                    BilinearArithmetic arithmetic) {
  const int64_t C = logits.dim(0), h = logits.dim(1), w = logits.dim(2);
  const T* in = logits.data<T>();
  int64_t* dst = out.data<int64_t>();
  const int64_t plane = h * w;
  if (!size) {
    for (int64_t p = 0; p < plane; ++p) {
      T m = in[p];
      int64_t best = 0;
      for (int64_t c = 1; c < C; ++c) {
        const T v = in[c * plane + p];
        if (replaces(v, m)) m = v, best = c;
      }
      dst[p] = best;
    }
    return;
  }
  const int64_t H = size->first, W = size->second;
  const LinearAxis<T> ya = pytorch_linear_axis<T>(h, H), xa = pytorch_linear_axis<T>(w, W);
  const int64_t vector_end = C - C % (kTorchVectorBytes / static_cast<int64_t>(sizeof(T)));
  for (int64_t y = 0; y < H; ++y) {
    const auto sy = static_cast<size_t>(y);
    const int64_t r0 = ya.index0[sy] * w, r1 = ya.index1[sy] * w;
    const T wy0 = ya.lambda0[sy], wy1 = ya.lambda1[sy];
    for (int64_t x = 0; x < W; ++x) {
      const auto sx = static_cast<size_t>(x);
      const int64_t c0 = xa.index0[sx], c1 = xa.index1[sx];
      const T wx0 = xa.lambda0[sx], wx1 = xa.lambda1[sx];
      const T w00 = wy0 * wx0, w01 = wy0 * wx1, w10 = wy1 * wx0, w11 = wy1 * wx1;
      T m = T(0);
      int64_t best = 0;
      for (int64_t c = 0; c < C; ++c) {
        const T* p = in + c * plane;
        const T a = p[r0 + c0], b = p[r0 + c1], d = p[r1 + c0], e = p[r1 + c1];
        T v;
        if (arithmetic == BilinearArithmetic::kGeneric) {
          const T t0 = a * wx0 + b * wx1;
          const T t1 = d * wx0 + e * wx1;
          v = t0 * wy0 + t1 * wy1;
        } else if (c < vector_end) {
          v = a * w00 + (b * w01 + (d * w10 + e * w11));
        } else {
          v = ((a * w00 + b * w01) + d * w10) + e * w11;
        }
        if (c == 0 || replaces(v, m)) m = v, best = c;
      }
      dst[y * W + x] = best;
    }
  }
}

}  // namespace

void segmentation_map_reference(const Tensor& logits, const std::optional<TargetSize>& target_size,
                                Tensor& out, std::optional<BilinearArithmetic> arithmetic) {
  if (logits.ndim() != 3 || logits.dim(0) <= 0)
    throw InputError("post_process_semantic_segmentation: one item's logits must be (num_labels, "
                     "height, width) with num_labels > 0, got shape " + shape_str(logits.shape()));
  const Shape want = target_size ? Shape{target_size->first, target_size->second}
                                 : Shape{logits.dim(1), logits.dim(2)};
  if (out.dtype() != DType::kInt64 || out.shape() != want)
    throw std::logic_error("segmentation_map_reference: output must be int64 " + shape_str(want));
  if (target_size && (logits.dim(1) <= 0 || logits.dim(2) <= 0 || target_size->first <= 0 ||
                      target_size->second <= 0))
    throw InputError("post_process_semantic_segmentation: interpolation needs positive sizes, got "
                     "logits " + shape_str(logits.shape()) + " and target size " + shape_str(want));
  const BilinearArithmetic a =
      arithmetic ? *arithmetic
      : target_size ? pytorch_bilinear_arithmetic(logits.dim(0), logits.dim(1), logits.dim(2),
                                                  target_size->first, target_size->second)
                    : BilinearArithmetic::kGeneric;
  switch (logits.dtype()) {
    case DType::kFloat32: return reference_item<float>(logits, target_size, out, a);
    case DType::kFloat64: return reference_item<double>(logits, target_size, out, a);
    default:
      throw InputError(std::string("post_process_semantic_segmentation: logits must be float32 or "
                                   "float64, got ") + dtype_name(logits.dtype()));
  }
}

}  // namespace pixelflow::ops
