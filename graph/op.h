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

// One element of a batch flowing through the graph.
struct Sample {
  int64_t index = 0;     // position in the batch (order is restored by it)
  std::string source;    // what the user passed (file path), for error messages
  Tensor image;          // (H, W, C) until the final layout op; afterwards as data_format says
  Tensor labels;         // segmentation map (H, W), when the pipeline has one
  // Output size a post-processing op should produce for this item (HF's target_sizes[i]).
  std::optional<std::pair<int64_t, int64_t>> target_size;
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
};

using OpPtr = std::shared_ptr<const Op>;

// A logical op as a plan names it: registry name + parameters (Hugging Face keys).
struct OpSpec {
  std::string name;
  nlohmann::json params = nlohmann::json::object();
  Target target = Target::kImage;
};

}  // namespace pixelflow
