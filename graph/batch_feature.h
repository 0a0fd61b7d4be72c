// BatchFeature: the named outputs of a processor call, as in transformers.BatchFeature.
// A key maps either to one stacked tensor (return_tensors="np"/"pt") or to a list of per-image
// tensors (return_tensors=None). Conversion to .npy and zero-copy export as DLPack are the C++
// form of convert_to_tensors.
#pragma once

#include <dlpack/dlpack.h>

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "graph/tensor.h"

namespace pixelflow {

class BatchFeature {
 public:
  using Value = std::variant<Tensor, std::vector<Tensor>>;

  BatchFeature() = default;

  bool contains(const std::string& key) const;
  // Keys in insertion order.
  const std::vector<std::string>& keys() const { return order_; }
  size_t size() const { return order_.size(); }

  void set(const std::string& key, Tensor t);
  void set(const std::string& key, std::vector<Tensor> list);

  // Dict-like access; throws std::out_of_range listing the keys present.
  const Value& at(const std::string& key) const;
  // The stacked tensor of `key` (throws if the key holds a list).
  const Tensor& tensor(const std::string& key) const;
  const Tensor& operator[](const std::string& key) const { return tensor(key); }
  // The per-image list of `key` (a stacked tensor is split into views along dim 0).
  std::vector<Tensor> list(const std::string& key) const;

  // Moves to a device: "cpu" is a no-op returning *this; anything else throws Error.
  BatchFeature& to(const std::string& device);

  // Zero-copy DLPack export of a stacked tensor. The returned tensor keeps the storage alive
  // until its deleter is called (by the consumer, e.g. torch.from_dlpack).
  DLManagedTensor* to_dlpack(const std::string& key) const;

  // Writes DIR/<key>.npy for stacked entries and DIR/<key>_<i>.npy for list entries (DIR is
  // created if needed), all or nothing: every file is written to a temporary in DIR first, then
  // all are renamed over their final names (base/atomic_file.h), so a failure while writing
  // leaves DIR as it was. Returns the files written.
  std::vector<std::string> save_npy(const std::string& dir) const;

 private:
  std::vector<std::string> order_;
  std::map<std::string, Value> values_;
};

// DLPack export of any tensor (shared storage, C-contiguous strides).
DLManagedTensor* to_dlpack(const Tensor& t);

}  // namespace pixelflow
