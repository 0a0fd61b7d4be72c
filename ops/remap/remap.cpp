#include "ops/remap/remap.h"

#include <cstring>
#include <vector>

#include "ops/common/halide_util.h"
#include "remap_float32.h"
#include "remap_float64.h"
#include "remap_uint8.h"

namespace pixelflow::ops {

namespace {

int64_t channels_of(const Tensor& t) { return t.ndim() == 3 ? t.dim(2) : 1; }

template <class T>
void remap_kernel(const Tensor& in, const Rect& win, bool flip, bool chw, Tensor& out,
                  int (*kernel)(halide_buffer_t*, halide_buffer_t*, halide_buffer_t*),
                  const char* name) {
  const int c = static_cast<int>(channels_of(in));
  Tensor in3 = in.ndim() == 3 ? in : in.reshape({in.dim(0), in.dim(1), 1});
  Tensor out3 = out;
  if (!chw && out.ndim() == 2) out3 = out.reshape({out.dim(0), out.dim(1), 1});
  auto src = hwc_buffer<T>(in3, static_cast<int>(-win.x), static_cast<int>(-win.y));
  auto dst = xyc_buffer<T>(out3, chw);
  std::vector<int32_t> map(c);
  for (int i = 0; i < c; ++i) map[i] = flip ? c - 1 - i : i;
  Halide::Runtime::Buffer<int32_t> map_buf(map.data(), c);
  check_kernel(kernel(src, map_buf, dst), name);
}

}  // namespace

void remap_hwc_reference(const Tensor& in, const Rect& win, bool flip, bool chw, Tensor& out) {
  const int64_t h = in.dim(0), w = in.dim(1), c = channels_of(in);
  const size_t es = dtype_size(in.dtype());
  const char* src = static_cast<const char*>(in.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t i = 0; i < win.height; ++i) {
    for (int64_t j = 0; j < win.width; ++j) {
      int64_t y = win.y + i, x = win.x + j;
      bool inside = y >= 0 && y < h && x >= 0 && x < w;
      for (int64_t k = 0; k < c; ++k) {
        int64_t ck = flip ? c - 1 - k : k;
        int64_t o = chw ? (k * win.height + i) * win.width + j : (i * win.width + j) * c + k;
        if (inside)
          std::memcpy(dst + o * es, src + ((y * w + x) * c + ck) * es, es);
        else
          std::memset(dst + o * es, 0, es);
      }
    }
  }
}

void remap_hwc(const Tensor& in, const Rect& win, bool flip, bool chw, Tensor& out) {
  switch (in.dtype()) {
    case DType::kUInt8:
      return remap_kernel<uint8_t>(in, win, flip, chw, out, remap_uint8, "remap_uint8");
    case DType::kFloat32:
      return remap_kernel<float>(in, win, flip, chw, out, remap_float32, "remap_float32");
    case DType::kFloat64:
      return remap_kernel<double>(in, win, flip, chw, out, remap_float64, "remap_float64");
    default:
      return remap_hwc_reference(in, win, flip, chw, out);
  }
}

}  // namespace pixelflow::ops
