// astype: NumPy's astype on the array of a sample, e.g. segmentation maps to int64 labels.
#pragma once

#include <optional>

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow::ops {

DType parse_dtype(const nlohmann::json& v, const std::string& key);
Tensor astype(const Tensor& t, DType dtype, BufferPool* pool = nullptr);
// NumPy's result type of two of uint8 / float32 / float64 (what processors output, e.g. np.array
// of arrays of different dtypes); nullopt for other pairs.
std::optional<DType> result_type(DType a, DType b);
// NumPy's astype into a preallocated tensor of the same shape.
void astype_into(const Tensor& t, Tensor& out);

class AsTypeOp : public Op {
 public:
  // The parameter keys the constructor reads (its schema: YAML pipelines check keys against it;
  // "a.b" is key b of the dict-valued parameter a).
  static inline const std::vector<std::string> kParamKeys = {"dtype"};
  // params: {"dtype": "int64" | "float32" | ...}
  AsTypeOp(const nlohmann::json& params, Target target = Target::kImage);
  std::string name() const override { return "astype"; }
  Target target() const override { return target_; }
  TensorSpec infer(const TensorSpec& in) const override { return {dtype_, in.shape}; }
  void run(Sample& s, const ExecContext& ctx, bool last) const override;

 private:
  DType dtype_;
  Target target_;
};

}  // namespace pixelflow::ops
