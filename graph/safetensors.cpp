#include "graph/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "base/file_io.h"
#include "base/posix_file.h"

namespace pixelflow {

// safetensors data is little-endian; tensors are written from memory as they are.
static_assert(std::endian::native == std::endian::little, "pixelflow writes host bytes as little-endian");

namespace {

struct StType {
  DType dtype;
  const char* name;
  int rank;  // position in the reference implementation's Dtype enum (increasing alignment)
};

constexpr StType kStTypes[] = {
    {DType::kBool, "BOOL", 0},   {DType::kUInt8, "U8", 1},    {DType::kUInt16, "U16", 6},
    {DType::kFloat16, "F16", 7}, {DType::kBFloat16, "BF16", 8},
    {DType::kInt32, "I32", 9},   {DType::kFloat32, "F32", 11}, {DType::kFloat64, "F64", 12},
    {DType::kInt64, "I64", 13},
};

const StType& st_type(DType t) {
  for (const auto& s : kStTypes)
    if (s.dtype == t) return s;
  throw std::logic_error("safetensors: no dtype for " + std::string(dtype_name(t)));
}

std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// "\"__metadata__\":{\"K\":\"V\",...}", or "" when there is none.
std::string metadata_json(const SafetensorsMetadata& metadata) {
  if (metadata.empty()) return "";
  std::string json = "\"__metadata__\":{";
  for (size_t i = 0; i < metadata.size(); ++i) {
    if (i) json += ',';
    json += quoted(metadata[i].first);
    json += ':';
    json += quoted(metadata[i].second);
  }
  return json + "}";
}

// "NAME":{"dtype":"F32","shape":[2,3],"data_offsets":[BEGIN,END]}
std::string tensor_json(const NamedTensor& nt, uint64_t begin) {
  std::string json = quoted(nt.name) + ":{\"dtype\":\"" + st_type(nt.tensor.dtype()).name + "\",\"shape\":[";
  for (int d = 0; d < nt.tensor.ndim(); ++d) {
    if (d) json += ',';
    json += std::to_string(nt.tensor.dim(d));
  }
  const uint64_t end = begin + nt.tensor.nbytes();
  return json + "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// The JSON header of `tensors` (in data order), padded with spaces to a multiple of 8.
std::string header_json(const std::vector<NamedTensor>& tensors, const SafetensorsMetadata& metadata) {
  std::string json = "{" + metadata_json(metadata);
  uint64_t offset = 0;
  for (const auto& nt : tensors) {
    if (json.size() > 1) json += ",";
    json += tensor_json(nt, offset);
    offset += nt.tensor.nbytes();
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  return json;
}

[[noreturn]] void bad_safetensors(const std::string& path, const std::string& what) {
  throw DecodeError(path, "malformed safetensors file: " + what);
}

// A tensor as the header describes it; [begin, end) relative to the data.
struct HeaderEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// The header's length N (after the 8 bytes that hold it), checked against the file's size.
uint64_t header_length(const std::string& path, const std::string& bytes) {
  if (bytes.size() < 8) bad_safetensors(path, "shorter than its 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > 100'000'000) bad_safetensors(path, "header length " + std::to_string(n) + " too large");
  if (8 + n > bytes.size()) bad_safetensors(path, "header length " + std::to_string(n) + " past the end of the file");
  return n;
}

DType entry_dtype(const std::string& path, const std::string& where, const std::string& dname) {
  for (const auto& s : kStTypes)
    if (dname == s.name) return s.dtype;
  throw DecodeError(path, where + "dtype " + dname + " is not supported (supported: BOOL, U8, U16, I32, I64, F32, F64)");
}

// One tensor of the header, its shape and offsets checked against its dtype.
HeaderEntry parse_entry(const std::string& path, const std::string& name, const nlohmann::ordered_json& info) {
  const std::string where = "tensor '" + name + "': ";
  if (!info.is_object()) bad_safetensors(path, where + "not an object");
  auto dt = info.find("dtype"), sh = info.find("shape"), off = info.find("data_offsets");
  if (dt == info.end() || !dt->is_string() || sh == info.end() || !sh->is_array() || off == info.end() ||
      !off->is_array() || off->size() != 2)
    bad_safetensors(path, where + "needs dtype, shape and data_offsets [begin, end]");
  HeaderEntry e{name, entry_dtype(path, where, dt->get<std::string>()), {}, 0, 0};
  uint64_t numel = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned()) bad_safetensors(path, where + "shape must hold non-negative integers");
    uint64_t v = d.get<uint64_t>();
    if (v > 0 && numel > (uint64_t(1) << 40) / v) bad_safetensors(path, where + "absurd shape");
    numel *= v;
    e.shape.push_back(static_cast<int64_t>(v));
  }
  if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
    bad_safetensors(path, where + "data_offsets must be non-negative integers");
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.end < e.begin || e.end - e.begin != numel * dtype_size(e.dtype))
    bad_safetensors(path, where + "data_offsets do not match its shape and dtype");
  return e;
}

// The tensors of the header `text`, in data order.
std::vector<HeaderEntry> parse_header(const std::string& path, const std::string& text) {
  if (text.empty() || text[0] != '{') bad_safetensors(path, "header does not start with '{'");
  nlohmann::ordered_json header = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!header.is_object()) bad_safetensors(path, "header is not a JSON object");
  std::vector<HeaderEntry> entries;
  for (const auto& [name, info] : header.items())
    if (name != "__metadata__") entries.push_back(parse_entry(path, name, info));
  std::stable_sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
    return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
  });
  return entries;
}

// The data must be the tensors one after the other, from 0 to the end of the file.
void check_contiguous(const std::string& path, const std::vector<HeaderEntry>& entries, uint64_t data_start,
                      uint64_t file_size) {
  uint64_t pos = 0;
  for (const auto& e : entries) {
    if (e.begin != pos) bad_safetensors(path, "tensor '" + e.name + "': data_offsets leave a gap or overlap");
    pos = e.end;
  }
  if (data_start + pos != file_size)
    bad_safetensors(path, "data ends at byte " + std::to_string(data_start + pos) + ", file has " +
                              std::to_string(file_size));
}

}  // namespace

std::vector<NamedTensor> named_tensors(const BatchFeature& batch, const std::string& where) {
  std::vector<NamedTensor> out;
  std::set<std::string> seen;
  auto add = [&](std::string name, const Tensor& t) {
    if (!t.defined()) throw InputError(where + ": tensor '" + name + "' is undefined");
    if (!seen.insert(name).second)
      throw InputError(where + ": two tensors would be named '" + name +
                       "' (a key clashes with an element KEY.i of a list key)");
    out.push_back({std::move(name), t});
  };
  for (const auto& key : batch.keys()) {
    const BatchFeature::Value& v = batch.at(key);
    if (const Tensor* t = std::get_if<Tensor>(&v)) {
      add(key, *t);
    } else {
      const auto& list = std::get<std::vector<Tensor>>(v);
      for (size_t i = 0; i < list.size(); ++i) add(key + "." + std::to_string(i), list[i]);
    }
  }
  return out;
}

std::vector<std::string_view> SafetensorsLayout::pieces() const {
  std::vector<std::string_view> out{header};
  for (const auto& nt : tensors)
    if (nt.tensor.nbytes()) out.emplace_back(static_cast<const char*>(nt.tensor.raw_data()), nt.tensor.nbytes());
  return out;
}

SafetensorsLayout safetensors_layout(const BatchFeature& batch, const SafetensorsMetadata& metadata,
                                     const std::string& where) {
  SafetensorsLayout p;
  p.tensors = named_tensors(batch, where);
  std::stable_sort(p.tensors.begin(), p.tensors.end(), [](const NamedTensor& a, const NamedTensor& b) {
    int ra = st_type(a.tensor.dtype()).rank, rb = st_type(b.tensor.dtype()).rank;
    if (ra != rb) return ra > rb;
    return a.name < b.name;
  });
  const std::string json = header_json(p.tensors, metadata);
  const uint64_t n = json.size();
  p.header.resize(8);
  for (int i = 0; i < 8; ++i) p.header[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  p.header += json;
  return p;
}

void write_safetensors(const std::string& path, const BatchFeature& batch, const SafetensorsMetadata& metadata) {
  const SafetensorsLayout layout = safetensors_layout(batch, metadata, path);
  posix::write_file(path, layout.pieces(), /*sync=*/true);
}

std::string safetensors_bytes(const BatchFeature& batch, const SafetensorsMetadata& metadata) {
  const SafetensorsLayout layout = safetensors_layout(batch, metadata, "safetensors");
  std::string out;
  for (std::string_view piece : layout.pieces()) out += piece;
  return out;
}

BatchFeature read_safetensors(const std::string& path) {
  const std::string bytes = read_regular_file(path);  // DecodeError naming the file
  const uint64_t n = header_length(path, bytes);
  const std::vector<HeaderEntry> entries = parse_header(path, bytes.substr(8, n));
  check_contiguous(path, entries, 8 + n, bytes.size());
  BatchFeature out;
  const char* data = bytes.data() + 8 + n;
  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.dtype, e.shape);
    if (e.end > e.begin) std::memcpy(t.raw_data(), data + e.begin, e.end - e.begin);
    out.set(e.name, std::move(t));
  }
  return out;
}

}  // namespace pixelflow
