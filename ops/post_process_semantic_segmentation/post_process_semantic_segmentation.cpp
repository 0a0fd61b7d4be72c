#include "ops/post_process_semantic_segmentation/post_process_semantic_segmentation.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "base/errors.h"
#include "ops/common/halide_util.h"
#include "post_process_semantic_segmentation_argmax.h"
#include "post_process_semantic_segmentation_horizontal.h"
#include "post_process_semantic_segmentation_transpose.h"
#include "post_process_semantic_segmentation_vertical_argmax.h"

namespace pixelflow::ops {

namespace {

constexpr const char* kOp = "post_process_semantic_segmentation";
// Largest target side we accept (int32 tables inside the kernels; far beyond any real image).
constexpr int64_t kMaxSide = int64_t(1) << 24;
// The argmax kernels work on chunks of vector_width * unroll output columns (32 with the
// default knobs) with the last chunk shifted inwards, so each call needs at least that many
// columns: calls get >= 64 columns and narrower maps take the scalar path.
constexpr int64_t kMinKernelWidth = 64;
// Halide buffers address at most 2^31 bytes (no large_buffers feature): bigger items (e.g. 1000
// classes at 1024x1024) take the scalar path.
constexpr size_t kMaxKernelBytes = (size_t(1) << 31) - 1;

using HBuf = Halide::Runtime::Buffer<float>;

// Could a compared value be NaN? The kernels compare with a plain `>`; torch's NaN rule (the
// first NaN wins) is the scalar path's job. Without resizing only a NaN logit is NaN; with it,
// any non-finite or huge logit may make one (|x| > 1e38: two weighted values could overflow to
// inf, and inf * 0 or inf - inf is NaN). Finite logits up to 1e38 never do.
bool may_compare_nan(const float* p, int64_t n, bool resize) {
  const uint32_t limit = resize ? 0x7e967699u /* 1e38f */ : 0x7f800000u /* inf */;
  uint32_t over = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, sizeof bits);
    over |= static_cast<uint32_t>((bits & 0x7fffffffu) > limit);
  }
  return over != 0;
}

// Output rows are split into bands; each band lists the distinct source rows it reads (at most
// max_source_rows of them, sorted), and each of its output rows the positions k0/k1 of its two
// source rows in that list.
struct Band {
  int64_t y0 = 0, rows = 0;
  std::vector<int32_t> source_rows;
  std::vector<int32_t> k0, k1;
};

std::vector<Band> make_bands(const LinearAxis<float>& ya, int max_source_rows, int max_band_rows) {
  std::vector<Band> bands;
  const auto H = static_cast<int64_t>(ya.index0.size());
  const size_t max_rows = static_cast<size_t>(std::max(2, max_source_rows));
  const int64_t max_band = std::max(1, max_band_rows);
  for (int64_t y = 0; y < H; ++y) {
    const int32_t r0 = ya.index0[static_cast<size_t>(y)], r1 = ya.index1[static_cast<size_t>(y)];
    // Source indices never decrease along y, so a band's new rows come after its last one.
    auto fresh = [&](const Band& b) {
      size_t n = 0;
      int32_t last = b.source_rows.empty() ? -1 : b.source_rows.back();
      for (int32_t r : {r0, r1})
        if (r > last) ++n, last = r;
      return n;
    };
    if (bands.empty() || bands.back().rows == max_band ||
        bands.back().source_rows.size() + fresh(bands.back()) > max_rows) {
      bands.emplace_back();
      bands.back().y0 = y;
    }
    Band& b = bands.back();
    for (int32_t r : {r0, r1})
      if (b.source_rows.empty() || r > b.source_rows.back()) b.source_rows.push_back(r);
    auto pos = [&](int32_t r) {
      return static_cast<int32_t>(
          std::lower_bound(b.source_rows.begin(), b.source_rows.end(), r) - b.source_rows.begin());
    };
    b.k0.push_back(pos(r0));
    b.k1.push_back(pos(r1));
    ++b.rows;
  }
  return bands;
}

template <class T>
Halide::Runtime::Buffer<T> vec_buffer(const T* data, int64_t min, int64_t extent) {
  halide_dimension_t d{static_cast<int32_t>(min), static_cast<int32_t>(extent), 1};
  return Halide::Runtime::Buffer<T>(const_cast<T*>(data), 1, &d);
}

// The generic-arithmetic fused path for float32 logits (C, h, w) -> out (H, W).
void fused_generic(const Tensor& logits, int64_t H, int64_t W, Tensor& out,
                   const SegmentationMapOptions& opt) {
  const int64_t C = logits.dim(0), h = logits.dim(1), w = logits.dim(2);
  const LinearAxis<float> xa = pytorch_linear_axis<float>(w, W);
  const LinearAxis<float> ya = pytorch_linear_axis<float>(h, H);
  const std::vector<Band> bands = make_bands(ya, opt.max_source_rows, opt.max_band_rows);
  // Column tiles of about tile_width, all at least kMinKernelWidth wide.
  const int64_t tile = std::max<int64_t>(kMinKernelWidth, opt.tile_width);
  const int64_t tiles = std::clamp<int64_t>((W + tile / 2) / tile, 1, W / kMinKernelWidth);

  halide_dimension_t in_dims[3] = {{0, static_cast<int32_t>(w), 1},
                                   {0, static_cast<int32_t>(h), static_cast<int32_t>(w)},
                                   {0, static_cast<int32_t>(C), static_cast<int32_t>(h * w)}};
  float* src = const_cast<float*>(logits.data<float>());
  int64_t* dst = out.data<int64_t>();

  auto run_task = [&](int64_t task) {
    const Band& band = bands[static_cast<size_t>(task / tiles)];
    const int64_t x0 = W * (task % tiles) / tiles, tw = W * (task % tiles + 1) / tiles - x0;
    const auto nrows = static_cast<int64_t>(band.source_rows.size());
    const size_t xs = static_cast<size_t>(x0), xl = static_cast<size_t>(x0 + tw - 1);
    const int64_t c0 = xa.index0[xs], ncols = xa.index1[xl] - c0 + 1;  // source columns read
    // Scratch, reused across calls on this thread (fresh pages are slow to touch): the band's
    // source rows over those columns with classes innermost (C * ncols * nrows floats), and
    // the same rows resampled to the tile's columns (tw * nrows * C floats).
    thread_local std::vector<float> source_scratch, rows_scratch;
    const auto source_need = static_cast<size_t>(C * ncols * nrows);
    const auto rows_need = static_cast<size_t>(tw * nrows * C);
    if (source_scratch.size() < source_need) source_scratch.resize(source_need);
    if (rows_scratch.size() < rows_need) rows_scratch.resize(rows_need);

    HBuf in_buf(src, 3, in_dims);  // one per task: buffers are not shared between threads
    halide_dimension_t source_dims[3] = {
        {0, static_cast<int32_t>(C), 1},
        {static_cast<int32_t>(c0), static_cast<int32_t>(ncols), static_cast<int32_t>(C)},
        {0, static_cast<int32_t>(nrows), static_cast<int32_t>(C * ncols)}};
    HBuf source(source_scratch.data(), 3, source_dims);
    check_kernel(post_process_semantic_segmentation_transpose(
                     in_buf, vec_buffer(band.source_rows.data(), 0, nrows), source),
                 "post_process_semantic_segmentation_transpose");

    halide_dimension_t row_dims[3] = {
        {static_cast<int32_t>(x0), static_cast<int32_t>(tw), 1},
        {0, static_cast<int32_t>(nrows), static_cast<int32_t>(tw)},
        {0, static_cast<int32_t>(C), static_cast<int32_t>(tw * nrows)}};
    HBuf rows(rows_scratch.data(), 3, row_dims);
    check_kernel(post_process_semantic_segmentation_horizontal(
                     source, vec_buffer(xa.index0.data() + xs, x0, tw),
                     vec_buffer(xa.index1.data() + xs, x0, tw),
                     vec_buffer(xa.lambda0.data() + xs, x0, tw),
                     vec_buffer(xa.lambda1.data() + xs, x0, tw), rows),
                 "post_process_semantic_segmentation_horizontal");

    const size_t ys = static_cast<size_t>(band.y0);
    halide_dimension_t out_dims[2] = {{static_cast<int32_t>(x0), static_cast<int32_t>(tw), 1},
                                      {static_cast<int32_t>(band.y0),
                                       static_cast<int32_t>(band.rows), static_cast<int32_t>(W)}};
    Halide::Runtime::Buffer<int64_t> out_buf(dst + band.y0 * W + x0, 2, out_dims);
    check_kernel(post_process_semantic_segmentation_vertical_argmax(
                     rows, vec_buffer(band.k0.data(), band.y0, band.rows),
                     vec_buffer(band.k1.data(), band.y0, band.rows),
                     vec_buffer(ya.lambda0.data() + ys, band.y0, band.rows),
                     vec_buffer(ya.lambda1.data() + ys, band.y0, band.rows), out_buf),
                 "post_process_semantic_segmentation_vertical_argmax");
  };

  const auto tasks = static_cast<int64_t>(bands.size()) * tiles;
  if (opt.parallel && tasks > 1) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, tasks, 1), [&](const auto& r) {
      for (int64_t t = r.begin(); t < r.end(); ++t) run_task(t);
    });
  } else {
    for (int64_t t = 0; t < tasks; ++t) run_task(t);
  }
}

// Plain argmax over classes of float32 logits (C, h, w) -> out (h, w), in bands of rows.
void fused_argmax(const Tensor& logits, Tensor& out, const SegmentationMapOptions& opt) {
  const int64_t C = logits.dim(0), h = logits.dim(1), w = logits.dim(2);
  const float* src = logits.data<float>();
  int64_t* dst = out.data<int64_t>();
  const int64_t band = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, w));
  const int64_t bands = (h + band - 1) / band;
  auto run_band = [&](int64_t b) {
    const int64_t y0 = b * band, rows = std::min(band, h - y0);
    halide_dimension_t in_dims[3] = {{0, static_cast<int32_t>(w), 1},
                                     {static_cast<int32_t>(y0), static_cast<int32_t>(rows),
                                      static_cast<int32_t>(w)},
                                     {0, static_cast<int32_t>(C), static_cast<int32_t>(h * w)}};
    halide_dimension_t out_dims[2] = {{0, static_cast<int32_t>(w), 1},
                                      {static_cast<int32_t>(y0), static_cast<int32_t>(rows),
                                       static_cast<int32_t>(w)}};
    HBuf in_buf(const_cast<float*>(src + y0 * w), 3, in_dims);
    Halide::Runtime::Buffer<int64_t> out_buf(dst + y0 * w, 2, out_dims);
    check_kernel(post_process_semantic_segmentation_argmax(in_buf, out_buf),
                 "post_process_semantic_segmentation_argmax");
  };
  if (opt.parallel && bands > 1) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, bands, 1), [&](const auto& r) {
      for (int64_t b = r.begin(); b < r.end(); ++b) run_band(b);
    });
  } else {
    for (int64_t b = 0; b < bands; ++b) run_band(b);
  }
}

std::string size_str(const TargetSize& s) {
  return "(" + std::to_string(s.first) + ", " + std::to_string(s.second) + ")";
}

// Shapes and dtypes Hugging Face / torch reject, as one-line InputErrors.
void check_item(const Tensor& logits, const std::optional<TargetSize>& size, const char* what) {
  if (logits.dtype() != DType::kFloat32 && logits.dtype() != DType::kFloat64)
    throw InputError(std::string(kOp) + ": logits must be float32 (or float64), got " +
                     dtype_name(logits.dtype()));
  if (logits.dim(0) <= 0)
    throw InputError(std::string(kOp) + ": " + what + " has no classes (num_labels = 0); argmax "
                     "over an empty dimension is undefined");
  if (!size) return;
  if (size->first <= 0 || size->second <= 0)
    throw InputError(std::string(kOp) + ": target size " + size_str(*size) + " of " + what +
                     " must be positive (torch: \"Input and output sizes should be greater than 0\")");
  if (size->first > kMaxSide || size->second > kMaxSide)
    throw InputError(std::string(kOp) + ": target size " + size_str(*size) + " of " + what +
                     " is too large (at most " + std::to_string(kMaxSide) + " per side)");
  if (logits.dim(1) <= 0 || logits.dim(2) <= 0)
    throw InputError(std::string(kOp) + ": cannot interpolate " + what + " of spatial size (" +
                     std::to_string(logits.dim(1)) + ", " + std::to_string(logits.dim(2)) +
                     ") (torch: \"Input and output sizes should be greater than 0\")");
}

void check_batch(const Tensor& logits, const std::vector<TargetSize>& target_sizes) {
  if (logits.ndim() != 4)
    throw InputError(std::string(kOp) + ": logits must be 4-D (batch_size, num_labels, height, "
                     "width), got shape " + shape_str(logits.shape()));
  if (!target_sizes.empty() && static_cast<int64_t>(target_sizes.size()) != logits.dim(0))
    throw InputError(std::string(kOp) + ": Make sure that you pass in as many target sizes as the "
                     "batch dimension of the logits (got " + std::to_string(target_sizes.size()) +
                     " target sizes for a batch of " + std::to_string(logits.dim(0)) + ")");
}

template <class ItemFn>
std::vector<Tensor> run_batch(const Tensor& logits, const std::vector<TargetSize>& target_sizes,
                              BufferPool* pool, ItemFn item_fn) {
  check_batch(logits, target_sizes);
  std::vector<Tensor> maps;
  const int64_t n = logits.dim(0);
  for (int64_t i = 0; i < n; ++i) {
    std::optional<TargetSize> size;
    if (!target_sizes.empty()) size = target_sizes[static_cast<size_t>(i)];
    const Tensor item = logits[i];
    const std::string what = "logits[" + std::to_string(i) + "]";
    check_item(item, size, what.c_str());
    const Shape shape = size ? Shape{size->first, size->second} : Shape{item.dim(1), item.dim(2)};
    Tensor out = Tensor::empty(DType::kInt64, shape, pool);
    item_fn(item, size, out);
    maps.push_back(std::move(out));
  }
  return maps;
}

}  // namespace

void segmentation_map(const Tensor& logits, const std::optional<TargetSize>& target_size, Tensor& out,
                      const SegmentationMapOptions& options) {
  if (logits.ndim() != 3)
    throw InputError(std::string(kOp) + ": one item's logits must be (num_labels, height, width), "
                     "got shape " + shape_str(logits.shape()));
  check_item(logits, target_size, "logits");
  const Shape want = target_size ? Shape{target_size->first, target_size->second}
                                 : Shape{logits.dim(1), logits.dim(2)};
  if (out.dtype() != DType::kInt64 || out.shape() != want)
    throw std::logic_error("segmentation_map: output must be int64 " + shape_str(want) + ", got " +
                           dtype_name(out.dtype()) + " " + shape_str(out.shape()));
  if (out.numel() == 0) return;
  // float64 logits (torch interpolates them in double), PyTorch's channels-last arithmetic (it
  // only runs for small outputs, H + W <= 128, or 1x1 inputs), maps narrower than a kernel call,
  // items too large for 32-bit Halide addressing and inputs that could make a NaN take the
  // scalar path.
  const BilinearArithmetic arithmetic =
      !target_size ? BilinearArithmetic::kGeneric
      : options.arithmetic
          ? *options.arithmetic
          : pytorch_bilinear_arithmetic(logits.dim(0), logits.dim(1), logits.dim(2),
                                        target_size->first, target_size->second);
  if (logits.dtype() != DType::kFloat32 || arithmetic == BilinearArithmetic::kChannelsLast ||
      out.dim(1) < kMinKernelWidth || logits.nbytes() > kMaxKernelBytes ||
      may_compare_nan(logits.data<float>(), logits.numel(), target_size.has_value()))
    return segmentation_map_reference(logits, target_size, out, arithmetic);
  if (!target_size) return fused_argmax(logits, out, options);
  fused_generic(logits, target_size->first, target_size->second, out, options);
}

std::vector<Tensor> post_process_semantic_segmentation(const Tensor& logits,
                                                       const std::vector<TargetSize>& target_sizes,
                                                       BufferPool* pool) {
  return run_batch(logits, target_sizes, pool,
                   [](const Tensor& item, const std::optional<TargetSize>& size, Tensor& out) {
                     segmentation_map(item, size, out);
                   });
}

std::vector<Tensor> post_process_semantic_segmentation_reference(
    const Tensor& logits, const std::vector<TargetSize>& target_sizes, BufferPool* pool) {
  return run_batch(logits, target_sizes, pool,
                   [](const Tensor& item, const std::optional<TargetSize>& size, Tensor& out) {
                     segmentation_map_reference(item, size, out);
                   });
}

PostProcessSemanticSegmentationOp::PostProcessSemanticSegmentationOp(const nlohmann::json& params) {
  if (!params.is_object()) throw ConfigError(kOp, "parameters must be an object");
  auto it = params.find("target_size");
  if (it == params.end() || it->is_null()) return;
  const auto& v = *it;
  auto side_ok = [](const nlohmann::json& e) {
    return e.is_number_integer() && e.get<int64_t>() > 0 && e.get<int64_t>() <= kMaxSide;
  };
  if (!v.is_array() || v.size() != 2 || !side_ok(v[0]) || !side_ok(v[1]))
    throw ConfigError("target_size", "must be [height, width] with positive integers (at most " +
                                         std::to_string(kMaxSide) + "), got " + v.dump());
  target_size_ = TargetSize{v[0].get<int64_t>(), v[1].get<int64_t>()};
}

TensorSpec PostProcessSemanticSegmentationOp::infer(const TensorSpec& in) const {
  if (in.shape.size() != 3)
    throw InputError(std::string(kOp) + ": one item's logits must be (num_labels, height, width), "
                     "got shape " + shape_str(in.shape));
  if (in.dtype != DType::kFloat32 && in.dtype != DType::kFloat64)
    throw InputError(std::string(kOp) + ": logits must be float32 (or float64), got " +
                     dtype_name(in.dtype));
  if (target_size_) return {DType::kInt64, {target_size_->first, target_size_->second}};
  return {DType::kInt64, {in.shape[1], in.shape[2]}};
}

void PostProcessSemanticSegmentationOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  // A size fixed by the op's parameters, else the item's own (target_sizes[i]), else none.
  std::optional<TargetSize> size = target_size_;
  if (!size)
    if (const auto* item = s.attributes.get<ItemTargetSize>()) size = item->size;
  TensorSpec spec = infer({s.image.dtype(), s.image.shape()});
  if (size) spec.shape = {size->first, size->second};
  Tensor out = last ? ctx.output_for(s, spec.dtype, spec.shape) : ctx.new_tensor(spec.dtype, spec.shape);
  segmentation_map(s.image, size, out);
  s.image = std::move(out);
}

}  // namespace pixelflow::ops
