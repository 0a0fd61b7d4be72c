// The transformers / NumPy formulas of the ops as plain loops: the oracles of the op tests where
// an op has no scalar reference of its own (and independent checks where it has one). Each
// function says which Python code it transcribes.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "graph/tensor.h"
#include "tests/common/op_test_util.h"

namespace pixelflow::test {

// Python's a // b.
inline int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Copies window rows [y0, y0 + h) x columns [x0, x0 + w) of an (H, W[, C]) array, zero outside:
// np.pad then slicing, as transformers' center_crop and pad do.
inline Tensor window_of(const Tensor& in, int64_t y0, int64_t x0, int64_t h, int64_t w) {
  const int64_t H = in.dim(0), W = in.dim(1), c = in.ndim() == 3 ? in.dim(2) : 1;
  Shape shape = in.shape();
  shape[0] = h;
  shape[1] = w;
  Tensor out = Tensor::zeros(in.dtype(), shape);
  const size_t px = c * dtype_size(in.dtype());
  const auto* src = static_cast<const uint8_t*>(in.raw_data());
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t sy = y0 + y, sx = x0 + x;
      if (sy >= 0 && sy < H && sx >= 0 && sx < W) std::memcpy(dst + (y * w + x) * px, src + (sy * W + sx) * px, px);
    }
  return out;
}

// DPT's pad_image: _get_pad(size) = (pad // 2, pad - pad // 2) with pad = ceil(size / d) * d - size,
// then image_transforms.pad with constant 0.
inline Tensor hf_pad(const Tensor& in, int64_t divisor) {
  auto padded = [divisor](int64_t n) { return (n + divisor - 1) / divisor * divisor; };
  const int64_t h = in.dim(0), w = in.dim(1), nh = padded(h), nw = padded(w);
  return window_of(in, -((nh - h) / 2), -((nw - w) / 2), nh, nw);
}

// image_transforms.center_crop: top = (H - h) // 2, left = (W - w) // 2; zero padding where the
// crop is larger than the image.
inline Tensor hf_center_crop(const Tensor& in, int64_t h, int64_t w) {
  return window_of(in, floordiv(in.dim(0) - h, 2), floordiv(in.dim(1) - w, 2), h, w);
}

// image_transforms.flip_channel_order (channels last): image[..., ::-1].
inline Tensor hf_flip_channel_order(const Tensor& in) {
  Tensor out = Tensor::empty(in.dtype(), in.shape());
  const int64_t c = in.ndim() == 3 ? in.dim(2) : 1, n = in.numel() / c;
  const size_t es = dtype_size(in.dtype());
  const auto* src = static_cast<const uint8_t*>(in.raw_data());
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  for (int64_t p = 0; p < n; ++p)
    for (int64_t k = 0; k < c; ++k) std::memcpy(dst + (p * c + k) * es, src + (p * c + (c - 1 - k)) * es, es);
  return out;
}

// to_channel_dimension_format(image, "channels_first") of an (H, W, C) image: transpose(2, 0, 1).
// 2-D arrays are returned as they are.
inline Tensor hf_channels_first(const Tensor& in) {
  if (in.ndim() != 3) return in;
  const int64_t h = in.dim(0), w = in.dim(1), c = in.dim(2);
  Tensor out = Tensor::empty(in.dtype(), {c, h, w});
  const size_t es = dtype_size(in.dtype());
  const auto* src = static_cast<const uint8_t*>(in.raw_data());
  auto* dst = static_cast<uint8_t*>(out.raw_data());
  for (int64_t k = 0; k < c; ++k)
    for (int64_t p = 0; p < h * w; ++p) std::memcpy(dst + (k * h * w + p) * es, src + (p * c + k) * es, es);
  return out;
}

// image_transforms.rescale(image, scale, dtype=np.float32): float32(float64(x) * scale), then
// (EfficientNet's rescale_offset) "- 1" in float32.
inline Tensor hf_rescale(const Tensor& in, double scale, bool offset = false) {
  Tensor out = Tensor::empty(DType::kFloat32, in.shape());
  with_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < in.numel(); ++i) {
      float v = static_cast<float>(static_cast<double>(in.data<T>()[i]) * scale);
      out.data<float>()[i] = offset ? v - 1.0f : v;
    }
  });
  return out;
}

// image_transforms.normalize: non-float images become float32; mean and std are cast to the
// image's dtype; (image - mean) / std per channel (the last axis).
inline Tensor hf_normalize(const Tensor& in, const std::vector<double>& mean, const std::vector<double>& std) {
  const DType out_dtype = in.dtype() == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
  Tensor out = Tensor::empty(out_dtype, in.shape());
  const int64_t c = in.ndim() == 3 ? in.dim(2) : 1;
  auto channel = [&](const std::vector<double>& v, int64_t k) { return v.size() == 1 ? v[0] : v.at(k); };
  with_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < in.numel(); ++i) {
      const int64_t k = i % c;
      if (out_dtype == DType::kFloat64) {
        out.data<double>()[i] = (static_cast<double>(in.data<T>()[i]) - channel(mean, k)) / channel(std, k);
      } else {
        out.data<float>()[i] = (static_cast<float>(in.data<T>()[i]) - static_cast<float>(channel(mean, k))) /
                               static_cast<float>(channel(std, k));
      }
    }
  });
  return out;
}

// BeitImageProcessor.reduce_label: label[label == 0] = 255; label = label - 1;
// label[label == 254] = 255 (in the map's dtype).
inline Tensor hf_reduce_label(const Tensor& in) {
  Tensor out = in.clone();
  with_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      T* p = out.data<T>();
      for (int64_t i = 0; i < out.numel(); ++i)
        if (p[i] == T(0)) p[i] = T(255);
      for (int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<T>(p[i] - T(1));
      for (int64_t i = 0; i < out.numel(); ++i)
        if (p[i] == T(254)) p[i] = T(255);
    }
  });
  return out;
}

// ndarray.astype(to) for values in the target's range (and integers, which wrap): C's casts,
// except that to bool is x != 0.
inline Tensor numpy_astype(const Tensor& in, DType to) {
  Tensor out = Tensor::empty(to, in.shape());
  with_dtype(in.dtype(), [&](auto in_tag) {
    using In = decltype(in_tag);
    with_dtype(to, [&](auto out_tag) {
      using Out = decltype(out_tag);
      for (int64_t i = 0; i < in.numel(); ++i) {
        const In v = in.data<In>()[i];
        if constexpr (std::is_same_v<Out, bool>) out.data<Out>()[i] = v != In(0);
        else out.data<Out>()[i] = static_cast<Out>(v);
      }
    });
  });
  return out;
}

using Clusters = std::vector<std::array<double, 3>>;

// ImageGPT's color_quantize on an (H, W, 3) float32 / float64 / uint8 image:
//   a2 = np.sum(np.square(x), axis=1)   (in x's dtype: uint8 squares wrap, summed in uint64)
//   ab = np.matmul(x, clusters.T)       (float64) ; b2 = np.sum(np.square(clusters.T), axis=0)
//   d = a2[:, None] - 2 * ab + b2[None, :] ; np.argmin(d, axis=1)   (first minimum)
inline Tensor imagegpt_color_quantize(const Tensor& img, const Clusters& clusters) {
  const int64_t n = img.dim(0) * img.dim(1);
  Tensor out = Tensor::empty(DType::kInt64, {n});
  std::vector<double> b2;
  for (const auto& c : clusters) b2.push_back((c[0] * c[0] + c[1] * c[1]) + c[2] * c[2]);
  for (int64_t p = 0; p < n; ++p) {
    double x[3] = {0, 0, 0}, a2 = 0;
    with_dtype(img.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, uint8_t>) {
        const T* v = img.data<T>() + 3 * p;
        T sq[3];
        for (int k = 0; k < 3; ++k) {
          x[k] = static_cast<double>(v[k]);
          sq[k] = static_cast<T>(v[k] * v[k]);
        }
        if constexpr (std::is_same_v<T, uint8_t>)
          a2 = static_cast<double>(uint64_t(sq[0]) + uint64_t(sq[1]) + uint64_t(sq[2]));
        else
          a2 = static_cast<double>(static_cast<T>(static_cast<T>(sq[0] + sq[1]) + sq[2]));
      }
    });
    int64_t best = 0;
    double best_d = 0;
    for (size_t j = 0; j < clusters.size(); ++j) {
      const auto& c = clusters[j];
      const double ab = (x[0] * c[0] + x[1] * c[1]) + x[2] * c[2];
      const double d = (a2 - 2.0 * ab) + b2[j];
      if (j == 0 || d < best_d) {
        best = static_cast<int64_t>(j);
        best_d = d;
      }
    }
    out.data<int64_t>()[p] = best;
  }
  return out;
}

}  // namespace pixelflow::test
