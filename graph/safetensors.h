// safetensors files (the format of Hugging Face's safetensors package), written and read back
// byte for byte as the reference implementation does; next to graph/npy.h, the other tensor file
// format. pipelines/dataset_writer.h writes its safetensors shards with these.
//
// Names. A BatchFeature key holding a stacked tensor is one tensor KEY; a key holding a list of
// per-image tensors (return_tensors=None) is the tensors KEY.0, KEY.1, ... Two keys that would
// give one name are refused (pixelflow::InputError), as are undefined tensors.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/batch_feature.h"
#include "graph/tensor.h"

namespace pixelflow {

// A tensor under the name it is written as.
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// The tensors of `batch` under their names (stacked KEY, lists KEY.0, KEY.1, ...), in key order.
// Errors are InputError, "WHERE: ...".
std::vector<NamedTensor> named_tensors(const BatchFeature& batch, const std::string& where);

// The "__metadata__" map of a safetensors header, in order.
using SafetensorsMetadata = std::vector<std::pair<std::string, std::string>>;

// A safetensors file before it is written: its header and its tensors in data order.
struct SafetensorsLayout {
  std::string header;                // u64 little-endian length, then the padded JSON
  std::vector<NamedTensor> tensors;  // in the header's (data) order
  // The file's bytes in pieces: the header, then each non-empty tensor's memory (no copy).
  std::vector<std::string_view> pieces() const;
};

// Byte layout as the reference implementation writes it (safetensors.numpy.save_file):
// u64 little-endian header length N; N bytes of compact JSON
//   {"__metadata__":{"format":"pt"},"KEY":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},...}
// padded with spaces to a multiple of 8; then the tensors' raw little-endian C-order bytes,
// contiguous, in the header's order: by dtype alignment (I64, F64, F32, I32, BF16, F16, U16, U8,
// BOOL), then by name, so that every tensor is aligned to its element size. dtypes: bool BOOL,
// uint8 U8, uint16 U16, int32 I32, int64 I64, float32 F32, float64 F64, float16 F16, bfloat16
// BF16. `metadata` is the
// "__metadata__" map (left out when empty). Errors name `where`.
SafetensorsLayout safetensors_layout(const BatchFeature& batch, const SafetensorsMetadata& metadata,
                                     const std::string& where);

// Writes `batch` as a safetensors file at `path` (not atomically: created or truncated, a symlink
// there refused; pipelines::DatasetWriter writes a temporary and renames it). Throws
// pixelflow::Error naming `path` on I/O failure (the partial file is removed) and
// pixelflow::InputError for undefined tensors or clashing names.
void write_safetensors(const std::string& path, const BatchFeature& batch,
                       const SafetensorsMetadata& metadata = {{"format", "pt"}});
// The bytes write_safetensors writes.
std::string safetensors_bytes(const BatchFeature& batch, const SafetensorsMetadata& metadata = {{"format", "pt"}});

// Reads a safetensors file: one stacked tensor per name, in data order (lists come back as
// KEY.0, KEY.1, ...). Validates the header as the reference loader does (offsets contiguous
// from 0, sizes matching shape and dtype, data ending at the end of the file). Throws
// DecodeError naming `path` for a malformed file or a dtype pixelflow has no type for.
BatchFeature read_safetensors(const std::string& path);

}  // namespace pixelflow
