// patchify: the patch layout of Qwen2-VL's image processor (Qwen2VLImageProcessor._preprocess),
// for one image. The processed image (C, H, W) is repeated temporal_patch_size (T) times, cut
// into P x P patches (P = patch_size) grouped in M x M merge blocks (M = merge_size), as
//   patches.reshape(1, T, C, H/(M*P), M, P, W/(M*P), M, P).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
// so the op's output is that 9-dimensional array,
//   (1, H/(M*P), W/(M*P), M, M, C, T, P, P),
// whose rows, flattened, are transformers' pixel_values rows for the image and whose shape gives
// image_grid_thw (see collate_patches). H and W must be multiples of M*P (smart_resize makes
// them so); otherwise transformers' reshape raises, and so does this op.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graph/op.h"
#include "ops/pointwise/pointwise.h"

namespace pixelflow::ops {

struct PatchGrid {
  int64_t patch_size = 14, temporal_patch_size = 2, merge_size = 2;

  // params: {"patch_size", "temporal_patch_size", "merge_size"} (positive integers).
  static PatchGrid from_params(const nlohmann::json& params);
  // The output shape for a (C, H, W) image; InputError when H or W is not a multiple of
  // merge_size * patch_size (transformers' "cannot reshape array" ValueError).
  Shape output_shape(int64_t c, int64_t h, int64_t w) const;
};

// Scalar reference: `in` (C, H, W) of any dtype -> `out` of grid.output_shape(...), same dtype.
void patchify_reference(const Tensor& in, const PatchGrid& grid, Tensor& out);
// The same through the Halide kernel for float32 (the reference for other dtypes).
void patchify(const Tensor& in, const PatchGrid& grid, Tensor& out);
// Fused: the pointwise chain (pointwise.h) on an (H, W, C) image, then the channels-first layout
// and patchify, in one pass (`out` float32 of grid.output_shape(C, H, W)): the Halide kernel for
// uint8 and float32 input whose chain is kernel_shaped and gives float32; else step by step.
void patchify_pointwise(const Tensor& hwc, const std::vector<PointwiseStep>& steps, const PatchGrid& grid,
                        Tensor& out, BufferPool* pool = nullptr);

class PatchifyOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it).
  static inline const std::vector<std::string> kParamKeys = {"patch_size", "temporal_patch_size", "merge_size"};
  explicit PatchifyOp(const nlohmann::json& params) : grid_(PatchGrid::from_params(params)) {}
  std::string name() const override { return "patchify"; }
  // Input: a channels-first (C, H, W) image (the plan puts to_channel_dimension_format first).
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  const PatchGrid& grid() const { return grid_; }

 private:
  PatchGrid grid_;
};

// rescale/normalize steps + to_channel_dimension_format(channels_first) + patchify as one op
// (ops/patchify/patchify_fusion.h builds it).
class FusedPatchifyOp : public Op {
 public:
  FusedPatchifyOp(std::vector<PointwiseStep> steps, PatchGrid grid, std::string name)
      : steps_(std::move(steps)), grid_(grid), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  // Input: a channels-last (H, W, C) image.
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;

 private:
  std::vector<PointwiseStep> steps_;
  PatchGrid grid_;
  std::string name_;
};

// Qwen2-VL's batch: the patch arrays of the images (each PatchifyOp's output) flattened to
// (patches, C*T*P*P) rows and concatenated in order (pixel_values), and one (t, h, w) row per
// image (image_grid_thw, int64): t = 1, h = H / P, w = W / P. Zero-copy for one image.
struct PatchBatch {
  Tensor pixel_values;
  Tensor image_grid_thw;
};
PatchBatch collate_patches(const std::vector<Tensor>& per_image, BufferPool* pool = nullptr);

}  // namespace pixelflow::ops
