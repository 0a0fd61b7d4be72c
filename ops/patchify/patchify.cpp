#include "ops/patchify/patchify.h"

#include <cstring>
#include <optional>

#include "base/errors.h"
#include "graph/kernels.h"
#include "ops/astype/astype.h"
#include "ops/common/halide_util.h"
#include "ops/common/params.h"
#include "patchify_float32_default.h"
#include "patchify_uint8_default.h"

namespace pixelflow::ops {

PatchGrid PatchGrid::from_params(const nlohmann::json& params) {
  PatchGrid g;
  g.patch_size = param_side(params, "patch_size");
  g.temporal_patch_size = param_side(params, "temporal_patch_size");
  g.merge_size = param_side(params, "merge_size");
  return g;
}

namespace {

int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) throw InputError(std::string("patchify: ") + what + " overflows");
  return r;
}

}  // namespace

Shape PatchGrid::output_shape(int64_t c, int64_t h, int64_t w) const {
  const int64_t block = checked_mul(patch_size, merge_size, "merge_size * patch_size");
  if (h % block != 0 || w % block != 0)
    throw InputError("patchify: an image of " + std::to_string(h) + " x " + std::to_string(w) +
                     " pixels cannot be cut into " + std::to_string(patch_size) + " x " + std::to_string(patch_size) +
                     " patches in " + std::to_string(merge_size) + " x " + std::to_string(merge_size) +
                     " merge blocks (height and width must be multiples of " + std::to_string(block) +
                     "; transformers' reshape raises ValueError)");
  // The values per row must fit, whatever the parameters.
  checked_mul(checked_mul(checked_mul(c, temporal_patch_size, "the row length"), patch_size, "the row length"),
              patch_size, "the row length");
  return {1, h / block, w / block, merge_size, merge_size, c, temporal_patch_size, patch_size, patch_size};
}

namespace {

// Strides of a (C, H, W) input and the output index of (c, y, x, t).
struct Layout9 {
  int64_t c, h, w, p, t, m, gw;  // gw: merge blocks per row
  int64_t out_index(int64_t ch, int64_t y, int64_t x, int64_t ti) const {
    const int64_t gh_ = y / (m * p), mh = (y / p) % m, py = y % p;
    const int64_t gw_ = x / (m * p), mw = (x / p) % m, px = x % p;
    const int64_t patch = ((gh_ * gw + gw_) * m + mh) * m + mw;
    return (((patch * c + ch) * t + ti) * p + py) * p + px;
  }
};

Layout9 layout_of(const PatchGrid& g, int64_t c, int64_t h, int64_t w) {
  return {c, h, w, g.patch_size, g.temporal_patch_size, g.merge_size, w / (g.merge_size * g.patch_size)};
}

void check_out(const Tensor& out, DType dtype, const Shape& shape) {
  if (out.dtype() != dtype || out.shape() != shape)
    throw std::invalid_argument("patchify: output must be a " + std::string(dtype_name(dtype)) + " " +
                                shape_str(shape) + ", got " + dtype_name(out.dtype()) + " " + shape_str(out.shape()));
}

void check_chw(const Tensor& in) {
  if (in.ndim() != 3)
    throw InputError("patchify needs a (channels, height, width) image, got " + std::to_string(in.ndim()) +
                     " dimensions " + shape_str(in.shape()));
}

using PatchifyFamily = TypedKernelFamily<decltype(&patchify_uint8_default)>;

const PatchifyFamily& patchify_family(DType t) {
  static const PatchifyFamily u8("patchify_uint8");
  static const PatchifyFamily f32("patchify_float32");
  return t == DType::kUInt8 ? u8 : f32;
}

// The kernel: `src` is (c, x, y) with any strides; `out` the dense 9-D output.
template <class T>
void run_kernel(Halide::Runtime::Buffer<T>& src, const std::vector<PointwiseStep>& steps, int64_t c,
                const PatchGrid& g, Tensor& out) {
  KernelArgs k = kernel_args(steps, c);
  // Output dims, innermost first: (px, py, t, c, mw, mh, gw, gh), dense.
  const Shape& s = out.shape();  // (1, gh, gw, m, m, c, t, p, p)
  const int64_t extents[8] = {s[8], s[7], s[6], s[5], s[4], s[3], s[2], s[1]};
  halide_dimension_t dims[8];
  int64_t stride = 1;
  for (int i = 0; i < 8; ++i) {
    if (extents[i] > INT32_MAX || stride > INT32_MAX)
      throw InputError("patchify: the image is too large for the kernel (" + shape_str(s) + ")");
    dims[i] = {0, static_cast<int32_t>(extents[i]), static_cast<int32_t>(stride)};
    stride *= extents[i];
  }
  Halide::Runtime::Buffer<float> dst(out.data<float>(), 8, dims);
  Halide::Runtime::Buffer<float> mean_buf(k.mean.data(), static_cast<int>(c));
  Halide::Runtime::Buffer<float> std_buf(k.std.data(), static_cast<int>(c));
  const PatchifyFamily& family = patchify_family(dtype_of<T>());
  check_kernel(family.get()(src, k.do_rescale, k.scale, k.offset, k.do_normalize, mean_buf, std_buf,
                            static_cast<int32_t>(g.patch_size), static_cast<int32_t>(g.merge_size), dst),
               family.family().name().c_str());
}

// Whether the kernel computes `steps` on `dtype` input (float32 output, the kernel's arithmetic).
bool kernel_computes(const std::vector<PointwiseStep>& steps, DType dtype) {
  if (dtype != DType::kUInt8 && dtype != DType::kFloat32) return false;
  if (!kernel_shaped(steps)) return false;
  return pointwise_dtype(steps, dtype) == DType::kFloat32;
}

bool fits_int32(const Tensor& t) {
  for (int64_t d : t.shape())
    if (d > INT32_MAX) return false;
  return t.numel() <= INT32_MAX;
}

}  // namespace

void patchify_reference(const Tensor& in, const PatchGrid& grid, Tensor& out) {
  check_chw(in);
  const int64_t c = in.dim(0), h = in.dim(1), w = in.dim(2);
  const Shape shape = grid.output_shape(c, h, w);
  check_out(out, in.dtype(), shape);
  const Tensor& src = in;
  const Layout9 l = layout_of(grid, c, h, w);
  const size_t es = dtype_size(in.dtype());
  const auto* from = static_cast<const uint8_t*>(src.raw_data());
  auto* to = static_cast<uint8_t*>(out.raw_data());
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t t = 0; t < l.t; ++t)
          std::memcpy(to + static_cast<size_t>(l.out_index(ch, y, x, t)) * es,
                      from + static_cast<size_t>((ch * h + y) * w + x) * es, es);
}

void patchify(const Tensor& in, const PatchGrid& grid, Tensor& out) {
  check_chw(in);
  const Shape shape = grid.output_shape(in.dim(0), in.dim(1), in.dim(2));
  check_out(out, in.dtype(), shape);
  if (in.dtype() != DType::kFloat32 || !fits_int32(in) || in.numel() == 0)
    return patchify_reference(in, grid, out);
  const int c = static_cast<int>(in.dim(0)), h = static_cast<int>(in.dim(1)), w = static_cast<int>(in.dim(2));
  halide_dimension_t dims[3] = {{0, c, w * h}, {0, w, 1}, {0, h, w}};
  Halide::Runtime::Buffer<float> src(const_cast<float*>(in.data<float>()), 3, dims);
  run_kernel<float>(src, {}, c, grid, out);
}

void patchify_pointwise(const Tensor& hwc, const std::vector<PointwiseStep>& steps, const PatchGrid& grid,
                        Tensor& out, BufferPool* pool) {
  if (hwc.ndim() != 3)
    throw InputError("patchify needs a (height, width, channels) image here, got " + shape_str(hwc.shape()));
  const int64_t c = hwc.dim(2);
  check_channels(steps, c);
  const Shape shape = grid.output_shape(c, hwc.dim(0), hwc.dim(1));
  const DType out_t = steps.empty() ? hwc.dtype() : pointwise_dtype(steps, hwc.dtype());
  check_out(out, out_t, shape);
  if (kernel_computes(steps, hwc.dtype()) && fits_int32(hwc) && hwc.numel() > 0) {
    if (hwc.dtype() == DType::kFloat32) {
      auto src = hwc_buffer<float>(hwc);
      return run_kernel<float>(src, steps, c, grid, out);
    }
    if (c == 3) {  // the uint8 kernel is built for interleaved RGB
      auto src = hwc_buffer<uint8_t>(hwc);
      return run_kernel<uint8_t>(src, steps, c, grid, out);
    }
  }
  // Step by step: the chain, the channels-first layout, then the patches.
  Tensor computed = steps.empty() ? hwc : pointwise_reference(hwc, steps, pool);
  Tensor chw = Tensor::empty(computed.dtype(), {c, hwc.dim(0), hwc.dim(1)}, pool);
  for (int64_t y = 0; y < hwc.dim(0); ++y)
    for (int64_t x = 0; x < hwc.dim(1); ++x)
      for (int64_t ch = 0; ch < c; ++ch) {
        const size_t es = dtype_size(computed.dtype());
        std::memcpy(static_cast<uint8_t*>(chw.raw_data()) + static_cast<size_t>((ch * hwc.dim(0) + y) * hwc.dim(1) + x) * es,
                    static_cast<const uint8_t*>(computed.raw_data()) + static_cast<size_t>((y * hwc.dim(1) + x) * c + ch) * es,
                    es);
      }
  patchify(chw, grid, out);
}

TensorSpec PatchifyOp::infer(const TensorSpec& in) const {
  if (in.shape.size() != 3)
    throw InputError("patchify needs a (channels, height, width) image, got " + shape_str(in.shape));
  return {in.dtype, grid_.output_shape(in.shape[0], in.shape[1], in.shape[2])};
}

void PatchifyOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  const TensorSpec spec = infer({s.image.dtype(), s.image.shape()});
  Tensor out = last ? ctx.output_for(s, spec.dtype, spec.shape) : ctx.new_tensor(spec.dtype, spec.shape);
  patchify(s.image, grid_, out);
  s.image = std::move(out);
}

TensorSpec FusedPatchifyOp::infer(const TensorSpec& in) const {
  if (in.shape.size() != 3)
    throw InputError("patchify needs a (channels, height, width) image, got " + shape_str(in.shape));
  check_channels(steps_, in.shape[2]);
  const DType t = steps_.empty() ? in.dtype : pointwise_dtype(steps_, in.dtype);
  return {t, grid_.output_shape(in.shape[2], in.shape[0], in.shape[1])};
}

void FusedPatchifyOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  const TensorSpec spec = infer({s.image.dtype(), s.image.shape()});
  Tensor out = last ? ctx.output_for(s, spec.dtype, spec.shape) : ctx.new_tensor(spec.dtype, spec.shape);
  patchify_pointwise(s.image, steps_, grid_, out, ctx.pool);
  s.image = std::move(out);
}

PatchBatch collate_patches(const std::vector<Tensor>& per_image, BufferPool* pool) {
  PatchBatch b;
  const int64_t n = static_cast<int64_t>(per_image.size());
  b.image_grid_thw = Tensor::empty(DType::kInt64, {n, 3}, pool);
  int64_t rows = 0, row_len = -1;
  DType dtype = DType::kFloat32;
  for (int64_t i = 0; i < n; ++i) {
    const Tensor& t = per_image[static_cast<size_t>(i)];
    if (t.ndim() != 9) throw InputError("collate_patches: image " + std::to_string(i) + " is not a patch array " + shape_str(t.shape()));
    const Shape& s = t.shape();
    const int64_t len = s[5] * s[6] * s[7] * s[8];
    if (i == 0) {
      row_len = len;
      dtype = t.dtype();
    } else if (len == row_len && t.dtype() != dtype && result_type(dtype, t.dtype())) {
      dtype = *result_type(dtype, t.dtype());  // np.array of rows of different dtypes: NumPy's promotion
    } else if (len != row_len || t.dtype() != dtype) {
      throw InputError("image " + std::to_string(i) + ": patch rows of " + std::to_string(len) + " " +
                       dtype_name(t.dtype()) + " values cannot be concatenated with rows of " + std::to_string(row_len) +
                       " " + dtype_name(dtype));
    }
    int64_t* g = b.image_grid_thw.data<int64_t>() + 3 * i;
    g[0] = s[0];
    g[1] = s[1] * s[3];
    g[2] = s[2] * s[4];
    rows += s[0] * s[1] * s[2] * s[3] * s[4];
  }
  if (n == 0) {
    b.pixel_values = Tensor::empty(DType::kFloat32, {0}, pool);
    return b;
  }
  if (n == 1) {
    b.pixel_values = per_image[0].reshape({rows, row_len});
    return b;
  }
  b.pixel_values = Tensor::empty(dtype, {rows, row_len}, pool);
  auto* to = static_cast<uint8_t*>(b.pixel_values.raw_data());
  for (const Tensor& t : per_image) {
    const Tensor src = t.dtype() == dtype ? t : astype(t, dtype, pool);
    if (src.nbytes() > 0) std::memcpy(to, src.raw_data(), src.nbytes());
    to += src.nbytes();
  }
  return b;
}

}  // namespace pixelflow::ops
