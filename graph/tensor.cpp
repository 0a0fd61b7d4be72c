#include "graph/tensor.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>

#include "base/errors.h"

namespace pixelflow {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kBool: return 1;
    case DType::kUInt8: return 1;
    case DType::kUInt16: return 2;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kBool: return "bool";
    case DType::kUInt8: return "uint8";
    case DType::kUInt16: return "uint16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kFloat16: return "float16";
    case DType::kBFloat16: return "bfloat16";
  }
  return "?";
}

const char* dtype_descr(DType t) {
  switch (t) {
    case DType::kBool: return "|b1";
    case DType::kUInt8: return "|u1";
    case DType::kUInt16: return "<u2";
    case DType::kInt32: return "<i4";
    case DType::kInt64: return "<i8";
    case DType::kFloat32: return "<f4";
    case DType::kFloat64: return "<f8";
    case DType::kFloat16: return "<f2";
    case DType::kBFloat16: throw std::invalid_argument("bfloat16 has no NumPy type string (no .npy dtype)");
  }
  return "?";
}

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  if (s.size() == 1) r += ",";
  return r + ")";
}

std::string byte_size_str(size_t bytes) {
  static const char* const kUnits[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (bytes < 1000) return std::to_string(bytes) + " bytes";
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1000 && unit < 6) {
    v /= 1000;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string describe_array(DType dtype, const Shape& shape) {
  // In floating point: the shape may be too large for size_t.
  double bytes = static_cast<double>(dtype_size(dtype));
  for (int64_t d : shape) bytes *= static_cast<double>(d);
  std::string size = bytes < 1.8e19 ? byte_size_str(static_cast<size_t>(bytes)) : std::string("more than 18 EB");
  return shape_str(shape) + " " + dtype_name(dtype) + ", " + size;
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

namespace {

constexpr size_t kAlign = 64;

void* aligned_malloc(size_t bytes) {
  size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded ? rounded : kAlign);
  if (!p) throw std::bad_alloc();
  return p;
}

class HeapStorage final : public Storage {
 public:
  explicit HeapStorage(size_t bytes) : data_(aligned_malloc(bytes)), size_(bytes) {}
  ~HeapStorage() override { std::free(data_); }
  void* data() override { return data_; }
  size_t size() const override { return size_; }

 private:
  void* data_;
  size_t size_;
};

class ExternalStorage final : public Storage {
 public:
  ExternalStorage(void* data, size_t size, std::shared_ptr<void> owner)
      : data_(data), size_(size), owner_(std::move(owner)) {}
  void* data() override { return data_; }
  size_t size() const override { return size_; }

 private:
  void* data_;
  size_t size_;
  std::shared_ptr<void> owner_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// BufferPool

struct BufferPool::State {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // capacity -> block
  size_t cached = 0;
  size_t max_cached;
  explicit State(size_t max) : max_cached(max) {}
  ~State() {
    for (auto& kv : free_blocks) std::free(kv.second);
  }
};

namespace {

class PooledStorage final : public Storage {
 public:
  PooledStorage(std::shared_ptr<BufferPool::State> pool, void* data, size_t capacity, size_t size)
      : pool_(std::move(pool)), data_(data), capacity_(capacity), size_(size) {}
  ~PooledStorage() override {
    std::lock_guard<std::mutex> lock(pool_->mu);
    if (pool_->cached + capacity_ <= pool_->max_cached) {
      pool_->free_blocks.emplace(capacity_, data_);
      pool_->cached += capacity_;
    } else {
      std::free(data_);
    }
  }
  void* data() override { return data_; }
  size_t size() const override { return size_; }

 private:
  std::shared_ptr<BufferPool::State> pool_;
  void* data_;
  size_t capacity_;
  size_t size_;
};

}  // namespace

BufferPool::BufferPool(size_t max_cached_bytes)
    : state_(std::make_shared<State>(max_cached_bytes)) {}
BufferPool::~BufferPool() = default;

std::shared_ptr<Storage> BufferPool::acquire(size_t bytes) {
  size_t capacity = (bytes + kAlign - 1) / kAlign * kAlign;
  if (capacity == 0) capacity = kAlign;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    // Best fit among blocks no more than twice as large as needed.
    auto it = state_->free_blocks.lower_bound(capacity);
    if (it != state_->free_blocks.end() && it->first <= 2 * capacity) {
      size_t cap = it->first;
      void* p = it->second;
      state_->free_blocks.erase(it);
      state_->cached -= cap;
      return std::make_shared<PooledStorage>(state_, p, cap, bytes);
    }
  }
  return std::make_shared<PooledStorage>(state_, aligned_malloc(capacity), capacity, bytes);
}

size_t BufferPool::cached_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->cached;
}

// ---------------------------------------------------------------------------------------------
// Tensor

Tensor Tensor::empty(DType dtype, Shape shape, BufferPool* pool) {
  bool has_zero = false;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("negative dimension in shape " + shape_str(shape));
    has_zero |= d == 0;
  }
  // The size in bytes, refused before it overflows (no allocator could serve it anyway).
  size_t bytes = dtype_size(dtype);
  bool too_large = false;
  if (!has_zero)
    for (int64_t d : shape) too_large |= __builtin_mul_overflow(bytes, static_cast<size_t>(d), &bytes);
  if (too_large || bytes > static_cast<size_t>(PTRDIFF_MAX))
    throw OutOfMemoryError("out of memory allocating " + shape_str(shape) + " " + dtype_name(dtype) +
                           ": more bytes than the address space holds");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  try {
    t.storage_ = pool ? pool->acquire(bytes) : std::make_shared<HeapStorage>(bytes);
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError("out of memory allocating " + describe_array(dtype, t.shape_));
  }
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape, BufferPool* pool) {
  Tensor t = empty(dtype, std::move(shape), pool);
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::wrap(void* data, DType dtype, Shape shape, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.storage_ = std::make_shared<ExternalStorage>(data, t.nbytes(), std::move(owner));
  return t;
}

Tensor Tensor::operator[](int64_t i) const {
  if (shape_.empty() || i < 0 || i >= shape_[0])
    throw std::out_of_range("index " + std::to_string(i) + " out of range for shape " +
                            shape_str(shape_));
  Tensor t;
  t.storage_ = storage_;
  t.dtype_ = dtype_;
  t.shape_.assign(shape_.begin() + 1, shape_.end());
  t.offset_ = offset_ + static_cast<size_t>(i) * t.nbytes();
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  if (shape_numel(shape) != numel())
    throw std::invalid_argument("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::head(int64_t n) const {
  if (shape_.empty() || n < 0 || n > shape_[0])
    throw std::out_of_range("head(" + std::to_string(n) + ") out of range for shape " + shape_str(shape_));
  Tensor t = *this;
  t.shape_[0] = n;
  return t;
}

Tensor Tensor::clone(BufferPool* pool) const {
  Tensor t = empty(dtype_, shape_, pool);
  if (nbytes()) std::memcpy(t.raw_data(), raw_data(), nbytes());
  return t;
}

void Tensor::check_type(DType t) const {
  if (t != dtype_)
    throw std::logic_error(std::string("tensor holds ") + dtype_name(dtype_) + ", accessed as " +
                           dtype_name(t));
}

}  // namespace pixelflow
