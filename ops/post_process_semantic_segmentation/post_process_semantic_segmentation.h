// post_process_semantic_segmentation: Hugging Face's post_process_semantic_segmentation (BEiT,
// Segformer, DPT, MobileViT, ... all share it). For each batch item:
//   - with a target size (H, W): torch.nn.functional.interpolate(logits[i][None], size=(H, W),
//     mode="bilinear", align_corners=False), then argmax over classes;
//   - without target sizes: argmax over classes at the logits' resolution.
// Results are int64 class maps equal to Hugging Face's (torch.argmax: first maximum wins on ties,
// a NaN beats everything and the first NaN wins).
//
// Exactness: the values that argmax compares are PyTorch CPU's float32 bilinear values, bit for
// bit, as PyTorch 2.x computes them (aten/src/ATen/native/UpSample.h and cpu/UpSampleKernel.cpp,
// the same in a 2.2-era tree and in 2026 main): with the size given and no scale_factor,
// scale = float(in) / float(out); src = scale * (dst + 0.5f) - 0.5f, clamped at 0;
// index0 = min(floorf(src), in - 1), index1 = index0 + (index0 < in - 1);
// lambda1 = clamp(src - index0, 0, 1), lambda0 = 1 - lambda1; in == out gives (1, 0) weights.
// Every product and sum rounds separately (no FMA contraction). PyTorch has two float kernels
// for this call and we reproduce whichever it picks (upsample_bilinear2d_kernel_impl_float):
//   - "generic" (NCHW, upsample_generic_Nd_kernel_impl):
//     out = (a*wx0 + b*wx1)*wy0 + (c*wx0 + d*wx1)*wy1 (a, b from row iy0; c, d from row iy1);
//   - "channels-last" when H + W <= 128, or when the input is 1x1 with more than 3 classes:
//     w00 = wy0*wx0, ...; out = a*w00 + (b*w01 + (c*w10 + d*w11)) on the channels handled by
//     256-bit vectors, ((a*w00 + b*w01) + c*w10) + d*w11 on the last C % 8 channels.
//   Assumptions, where PyTorch's result depends on the machine: torch runs multi-threaded (on
//   one thread it takes the channels-last kernel for exactly 3 classes too), its CPU kernels
//   are built without FMA contraction, and its vectors are 256 bits (AVX2 / default builds; an
//   AVX-512 build splits the channels-last kernel at C % 16). On random logits these choices
//   change an argmax only on one-ulp near ties.
// float64 logits: torch interpolates them in double with the same formulas (floorf still
// rounds src to float first); the scalar code below does the same.
//
// Fusion: PyTorch's value is t0 * wy0 + t1 * wy1 with t0, t1 the source rows iy0, iy1 resampled
// along x, and t depends only on (source row, output column, class). Output rows are cut into
// bands (at most max_source_rows distinct source rows, max_band_rows output rows) and columns
// into tiles of about tile_width; per (band, tile), three Halide kernels run:
//   transpose        the band's source rows over the tile's source columns, classes innermost;
//   horizontal       those rows resampled to the tile's columns (the t values, bit-exact);
//   vertical_argmax  per output pixel t0 * wy0 + t1 * wy1 for every class, keeping a running
//                    (max, first index).
// The upsampled (C, H, W) logits never exist: the scratch per thread is two buffers of about
// C * max_source_rows * tile_width floats (~0.8 MB each for 150 classes), reused across calls.
// Tasks (band, tile) run in parallel on the current TBB arena.
// The scalar code below (also the oracle the kernels are tested against) handles what the
// kernels do not: float64 logits, PyTorch's channels-last arithmetic (small outputs), maps
// narrower than 64 columns, and inputs that could compare a NaN (NaN, Inf or |x| > 1e38: the
// kernels compare with a plain `>`, the scalar code applies torch's rule that the first NaN
// wins).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "graph/op.h"
#include "graph/tensor.h"

namespace pixelflow::ops {

// (height, width), as Hugging Face's target_sizes entries.
using TargetSize = std::pair<int64_t, int64_t>;
// Sample attribute: the output size of one item of a batch (Hugging Face's target_sizes[i]),
// used by PostProcessSemanticSegmentationOp when its parameters fix none.
struct ItemTargetSize {
  TargetSize size;
};

// PyTorch's per-axis source indices and weights for bilinear, align_corners=False, output size
// given (no scale_factor), computed in T (float for float32 logits, double for float64).
template <class T>
struct LinearAxis {
  std::vector<int32_t> index0, index1;
  std::vector<T> lambda0, lambda1;
};
template <class T>
LinearAxis<T> pytorch_linear_axis(int64_t in_size, int64_t out_size);

// Which of PyTorch's float kernels F.interpolate(mode="bilinear") runs for a contiguous
// (1, C, h, w) tensor resized to (H, W).
enum class BilinearArithmetic { kGeneric, kChannelsLast };
BilinearArithmetic pytorch_bilinear_arithmetic(int64_t channels, int64_t in_h, int64_t in_w,
                                               int64_t out_h, int64_t out_w);

struct SegmentationMapOptions {
  // Arithmetic to reproduce; empty: the one PyTorch picks (pytorch_bilinear_arithmetic).
  std::optional<BilinearArithmetic> arithmetic;
  // Fused-kernel work split (schedule knobs of the C++ driver): output columns per tile, and the
  // most source rows / output rows one band may span.
  int tile_width = 128;
  int max_source_rows = 10;
  int max_band_rows = 64;
  // Run tiles in parallel on the current TBB arena.
  bool parallel = true;
};

// One item: `logits` (C, h, w) float32 or float64 -> `out` int64 (H, W) for a target size, or
// (h, w) without one. `out` is preallocated (it may be a view into a batch).
void segmentation_map(const Tensor& logits, const std::optional<TargetSize>& target_size, Tensor& out,
                      const SegmentationMapOptions& options = {});
// The same with plain scalar loops (the oracle): no kernel, no scratch memory.
void segmentation_map_reference(const Tensor& logits, const std::optional<TargetSize>& target_size,
                                Tensor& out, std::optional<BilinearArithmetic> arithmetic = {});

// Hugging Face's post_process_semantic_segmentation(outputs, target_sizes).
// logits: (batch, num_labels, height, width), float32 (float64 also accepted: torch interpolates
// it in double). target_sizes: empty (HF's None), or one (H, W) per batch item.
// Returns one int64 map per item. Throws InputError where Hugging Face / torch raise.
std::vector<Tensor> post_process_semantic_segmentation(const Tensor& logits,
                                                       const std::vector<TargetSize>& target_sizes,
                                                       BufferPool* pool = nullptr);
// The same through segmentation_map_reference.
std::vector<Tensor> post_process_semantic_segmentation_reference(
    const Tensor& logits, const std::vector<TargetSize>& target_sizes, BufferPool* pool = nullptr);

// Graph op for one item: the sample's array is that item's logits (num_labels, height, width);
// it becomes the int64 class map.
class PostProcessSemanticSegmentationOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {"target_size"};
  // params: {"target_size": [height, width]} (optional; absent or null: the sample's own
  // target_size if it has one, else no resizing).
  explicit PostProcessSemanticSegmentationOp(const nlohmann::json& params);
  std::string name() const override { return "post_process_semantic_segmentation"; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;

 private:
  std::optional<TargetSize> target_size_;
};

}  // namespace pixelflow::ops
