// NumPy .npy files (format versions 1.0-3.0): what np.save writes and np.load reads.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "graph/op.h"
#include "graph/tensor.h"

namespace pixelflow {

// Reads a .npy array into a C-ordered Tensor (Fortran-ordered files are transposed).
// Throws DecodeError naming `path` for anything malformed or of an unsupported dtype.
// The file must be a regular file (base/file_io.h); only the header and the data it declares
// are read, never more than the file holds.
Tensor load_npy(const std::string& path, BufferPool* pool = nullptr);
// The bytes of the .npy file at `path` that parse_npy needs: its header and the data the header
// declares (trailing bytes are not read; a short file gives what it has, which parse_npy
// reports as truncated). `check`, when set, sees the header's dtype and shape before any data is
// read (e.g. a decompression-bomb limit). Errors name `name` (the header's) or `path` (the file's).
std::string read_npy_file(const std::string& path, const std::string& name,
                          const std::function<void(const TensorSpec&)>& check = {});
// The dtype and shape from the header of the .npy file at `path` (the data is not read).
TensorSpec read_npy_file_header(const std::string& path, const std::string& name);
Tensor parse_npy(const void* data, size_t size, const std::string& name, BufferPool* pool = nullptr);

// The array's dtype and shape from the header alone (no data is read or copied).
TensorSpec parse_npy_header(const void* data, size_t size, const std::string& name);

// Writes `t` as a standard version-1.0 .npy file (C order), as np.save would. The file is
// replaced atomically (base/atomic_file.h) and written straight from the tensor's memory.
void save_npy(const std::string& path, const Tensor& t);
// The bytes save_npy would write (a copy of the whole tensor: for small arrays and tests).
std::string npy_bytes(const Tensor& t);
// Its header alone (magic, version, length, padded dict): npy_bytes(t) = npy_header(t) + data.
std::string npy_header(const Tensor& t);
// The data part, a view of the tensor's memory (empty for an undefined or empty tensor).
std::string_view npy_data(const Tensor& t);

}  // namespace pixelflow
