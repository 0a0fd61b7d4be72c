#include "graph/batch_feature.h"

#include <filesystem>
#include <stdexcept>

#include "base/atomic_file.h"
#include "base/errors.h"
#include "graph/npy.h"

namespace pixelflow {

bool BatchFeature::contains(const std::string& key) const { return values_.count(key) != 0; }

void BatchFeature::set(const std::string& key, Tensor t) {
  if (!contains(key)) order_.push_back(key);
  values_[key] = std::move(t);
}

void BatchFeature::set(const std::string& key, std::vector<Tensor> list) {
  if (!contains(key)) order_.push_back(key);
  values_[key] = std::move(list);
}

const BatchFeature::Value& BatchFeature::at(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    std::string present;
    for (const auto& k : order_) present += (present.empty() ? "" : ", ") + k;
    throw std::out_of_range("BatchFeature has no key '" + key + "' (keys: " + present + ")");
  }
  return it->second;
}

const Tensor& BatchFeature::tensor(const std::string& key) const {
  const Value& v = at(key);
  if (const Tensor* t = std::get_if<Tensor>(&v)) return *t;
  throw std::logic_error("BatchFeature['" + key +
                         "'] is a list of per-image arrays (return_tensors=None), not a tensor");
}

std::vector<Tensor> BatchFeature::list(const std::string& key) const {
  const Value& v = at(key);
  if (const auto* l = std::get_if<std::vector<Tensor>>(&v)) return *l;
  const Tensor& t = std::get<Tensor>(v);
  std::vector<Tensor> out;
  for (int64_t i = 0; i < t.dim(0); ++i) out.push_back(t[i]);
  return out;
}

BatchFeature& BatchFeature::to(const std::string& device) {
  if (device == "cpu") return *this;
  throw Error("BatchFeature.to('" + device +
              "'): pixelflow produces host (cpu) tensors only; move them with your framework "
              "after a zero-copy DLPack export");
}

namespace {

DLDataType dl_dtype(DType t) {
  DLDataType d;
  d.lanes = 1;
  d.bits = static_cast<uint8_t>(dtype_size(t) * 8);
  switch (t) {
    case DType::kBool: d.code = kDLUInt; d.bits = 8; break;  // DLPack v0.6 has no bool code
    case DType::kUInt8:
    case DType::kUInt16: d.code = kDLUInt; break;
    case DType::kInt32:
    case DType::kInt64: d.code = kDLInt; break;
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kFloat16: d.code = kDLFloat; break;
    case DType::kBFloat16: d.code = kDLBfloat; break;
  }
  return d;
}

struct DLPackContext {
  Tensor tensor;  // keeps storage alive
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  DLManagedTensor managed;
};

}  // namespace

DLManagedTensor* to_dlpack(const Tensor& t) {
  if (!t.defined()) throw std::invalid_argument("to_dlpack: undefined tensor");
  auto* ctx = new DLPackContext{t, t.shape(), std::vector<int64_t>(t.ndim()), {}};
  int64_t stride = 1;
  for (int d = t.ndim() - 1; d >= 0; --d) {
    ctx->strides[d] = stride;
    stride *= t.shape()[d];
  }
  DLTensor& dl = ctx->managed.dl_tensor;
  dl.data = const_cast<void*>(ctx->tensor.raw_data());
  dl.device = DLDevice{kDLCPU, 0};
  dl.ndim = t.ndim();
  dl.dtype = dl_dtype(t.dtype());
  dl.shape = ctx->shape.data();
  dl.strides = ctx->strides.data();
  dl.byte_offset = 0;
  ctx->managed.manager_ctx = ctx;
  ctx->managed.deleter = [](DLManagedTensor* self) {
    delete static_cast<DLPackContext*>(self->manager_ctx);
  };
  return &ctx->managed;
}

DLManagedTensor* BatchFeature::to_dlpack(const std::string& key) const {
  return pixelflow::to_dlpack(tensor(key));
}

std::vector<std::string> BatchFeature::save_npy(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create output folder: " + ec.message());
  // Every file goes to a temporary first; the renames come only once all are written, so a
  // failure (or a kill) while writing leaves the folder as it was.
  StagedFiles files;
  for (const auto& key : order_) {
    const Value& v = values_.at(key);
    if (const Tensor* t = std::get_if<Tensor>(&v)) {
      std::string path = (std::filesystem::path(dir) / (key + ".npy")).string();
      files.stage(path, {npy_header(*t), npy_data(*t)});
    } else {
      const auto& list = std::get<std::vector<Tensor>>(v);
      for (size_t i = 0; i < list.size(); ++i) {
        std::string path =
            (std::filesystem::path(dir) / (key + "_" + std::to_string(i) + ".npy")).string();
        files.stage(path, {npy_header(list[i]), npy_data(list[i])});
      }
    }
  }
  files.commit();
  return files.paths();
}

}  // namespace pixelflow
