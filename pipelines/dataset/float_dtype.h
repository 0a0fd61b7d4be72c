// The --dtype of a dataset run (`pixelflow run --dtype float16|bfloat16`): the type its float32
// outputs are written as, for training in half precision.
//
// Every float32 tensor of a batch (a stacked KEY or each tensor of a list) becomes float16 or
// bfloat16, each value rounded to nearest, ties to even, from the exact float32 result, as
// NumPy's astype(np.float16) and torch's .to(torch.bfloat16) on the CPU round it: overflow goes
// to infinity, subnormals are kept, NaN stays NaN (base/half_float.h has the bit-level rules).
// Tensors of other types (int64 grids and masks, uint8, float64) are written as they are.
// .npy files have float16 ('<f2') but no bfloat16: bfloat16 needs safetensors ("BF16").
#pragma once

#include <optional>
#include <string>

#include "graph/batch_feature.h"
#include "pipelines/pipeline_spec.h"

namespace pixelflow::pipelines {

// "float32", "float16" or "bfloat16" -> kFloat32, kFloat16, kBFloat16; nullopt otherwise.
std::optional<DType> parse_float_dtype(const std::string& name);
// The choices, for messages: "float32, float16 or bfloat16".
const char* float_dtype_choices();
// Whether `format` files can hold `dtype` (npy: not bfloat16).
bool format_holds(SinkSpec::Format format, DType dtype);

// The batch with every float32 tensor converted to `dtype` (kFloat16 or kBFloat16; kFloat32
// returns the batch as it is); other tensors are shared, not copied. The conversion runs in
// parallel on the oneTBB arena of `threads` (0: all cores); new tensors come from `pool`.
BatchFeature cast_float32(const BatchFeature& batch, DType dtype, int threads = 0, BufferPool* pool = nullptr);
// Whether `batch` holds a float32 tensor.
bool has_float32(const BatchFeature& batch);

}  // namespace pixelflow::pipelines
