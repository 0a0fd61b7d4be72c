#include "pipelines/dataset/float_dtype.h"

#include <algorithm>
#include <vector>

#include "base/half_float.h"
#include "graph/pipeline.h"

namespace pixelflow::pipelines {

namespace {

// Elements per task: large enough that a task outweighs its scheduling, small enough that a
// CLIP batch (32 x 150,528 floats) keeps every core busy.
constexpr int64_t kGrain = 1 << 16;

struct Job {
  const float* in;
  uint16_t* out;
  int64_t begin;  // offset of this tensor in the batch's elements
};

}  // namespace

std::optional<DType> parse_float_dtype(const std::string& name) {
  if (name == "float32") return DType::kFloat32;
  if (name == "float16") return DType::kFloat16;
  if (name == "bfloat16") return DType::kBFloat16;
  return std::nullopt;
}

const char* float_dtype_choices() { return "float32, float16 or bfloat16"; }

bool format_holds(SinkSpec::Format format, DType dtype) {
  return !(format == SinkSpec::Format::kNpy && dtype == DType::kBFloat16);
}

bool has_float32(const BatchFeature& batch) {
  for (const auto& key : batch.keys()) {
    const BatchFeature::Value& v = batch.at(key);
    if (const Tensor* t = std::get_if<Tensor>(&v)) {
      if (t->defined() && t->dtype() == DType::kFloat32) return true;
    } else {
      for (const Tensor& t : std::get<std::vector<Tensor>>(v))
        if (t.defined() && t.dtype() == DType::kFloat32) return true;
    }
  }
  return false;
}

BatchFeature cast_float32(const BatchFeature& batch, DType dtype, int threads, BufferPool* pool) {
  if (dtype == DType::kFloat32) return batch;
  if (dtype != DType::kFloat16 && dtype != DType::kBFloat16)
    throw std::invalid_argument(std::string("cast_float32: to ") + dtype_name(dtype) + ", not float16 or bfloat16");
  // Allocate every output first, then convert all the batch's elements as one parallel range.
  std::vector<Job> jobs;
  int64_t total = 0;
  auto convert = [&](const Tensor& t) {
    if (!t.defined() || t.dtype() != DType::kFloat32) return t;
    Tensor out = Tensor::empty(dtype, t.shape(), pool);
    if (t.numel() > 0) {
      jobs.push_back({static_cast<const float*>(t.raw_data()), static_cast<uint16_t*>(out.raw_data()), total});
      total += t.numel();
    }
    return out;
  };
  BatchFeature out;
  for (const auto& key : batch.keys()) {
    const BatchFeature::Value& v = batch.at(key);
    if (const Tensor* t = std::get_if<Tensor>(&v)) {
      out.set(key, convert(*t));
    } else {
      std::vector<Tensor> list;
      for (const Tensor& t : std::get<std::vector<Tensor>>(v)) list.push_back(convert(t));
      out.set(key, std::move(list));
    }
  }
  const auto to = dtype == DType::kFloat16 ? &float_to_half : &float_to_bfloat16;
  parallel_chunks(threads, total, kGrain, [&](int64_t begin, int64_t end) {
    // The jobs overlapping [begin, end): the last one starting at or before `begin` on.
    auto it = std::upper_bound(jobs.begin(), jobs.end(), begin, [](int64_t b, const Job& j) { return b < j.begin; });
    for (--it; it != jobs.end() && it->begin < end; ++it) {
      const int64_t job_end = std::next(it) != jobs.end() ? std::next(it)->begin : total;
      const int64_t lo = std::max(begin, it->begin), hi = std::min(end, job_end);
      to(it->in + (lo - it->begin), it->out + (lo - it->begin), static_cast<size_t>(hi - lo));
    }
  });
  return out;
}

}  // namespace pixelflow::pipelines
