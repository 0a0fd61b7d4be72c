// Internal to graph/: collects a run's final outputs into stacked batch tensors (or per-image
// lists) as Pipeline::run's sink accepts them.
#pragma once

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/errors.h"
#include "graph/batch_feature.h"
#include "graph/op.h"
#include "graph/pipeline.h"

namespace pixelflow::detail {

// Collects final outputs into stacked batch tensors (or per-image lists). The first final
// output of each target fixes the batch's shape; ops then write straight into their slot.
class BatchAssembler final : public OutputAllocator {
 public:
  // ordered: sample i goes to row i. Otherwise rows are handed out in the order samples first
  // ask for their output (completion order), and row_inputs() says which input each row holds.
  BatchAssembler(int64_t n, const OutputOptions& out, bool ordered, BufferPool* pool)
      : n_(n), stacked_(out.stacked), ordered_(ordered), pool_(pool), row_of_(ordered ? 0 : static_cast<size_t>(n), -1) {
    slots_[static_cast<int>(Target::kImage)].key = out.image_key;
    slots_[static_cast<int>(Target::kLabels)].key = out.labels_key;
    for (auto& s : slots_) s.list.resize(static_cast<size_t>(n));
  }

  // Set when a stacked batch output could not be allocated: the call's error, no input's.
  std::string allocation_error() const {
    for (const Slot& slot : slots_) {
      std::lock_guard<std::mutex> lock(slot.mu);
      if (!slot.allocation_error.empty()) return slot.allocation_error;
    }
    return {};
  }

  int64_t row(int64_t index) {
    if (ordered_) return index;
    std::lock_guard<std::mutex> lock(row_mu_);
    int64_t& r = row_of_[static_cast<size_t>(index)];
    if (r < 0) r = next_row_++;
    return r;
  }

  // The rows of the inputs in `indices`, ascending, each with its input index.
  std::vector<std::pair<int64_t, int64_t>> rows_of(const std::vector<int64_t>& indices) {
    std::vector<std::pair<int64_t, int64_t>> rows;
    for (int64_t i : indices) rows.emplace_back(row(i), i);
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  Tensor output(int64_t index, Target target, DType dtype, const Shape& shape) override {
    if (!stacked_) return Tensor::empty(dtype, shape, pool_);
    Slot& slot = slots_[static_cast<int>(target)];
    std::lock_guard<std::mutex> lock(slot.mu);
    if (!slot.batch.defined()) allocate(slot, {dtype, shape});
    if (slot.spec == TensorSpec{dtype, shape}) return slot.batch[row(index)];
    return Tensor::empty(dtype, shape, pool_);
  }

  // Called by the serial sink (in input order when ordered).
  void accept(int64_t index, Target target, const Tensor& t, const std::string& source) {
    Slot& slot = slots_[static_cast<int>(target)];
    if (!stacked_) {
      slot.list[static_cast<size_t>(row(index))] = t;
      return;
    }
    std::lock_guard<std::mutex> lock(slot.mu);
    TensorSpec spec{t.dtype(), t.shape()};
    if (!slot.batch.defined()) allocate(slot, spec);
    // The batch's shape is the first accepted row's (in input order when ordered), so that the
    // error names the same input whichever sample happened to shape the buffer first.
    if (!slot.first) slot.first = spec;
    const auto describe = [&](const std::string& who, const TensorSpec& got, const TensorSpec& batch) {
      return who + ": output of shape " + shape_str(got.shape) + " " + dtype_name(got.dtype) +
             " cannot be stacked with the batch's " + shape_str(batch.shape) + " " + dtype_name(batch.dtype) +
             " (images of different sizes need --unbatched, like return_tensors=None)";
    };
    if (!(spec == *slot.first)) {
      if (slot.mismatch.empty()) slot.mismatch = describe(source, spec, *slot.first);
      return;
    }
    if (!(spec == slot.spec)) {
      // The buffer was shaped by a later input that does not match the first: its own accept()
      // reports it; this message stands in should that input fail before it is accepted.
      if (slot.pending_mismatch.empty()) slot.pending_mismatch = describe(source, spec, slot.spec);
      return;
    }
    Tensor dst = slot.batch[row(index)];
    if (dst.raw_data() != t.raw_data()) std::memcpy(dst.raw_data(), t.raw_data(), t.nbytes());
    slot.used = true;
  }

  const std::string& mismatch(Target target) const {
    const Slot& slot = slots_[static_cast<int>(target)];
    return slot.mismatch.empty() ? slot.pending_mismatch : slot.mismatch;
  }

  // Keeps only the rows listed in `kept` (ascending), moved to the front, in order.
  void compact(const std::vector<int64_t>& kept) {
    if (kept.size() == static_cast<size_t>(n_) && std::is_sorted(kept.begin(), kept.end()) &&
        (kept.empty() || kept.back() == n_ - 1))
      return;
    if (static_cast<int64_t>(kept.size()) == n_) return;
    for (Slot& slot : slots_) {
      if (stacked_) {
        if (!slot.batch.defined()) continue;
        for (size_t j = 0; j < kept.size(); ++j) {
          if (kept[j] == static_cast<int64_t>(j)) continue;
          Tensor dst = slot.batch[static_cast<int64_t>(j)];
          std::memmove(dst.raw_data(), slot.batch[kept[j]].raw_data(), dst.nbytes());
        }
        slot.batch = slot.batch.head(static_cast<int64_t>(kept.size()));
        if (kept.empty()) slot.used = false;
      } else {
        std::vector<Tensor> list;
        for (int64_t i : kept) list.push_back(std::move(slot.list[static_cast<size_t>(i)]));
        slot.list = std::move(list);
      }
    }
  }

  void emit(BatchFeature& bf, Target target, const std::string& key) {
    Slot& slot = slots_[static_cast<int>(target)];
    if (stacked_) {
      if (slot.used) bf.set(key, slot.batch);
    } else if (!slot.list.empty() && slot.list[0].defined()) {
      bf.set(key, std::move(slot.list));
    }
  }

 private:
  struct Slot {
    mutable std::mutex mu;
    std::string key;
    std::string allocation_error;
    Tensor batch;
    TensorSpec spec{DType::kUInt8, {}};
    std::vector<Tensor> list;
    std::string mismatch;
    std::optional<TensorSpec> first;  // the first accepted row's spec
    std::string pending_mismatch;
    bool used = false;
  };

  // Under slot.mu. The first sample's output spec fixes the batch's; a failure is recorded once
  // and repeated to every later caller without trying again.
  void allocate(Slot& slot, const TensorSpec& spec) {
    if (!slot.allocation_error.empty()) throw OutOfMemoryError(slot.allocation_error);
    Shape shape{n_};
    shape.insert(shape.end(), spec.shape.begin(), spec.shape.end());
    try {
      slot.batch = Tensor::empty(spec.dtype, shape, pool_);
    } catch (const std::exception&) {  // OutOfMemoryError (or std::bad_alloc building it)
      slot.allocation_error = "out of memory allocating the batch output " + slot.key + " " +
                              describe_array(spec.dtype, shape) +
                              " (pass fewer inputs per call, or use pixelflow run, which writes batches as it goes)";
      throw OutOfMemoryError(slot.allocation_error);
    }
    slot.spec = spec;
  }

  int64_t n_;
  bool stacked_;
  bool ordered_;
  BufferPool* pool_;
  std::mutex row_mu_;
  std::vector<int64_t> row_of_;
  int64_t next_row_ = 0;
  Slot slots_[2];
};

}  // namespace pixelflow::detail
