// The op interface: one logical Hugging Face transform (or a fused chain of them) applied to one
// sample. Ops are immutable after construction: parameters are parsed and validated in the
// constructor (errors name the config key) and run() is const and thread-safe, so one instance
// serves every image in flight.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/tensor.h"

namespace pixelflow {

// Which array of a sample an op transforms.
enum class Target { kImage, kLabels };

// Channel layout of an image array, as Hugging Face's ChannelDimension.
enum class Layout { kChannelsLast, kChannelsFirst };

// Shape and dtype of an array, without data.
struct TensorSpec {
  DType dtype;
  Shape shape;
  bool operator==(const TensorSpec& o) const { return dtype == o.dtype && shape == o.shape; }
};

// A rectangle of an image: columns [x, x + width), rows [y, y + height).
struct Rect {
  int64_t x = 0, y = 0, width = 0, height = 0;
  bool operator==(const Rect&) const = default;
};

// One element of a batch flowing through the graph.
struct Sample {
  int64_t index = 0;     // position in the batch (order is restored by it)
  std::string source;    // what the user passed (file path), for error messages
  Tensor image;          // (H, W, C) until the final layout op; afterwards as data_format says
  Tensor labels;         // segmentation map (H, W), when the pipeline has one
  // Output size a post-processing op should produce for this item (HF's target_sizes[i]).
  std::optional<std::pair<int64_t, int64_t>> target_size;
  // Approximate mode only (never by default): the loader decoded `image` reduced (JPEG DCT
  // scaling) and this is the (H, W) it has at full size. The first op, which accepted the
  // reduction (Op::max_input_reduction), sizes its output from it and clears it.
  std::optional<std::pair<int64_t, int64_t>> full_size;
  std::exception_ptr error;  // set by the node that failed; later nodes pass the sample on
};

// Hands out the memory of final outputs: the sample's slot of the stacked batch tensor when it
// has the batch's shape, else a pooled buffer.
class OutputAllocator {
 public:
  virtual ~OutputAllocator() = default;
  virtual Tensor output(int64_t index, Target target, DType dtype, const Shape& shape) = 0;
};

// Resources an op may use while running (shared by all threads; everything here is
// thread-safe).
struct ExecContext {
  BufferPool* pool = nullptr;
  OutputAllocator* outputs = nullptr;

  // Memory for a final output (last op of a chain).
  Tensor output_for(const Sample& s, DType dtype, const Shape& shape, Target target = Target::kImage) const {
    return outputs ? outputs->output(s.index, target, dtype, shape) : new_tensor(dtype, shape);
  }
  Tensor new_tensor(DType dtype, const Shape& shape) const { return Tensor::empty(dtype, shape, pool); }
};


class Op {
 public:
  virtual ~Op() = default;
  // Registry name ("resize"), or the names of a fused chain joined by '+'.
  virtual std::string name() const = 0;
  virtual Target target() const { return Target::kImage; }
  // Output spec for an input spec; throws InputError where Hugging Face would raise.
  virtual TensorSpec infer(const TensorSpec& in) const = 0;
  // Transforms the sample's target array. `last` says whether this op produces the final
  // output (and should write into ctx.output_for()).
  virtual void run(Sample& s, const ExecContext& ctx, bool last) const = 0;

  // The part of an input of spec `in` that run() reads: its output does not depend on the
  // pixels outside this rectangle, so a loader may leave them undefined (JPEG region decoding).
  // nullopt: all of it (the default).
  virtual std::optional<Rect> input_region([[maybe_unused]] const TensorSpec& in) const { return std::nullopt; }
  // Approximate mode only: the largest factor f such that run() accepts, instead of an input of
  // spec `in`, that image shrunk f times on both sides (sides rounded up; Sample::full_size
  // holds the full size), giving an output of the same shape that differs by resampling error
  // only. 1 (the default): never.
  virtual int64_t max_input_reduction([[maybe_unused]] const TensorSpec& in) const { return 1; }
};

using OpPtr = std::shared_ptr<const Op>;

// A logical op as a plan names it: registry name + parameters (Hugging Face keys).
struct OpSpec {
  std::string name;
  nlohmann::json params = nlohmann::json::object();
  Target target = Target::kImage;
};

}  // namespace pixelflow
