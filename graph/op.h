// The op interface: one logical Hugging Face transform (or a fused chain of them) applied to one
// sample. Ops are immutable after construction: parameters are parsed and validated in the
// constructor (errors name the config key) and run() is const and thread-safe, so one instance
// serves every image in flight.
#pragma once

#include <any>
#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/rect.h"
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

// Values that one stage of a sample's chain hands to a later one (a loader to the first op, a
// front end to a post-processing op) without the engine knowing what they are: at most one
// value per type, each type declared by the ops that use it (e.g. ops::TargetSize). Most
// samples carry none (no allocation then).
class SampleAttributes {
 public:
  template <class T>
  void set(T value) {
    for (std::any& a : items_)
      if (a.type() == typeid(T)) {
        a = std::move(value);
        return;
      }
    items_.emplace_back(std::move(value));
  }
  // The value of type T, or nullptr.
  template <class T>
  const T* get() const {
    for (const std::any& a : items_)
      if (const T* v = std::any_cast<T>(&a)) return v;
    return nullptr;
  }
  // Removes and returns the value of type T (nullopt: there was none).
  template <class T>
  std::optional<T> take() {
    for (auto it = items_.begin(); it != items_.end(); ++it)
      if (T* v = std::any_cast<T>(&*it)) {
        std::optional<T> out(std::move(*v));
        items_.erase(it);
        return out;
      }
    return std::nullopt;
  }
  template <class T>
  void erase() {
    (void)take<T>();
  }

 private:
  std::vector<std::any> items_;
};

// Sample attribute of approximate mode (never on by default): the loader decoded the image
// reduced (Op::max_input_reduction) and this is the (H, W) it has at full size. The first op,
// which accepted the reduction, sizes its output from it and removes it.
struct ReducedInput {
  int64_t full_height = 0, full_width = 0;
};

// Sample attribute set by the loader when the caller passed the image as one of several images of
// one sample (transformers' nested lists, InputItem::group_size): how many the group has. Absent
// for an image on its own.
struct InputGroup {
  int64_t size = 1;
};

// Sample attribute set by the loader when the input was channels first (C, H, W) as Hugging Face
// reads it (the sample holds it channels last): for ops that reproduce transformers' layout
// inference on intermediate arrays (LLaVA-NeXT's _pad_for_patching).
struct ChannelsFirstInput {};

// One element of a batch flowing through the graph.
struct Sample {
  int64_t index = 0;     // position in the batch (order is restored by it)
  std::string source;    // what the user passed (file path), for error messages
  Tensor image;          // (H, W, C) until the final layout op; afterwards as data_format says
  Tensor labels;         // segmentation map (H, W), when the pipeline has one
  SampleAttributes attributes;  // what ops hand on to later ops (see there)
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
  // The most values one array of a sample (an op's output or intermediate) may hold; 0: no
  // limit. Pipeline sets it from the plan's pixel limit (Pipeline::set_max_sample_values), so
  // that an input whose aspect ratio makes an op's output absurd (a 1 x 200000 image under
  // shortest_edge 224: 224 x 44.8 M pixels) is refused, as decompression bombs are, instead of
  // exhausting memory.
  int64_t max_values = 0;

  // Memory for a final output (last op of a chain).
  Tensor output_for(const Sample& s, DType dtype, const Shape& shape, Target target = Target::kImage) const {
    check_values(dtype, shape);
    return outputs ? outputs->output(s.index, target, dtype, shape) : new_tensor(dtype, shape);
  }
  Tensor new_tensor(DType dtype, const Shape& shape) const {
    check_values(dtype, shape);
    return Tensor::empty(dtype, shape, pool);
  }
  // InputError naming the array when it has more than max_values values.
  void check_values(DType dtype, const Shape& shape) const;
};


// Streaming input of an op (Op::row_consumer): computes what run() computes from the input's
// rows as a producer (a JPEG decoder) delivers them, top to bottom, without the whole input ever
// being in memory. Protocol, on one thread:
//   begin(x, width)   once: every row the producer delivers holds the input's columns
//                     [x, x + width) (a span containing the op's input_region columns);
//   row(y)            where to write those columns of input row y (interleaved channels, the
//                     spec's channel count), or nullptr when the op does not read row y (the
//                     producer then writes it elsewhere or not at all); y increases call by call;
//   rows_done(y_end)  rows up to y_end have been written: the consumer may process them, and
//                     their memory is not written again;
//   finish(s, ...)    after the last row: stores run()'s output into s (rows never delivered
//                     are rows the op does not read).
// A consumer may be abandoned (destroyed) at any point, e.g. when decoding fails.
class RowConsumer {
 public:
  virtual ~RowConsumer() = default;
  virtual void begin(int64_t x, int64_t width) = 0;
  virtual uint8_t* row(int64_t y) = 0;
  virtual void rows_done(int64_t y_end) = 0;
  // `last`: as for Op::run (the output is the chain's final one).
  virtual void finish(Sample& s, const ExecContext& ctx, bool last) = 0;
};

// The fewest rows and columns every output of an op has, whatever its input, and the config key
// that asks for them (Op::output_floor).
struct OutputFloor {
  int64_t height = 0, width = 0;
  std::string key;  // "size", "crop_size", ...
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
  // spec `in`, that image shrunk f times on both sides (sides rounded up; the loader attaches
  // the full size to the sample, ReducedInput), giving an output of the same shape that differs by resampling error
  // only. 1 (the default): never.
  virtual int64_t max_input_reduction([[maybe_unused]] const TensorSpec& in) const { return 1; }
  // Optional streaming (see RowConsumer): a consumer computing run()'s result for an input of
  // spec `in` (channels-last uint8) from its rows, reading only input_region(in). nullptr (the
  // default): the op needs its whole input; so do inputs run() would refuse.
  virtual std::unique_ptr<RowConsumer> row_consumer([[maybe_unused]] const TensorSpec& in) const { return nullptr; }
  // A lower bound on every output's size (OutputFloor), so that a plan asking for absurd sizes is
  // refused before any input is read; nullopt (the default): the output size follows the input.
  virtual std::optional<OutputFloor> output_floor() const { return std::nullopt; }
};

using OpPtr = std::shared_ptr<const Op>;

// A logical op as a plan names it: registry name + parameters (Hugging Face keys).
struct OpSpec {
  std::string name;
  nlohmann::json params = nlohmann::json::object();
  Target target = Target::kImage;
};

}  // namespace pixelflow
