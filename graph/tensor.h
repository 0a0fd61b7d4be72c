// Tensor: a dense, C-ordered, reference-counted n-d array. The one data type that flows
// between decoders, ops, the graph and BatchFeature. Storage may come from a BufferPool so that
// output buffers are reused instead of first-touching fresh pages for every batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace pixelflow {

// kFloat16 (IEEE binary16) and kBFloat16 (the upper half of a float32) are storage types only:
// `pixelflow run --dtype` writes its float32 outputs as them (base/half_float.h converts); no op
// computes in them, and Tensor::data<T>() has no element type for them (use raw_data()).
enum class DType : uint8_t { kBool, kUInt8, kUInt16, kInt32, kInt64, kFloat32, kFloat64, kFloat16, kBFloat16 };

size_t dtype_size(DType t);
// NumPy's name of the type: "uint8", "float32", ...
const char* dtype_name(DType t);
// NumPy's array-protocol type string, little-endian: "|u1", "<f4", "<f2", ...; bfloat16, which
// NumPy has no type for, throws std::invalid_argument.
const char* dtype_descr(DType t);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kUInt8; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::kUInt16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kInt32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "(2, 3, 224, 224)"
int64_t shape_numel(const Shape& s);
// "3.0 GB", "512 bytes" (decimal units, one decimal).
std::string byte_size_str(size_t bytes);
// "(5000, 3, 224, 224) float32, 3.0 GB": an array for messages about its memory.
std::string describe_array(DType dtype, const Shape& shape);

// A block of bytes. Returned to its pool (if any) when the last reference goes away.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual void* data() = 0;
  virtual size_t size() const = 0;
};

class BufferPool;

class Tensor {
 public:
  Tensor() = default;

  // Uninitialized tensor (from `pool` when given, else freshly allocated). Throws
  // OutOfMemoryError naming the array (describe_array) when the memory cannot be had.
  static Tensor empty(DType dtype, Shape shape, BufferPool* pool = nullptr);
  static Tensor zeros(DType dtype, Shape shape, BufferPool* pool = nullptr);
  // Wraps external memory; `owner` keeps it alive (may be null for borrowed memory the caller
  // keeps alive).
  static Tensor wrap(void* data, DType dtype, Shape shape, std::shared_ptr<void> owner);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + ndim() : i); }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  void* raw_data() { return static_cast<char*>(storage_->data()) + offset_; }
  const void* raw_data() const { return static_cast<const char*>(storage_->data()) + offset_; }

  // Typed access; throws std::logic_error when T does not match dtype().
  template <class T> T* data() {
    check_type(dtype_of<T>());
    return static_cast<T*>(raw_data());
  }
  template <class T> const T* data() const {
    check_type(dtype_of<T>());
    return static_cast<const T*>(raw_data());
  }

  // View of element i along the first dimension (shares storage).
  Tensor operator[](int64_t i) const;
  // Same data, other shape of equal element count (shares storage).
  Tensor reshape(Shape shape) const;
  // The first n entries along dimension 0 (a view of the same storage).
  Tensor head(int64_t n) const;
  // Deep copy (into a pool buffer when given).
  Tensor clone(BufferPool* pool = nullptr) const;

  // The storage, for owners that must keep it alive (DLPack export, Python bindings).
  const std::shared_ptr<Storage>& storage() const { return storage_; }

 private:
  void check_type(DType t) const;

  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  DType dtype_ = DType::kUInt8;
  Shape shape_;
};

// Recycles byte buffers by size so that steady-state runs touch no fresh pages. Thread-safe.
// Buffers hold a reference to the pool's shared state, so the pool may die before them.
class BufferPool {
 public:
  explicit BufferPool(size_t max_cached_bytes = size_t(1) << 30);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  std::shared_ptr<Storage> acquire(size_t bytes);
  size_t cached_bytes() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace pixelflow
