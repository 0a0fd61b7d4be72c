#include "ops/pointwise/pointwise.h"

#include <cstring>
#include <type_traits>

#include "base/errors.h"
#include "graph/kernels.h"
#include "ops/center_crop/center_crop.h"
#include "ops/common/halide_util.h"
#include "ops/remap/remap.h"
#include "pointwise_lut_default.h"
#include "rescale_normalize_uint8_default.h"

namespace pixelflow::ops {

PointwiseStep PointwiseStep::rescale(double scale, bool offset) {
  PointwiseStep s;
  s.kind = Kind::kRescale;
  s.scale = scale;
  s.offset = offset;
  return s;
}

PointwiseStep PointwiseStep::normalize(std::vector<double> mean, std::vector<double> std,
                                       bool mean_scalar, bool std_scalar) {
  PointwiseStep s;
  s.kind = Kind::kNormalize;
  s.mean = std::move(mean);
  s.std = std::move(std);
  s.mean_scalar = mean_scalar;
  s.std_scalar = std_scalar;
  return s;
}

namespace {

int64_t channels_of(const Tensor& t) { return t.ndim() == 3 ? t.dim(2) : 1; }

double per_channel(const std::vector<double>& v, int64_t c) {
  return v.size() == 1 ? v[0] : v[static_cast<size_t>(c)];
}

// Value of element `i` of a tensor of dtype `t`, exactly, as a double.
double read_value(const void* data, DType t, int64_t i) {
  switch (t) {
    case DType::kBool: return static_cast<const uint8_t*>(data)[i] ? 1.0 : 0.0;
    case DType::kUInt8: return static_cast<const uint8_t*>(data)[i];
    case DType::kUInt16: return static_cast<const uint16_t*>(data)[i];
    case DType::kInt32: return static_cast<const int32_t*>(data)[i];
    case DType::kInt64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case DType::kFloat32: return static_cast<const float*>(data)[i];
    case DType::kFloat64: return static_cast<const double*>(data)[i];
  }
  return 0;
}

// One element through the chain. Float32 results are carried in a double exactly.
double eval_chain(double v, DType in, int64_t c, const std::vector<PointwiseStep>& steps) {
  DType st = in;
  for (const auto& s : steps) {
    if (s.kind == PointwiseStep::Kind::kRescale) {
      float r = static_cast<float>(v * s.scale);
      if (s.offset) r = r - 1.0f;
      v = r;
      st = DType::kFloat32;
    } else if (st == DType::kFloat64) {
      v = (v - per_channel(s.mean, c)) / per_channel(s.std, c);
    } else {
      float x = static_cast<float>(v);  // NumPy's astype(float32) for integer input
      float m = static_cast<float>(per_channel(s.mean, c));
      float d = static_cast<float>(per_channel(s.std, c));
      v = static_cast<float>((x - m) / d);
      st = DType::kFloat32;
    }
  }
  return v;
}

void write_value(void* data, DType t, int64_t i, double v) {
  if (t == DType::kFloat32)
    static_cast<float*>(data)[i] = static_cast<float>(v);
  else
    static_cast<double*>(data)[i] = v;
}

}  // namespace

std::vector<float> channel_values(const std::vector<double>& v, int64_t channels) {
  std::vector<float> out(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) out[c] = static_cast<float>(per_channel(v, c));
  return out;
}

KernelArgs kernel_args(const std::vector<PointwiseStep>& steps, int64_t channels) {
  KernelArgs k;
  k.mean.assign(static_cast<size_t>(channels), 0.f);
  k.std.assign(static_cast<size_t>(channels), 1.f);
  for (const auto& s : steps) {
    if (s.kind == PointwiseStep::Kind::kRescale) {
      k.do_rescale = true;
      k.scale = s.scale;
      k.offset = s.offset ? 1.0f : 0.0f;
    } else {
      k.do_normalize = true;
      k.mean = channel_values(s.mean, channels);
      k.std = channel_values(s.std, channels);
    }
  }
  return k;
}

bool kernel_shaped(const std::vector<PointwiseStep>& steps) {
  if (steps.size() > 2) return false;
  if (steps.size() == 2)
    return steps[0].kind == PointwiseStep::Kind::kRescale &&
           steps[1].kind == PointwiseStep::Kind::kNormalize;
  return true;
}

namespace {

// The kernel families, typed from their generated entry points (graph/kernels.h): every
// rescale_normalize_<type> family has the signature of the uint8 one (buffers differ in element
// type only). The families are looked up and checked on first use.
using RescaleNormalizeFamily = TypedKernelFamily<decltype(&rescale_normalize_uint8_default)>;

template <class T>
const RescaleNormalizeFamily& rescale_normalize_family() {
  static const RescaleNormalizeFamily family(std::is_same_v<T, uint8_t> ? "rescale_normalize_uint8"
                                             : std::is_same_v<T, float> ? "rescale_normalize_float32"
                                                                        : "rescale_normalize_float64");
  return family;
}

const TypedKernelFamily<decltype(&pointwise_lut_default)>& pointwise_lut_family() {
  static const TypedKernelFamily<decltype(&pointwise_lut_default)> family("pointwise_lut");
  return family;
}

std::vector<int32_t> channel_map(int64_t c, bool flip) {
  std::vector<int32_t> map(static_cast<size_t>(c));
  for (int64_t i = 0; i < c; ++i) map[i] = static_cast<int32_t>(flip ? c - 1 - i : i);
  return map;
}

template <class T>
void run_rescale_normalize(const Tensor& in, const Rect& win,
                           const std::vector<PointwiseStep>& steps, bool flip, bool chw, Tensor& out) {
  const RescaleNormalizeFamily& family = rescale_normalize_family<T>();
  const int64_t c = channels_of(in);
  Tensor in3 = in.ndim() == 3 ? in : in.reshape({in.dim(0), in.dim(1), 1});
  Tensor out3 = (!chw && out.ndim() == 2) ? out.reshape({out.dim(0), out.dim(1), 1}) : out;
  KernelArgs k = kernel_args(steps, c);
  auto src = hwc_buffer<T>(in3, static_cast<int>(-win.x), static_cast<int>(-win.y));
  auto dst = xyc_buffer<float>(out3, chw);
  Halide::Runtime::Buffer<float> mean_buf(k.mean.data(), static_cast<int>(c));
  Halide::Runtime::Buffer<float> std_buf(k.std.data(), static_cast<int>(c));
  std::vector<int32_t> map = channel_map(c, flip);
  Halide::Runtime::Buffer<int32_t> map_buf(map.data(), static_cast<int>(c));
  check_kernel(family.get()(src, k.do_rescale, k.scale, k.offset, k.do_normalize, mean_buf, std_buf, map_buf, dst),
               family.family().name().c_str());
}

}  // namespace


DType pointwise_dtype(const std::vector<PointwiseStep>& steps, DType in) {
  DType st = in;
  for (const auto& s : steps) {
    if (s.kind == PointwiseStep::Kind::kRescale || st != DType::kFloat64) st = DType::kFloat32;
  }
  return st;
}

void check_channels(const std::vector<PointwiseStep>& steps, int64_t channels) {
  for (const auto& s : steps) {
    if (s.kind != PointwiseStep::Kind::kNormalize) continue;
    if (!s.mean_scalar && static_cast<int64_t>(s.mean.size()) != channels)
      throw InputError("mean must have " + std::to_string(channels) +
                       " elements if it is an iterable, got " + std::to_string(s.mean.size()));
    if (!s.std_scalar && static_cast<int64_t>(s.std.size()) != channels)
      throw InputError("std must have " + std::to_string(channels) +
                       " elements if it is an iterable, got " + std::to_string(s.std.size()));
  }
}

Tensor pointwise_reference(const Tensor& in, const std::vector<PointwiseStep>& steps,
                           BufferPool* pool) {
  const int64_t c = channels_of(in);
  check_channels(steps, c);
  if (steps.empty()) return in.clone(pool);
  DType out_t = pointwise_dtype(steps, in.dtype());
  Tensor out = Tensor::empty(out_t, in.shape(), pool);
  const int64_t n = in.numel();
  for (int64_t i = 0; i < n; ++i)
    write_value(out.raw_data(), out_t, i,
                eval_chain(read_value(in.raw_data(), in.dtype(), i), in.dtype(), i % c, steps));
  return out;
}

std::vector<float> pointwise_table(const std::vector<PointwiseStep>& steps, int64_t channels) {
  check_channels(steps, channels);
  std::vector<float> table(static_cast<size_t>(channels) * 256);
  for (int64_t c = 0; c < channels; ++c)
    for (int v = 0; v < 256; ++v)
      table[c * 256 + v] = static_cast<float>(eval_chain(v, DType::kUInt8, c, steps));
  return table;
}

void pointwise_fused_reference(const Tensor& in, const Rect& win,
                               const std::vector<PointwiseStep>& steps, bool flip, bool chw,
                               Tensor& out) {
  Tensor cropped = crop_reference(in, win);
  Tensor computed = pointwise_reference(cropped, steps);
  const Rect all = Rect::full(win.height, win.width);
  remap_hwc_reference(computed, all, flip, chw, out);
}

void pointwise_fused(const Tensor& in, const Rect& win,
                     const std::vector<PointwiseStep>& steps, bool flip, bool chw, Tensor& out) {
  const int64_t c = channels_of(in);
  check_channels(steps, c);
  if (steps.empty()) return remap_hwc(in, win, flip, chw, out);
  if (kernel_shaped(steps) && win.inside(in.dim(0), in.dim(1))) {
    // Straight arithmetic beats a table lookup per value where the kernel has the chain's shape
    // (windows that need zero padding take the table kernel, which pads).
    switch (in.dtype()) {
      case DType::kUInt8:
        return run_rescale_normalize<uint8_t>(in, win, steps, flip, chw, out);
      case DType::kFloat32:
        return run_rescale_normalize<float>(in, win, steps, flip, chw, out);
      case DType::kFloat64:
        if (steps[0].kind == PointwiseStep::Kind::kRescale)
          return run_rescale_normalize<double>(in, win, steps, flip, chw, out);
        break;
      default: break;
    }
  }
  if (in.dtype() == DType::kUInt8) {
    std::vector<float> table = pointwise_table(steps, c);
    Tensor in3 = in.ndim() == 3 ? in : in.reshape({in.dim(0), in.dim(1), 1});
    Tensor out3 = (!chw && out.ndim() == 2) ? out.reshape({out.dim(0), out.dim(1), 1}) : out;
    auto src = hwc_buffer<uint8_t>(in3, static_cast<int>(-win.x), static_cast<int>(-win.y));
    auto dst = xyc_buffer<float>(out3, chw);
    Halide::Runtime::Buffer<float> table_buf(table.data(), 256, static_cast<int>(c));
    std::vector<int32_t> map = channel_map(c, flip);
    Halide::Runtime::Buffer<int32_t> map_buf(map.data(), static_cast<int>(c));
    check_kernel(pointwise_lut_family().get()(src, table_buf, map_buf, win.inside(in.dim(0), in.dim(1)), dst),
                 "pointwise_lut");
    return;
  }
  pointwise_fused_reference(in, win, steps, flip, chw, out);
}

Tensor pointwise_step(const Tensor& in, const PointwiseStep& step, BufferPool* pool) {
  std::vector<PointwiseStep> steps{step};
  check_channels(steps, channels_of(in));
  DType out_t = pointwise_dtype(steps, in.dtype());
  Tensor out = Tensor::empty(out_t, in.shape(), pool);
  const Rect all = Rect::full(in.dim(0), in.dim(1));
  if (out_t == DType::kFloat32) {
    switch (in.dtype()) {
      case DType::kUInt8:
        run_rescale_normalize<uint8_t>(in, all, steps, false, false, out);
        return out;
      case DType::kFloat32:
        run_rescale_normalize<float>(in, all, steps, false, false, out);
        return out;
      case DType::kFloat64:
        run_rescale_normalize<double>(in, all, steps, false, false, out);
        return out;
      default: break;
    }
  }
  return pointwise_reference(in, steps, pool);
}

}  // namespace pixelflow::ops
