// Per-pixel arithmetic of Hugging Face's pipelines (rescale, normalize) as a chain of steps with
// NumPy's dtype rules, evaluated three ways that give the same bits:
//  - reference: scalar C++ over a tensor, step by step (the oracle);
//  - unfused kernels: one Halide pass per step;
//  - fused: for 8-bit input, the chain evaluated on all 256 values per channel (a table) and
//    applied in one pass together with crop, channel flip and layout; for float input, the
//    rescale_normalize kernel.
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow::ops {

struct PointwiseStep {
  enum class Kind { kRescale, kNormalize };
  Kind kind = Kind::kRescale;
  // kRescale: float32(float64(x) * scale), then "- 1" in float32 when offset (EfficientNet's
  // rescale_offset, ImageGPT's normalize).
  double scale = 1.0;
  bool offset = false;
  // kNormalize: (x - mean) / std in the dtype of x (uint8 is first cast to float32); mean and
  // std are cast to that dtype first. A scalar applies to every channel; a list must have one
  // entry per channel.
  std::vector<double> mean, std;
  bool mean_scalar = false, std_scalar = false;

  static PointwiseStep rescale(double scale, bool offset = false);
  static PointwiseStep normalize(std::vector<double> mean, std::vector<double> std,
                                 bool mean_scalar = false, bool std_scalar = false);
  std::string name() const { return kind == Kind::kRescale ? "rescale" : "normalize"; }
};

// Output dtype of a chain for an input dtype (NumPy's promotion as HF's code does it).
DType pointwise_dtype(const std::vector<PointwiseStep>& steps, DType in);

// Throws InputError when a step cannot apply to `channels` channels (HF's "mean must have N
// elements if it is an iterable, got M").
void check_channels(const std::vector<PointwiseStep>& steps, int64_t channels);

// Reference: applies the chain to an (H, W, C) or (H, W) tensor of any dtype.
Tensor pointwise_reference(const Tensor& in, const std::vector<PointwiseStep>& steps,
                           BufferPool* pool = nullptr);

// Table of the chain's float32 results for uint8 input: table[c * 256 + v].
std::vector<float> pointwise_table(const std::vector<PointwiseStep>& steps, int64_t channels);

// One pass over memory: window of `in` (zero outside, before the chain), the chain, optional
// channel reversal, and the output layout. `out` is (h, w, C) or (C, h, w) of dtype
// pointwise_dtype(steps, in.dtype()).
void pointwise_fused(const Tensor& in, const Rect& win,
                     const std::vector<PointwiseStep>& steps, bool flip_channels,
                     bool channels_first_out, Tensor& out);
// The same, scalar (the oracle).
void pointwise_fused_reference(const Tensor& in, const Rect& win,
                               const std::vector<PointwiseStep>& steps, bool flip_channels,
                               bool channels_first_out, Tensor& out);

// Whether `steps` is [rescale]? [normalize]? (at most one of each, in that order): the shape the
// rescale_normalize (and patchify) kernels compute.
bool kernel_shaped(const std::vector<PointwiseStep>& steps);
// A step's mean or std as float32, one value per channel (a scalar repeated).
std::vector<float> channel_values(const std::vector<double>& v, int64_t channels);

// A kernel_shaped chain as the rescale_normalize and patchify kernels take it.
struct KernelArgs {
  bool do_rescale = false, do_normalize = false;
  double scale = 1.0;
  float offset = 0.f;            // 1 for rescale's "- 1"
  std::vector<float> mean, std;  // one per channel (0 and 1 without normalize)
};
KernelArgs kernel_args(const std::vector<PointwiseStep>& steps, int64_t channels);

// Unfused: one step on an (H, W, C) tensor through the Halide kernel where one exists.
Tensor pointwise_step(const Tensor& in, const PointwiseStep& step, BufferPool* pool = nullptr);

}  // namespace pixelflow::ops
