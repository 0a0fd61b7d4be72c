#include "pipelines/dataset_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <utility>

#include "graph/errors.h"
#include "graph/npy.h"
#include "graph/sha256.h"

namespace fs = std::filesystem;

namespace pixelflow::pipelines {

// safetensors and .npy data are little-endian; tensors are written from memory as they are.
static_assert(std::endian::native == std::endian::little, "pixelflow writes host bytes as little-endian");

namespace {

// ---------------------------------------------------------------------------------------------
// POSIX file helpers: every failure is one line naming the path and the system's reason.

[[noreturn]] void io_fail(const std::string& path, const std::string& what, int err) {
  throw Error(path + ": " + what + ": " + std::strerror(err));
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // close() reporting its error (NFS and some others report write-back failures here).
  void close_checked(const std::string& path) {
    int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) io_fail(path, "cannot write", errno);
  }

 private:
  int fd_ = -1;
};

void write_all(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, std::min<size_t>(size, size_t(1) << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail(path, "cannot write", errno);
    }
    if (n == 0) io_fail(path, "cannot write", EIO);
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// `sync` false (DatasetWriterOptions::sync) makes the fsync helpers no-ops.
void fsync_fd(int fd, const std::string& path, bool sync) {
  if (!sync) return;
  // EINVAL/EROFS: the file does not support syncing (a pipe, a special file); nothing to wait for.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) io_fail(path, "cannot sync", errno);
}

void fsync_dir(const std::string& dir, bool sync) {
  if (!sync) return;
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) io_fail(dir, "cannot open folder", errno);
  fsync_fd(fd.get(), dir, true);
}

// Removes `path` if it is a regular file we may have created (never a device such as
// /dev/full given as an output path).
void remove_partial(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::unlink(path.c_str());
}

// Writes the pieces to `path` (created or truncated), fsyncs and closes it. On failure the
// partial file is removed and Error names `path`.
void write_file(const std::string& path, const std::vector<std::pair<const void*, size_t>>& pieces,
                bool sync) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) io_fail(path, "cannot create", errno);
  try {
    for (const auto& [data, size] : pieces) write_all(fd.get(), data, size, path);
    fsync_fd(fd.get(), path, sync);
    fd.close_checked(path);
  } catch (...) {
    fd.reset();
    remove_partial(path);
    throw;
  }
}

void write_file(const std::string& path, const std::string& text, bool sync) {
  write_file(path, {{text.data(), text.size()}}, sync);
}

void remove_path(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) throw Error(p.string() + ": cannot remove: " + ec.message());
}

std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------
// Tensor naming: stacked KEY, lists KEY.0, KEY.1, ...

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

std::vector<NamedTensor> flatten(const BatchFeature& batch, const std::string& where) {
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

// ---------------------------------------------------------------------------------------------
// safetensors

struct StType {
  DType dtype;
  const char* name;
  int rank;  // position in the reference implementation's Dtype enum (increasing alignment)
};

constexpr StType kStTypes[] = {
    {DType::kBool, "BOOL", 0},   {DType::kUInt8, "U8", 1},    {DType::kUInt16, "U16", 6},
    {DType::kInt32, "I32", 9},   {DType::kFloat32, "F32", 11}, {DType::kFloat64, "F64", 12},
    {DType::kInt64, "I64", 13},
};

const StType& st_type(DType t) {
  for (const auto& s : kStTypes)
    if (s.dtype == t) return s;
  throw std::logic_error("safetensors: no dtype for " + std::string(dtype_name(t)));
}

using Metadata = std::vector<std::pair<std::string, std::string>>;

struct Prepared {
  std::string header;  // 8-byte length + padded JSON
  std::vector<NamedTensor> tensors;  // in data order
};

Prepared prepare_safetensors(const BatchFeature& batch, const Metadata& metadata,
                             const std::string& where) {
  Prepared p;
  p.tensors = flatten(batch, where);
  std::stable_sort(p.tensors.begin(), p.tensors.end(), [](const NamedTensor& a, const NamedTensor& b) {
    int ra = st_type(a.tensor.dtype()).rank, rb = st_type(b.tensor.dtype()).rank;
    if (ra != rb) return ra > rb;
    return a.name < b.name;
  });
  std::string json = "{";
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); ++i) {
      if (i) json += ',';
      json += quoted(metadata[i].first);
      json += ':';
      json += quoted(metadata[i].second);
    }
    json += "}";
  }
  uint64_t offset = 0;
  for (const auto& nt : p.tensors) {
    if (json.size() > 1) json += ",";
    json += quoted(nt.name) + ":{\"dtype\":\"" + st_type(nt.tensor.dtype()).name + "\",\"shape\":[";
    for (int d = 0; d < nt.tensor.ndim(); ++d) {
      if (d) json += ',';
      json += std::to_string(nt.tensor.dim(d));
    }
    uint64_t end = offset + nt.tensor.nbytes();
    json += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  uint64_t n = json.size();
  p.header.resize(8);
  for (int i = 0; i < 8; ++i) p.header[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  p.header += json;
  return p;
}

void write_safetensors_file(const std::string& path, const BatchFeature& batch,
                            const Metadata& metadata, bool sync) {
  Prepared p = prepare_safetensors(batch, metadata, path);
  std::vector<std::pair<const void*, size_t>> pieces{{p.header.data(), p.header.size()}};
  for (const auto& nt : p.tensors)
    if (nt.tensor.nbytes()) pieces.emplace_back(nt.tensor.raw_data(), nt.tensor.nbytes());
  write_file(path, pieces, sync);
}

[[noreturn]] void bad_safetensors(const std::string& path, const std::string& what) {
  throw DecodeError(path, "malformed safetensors file: " + what);
}

// ---------------------------------------------------------------------------------------------
// Manifest lines

std::string manifest_line(const ManifestEntry& e, const std::string& shard) {
  nlohmann::ordered_json j;
  j["input"] = e.input;
  if (e.ok) {
    j["status"] = "ok";
    j["shard"] = shard;
    j["index"] = e.index;
  } else {
    j["status"] = "error";
    j["error"] = e.error;
  }
  // Written like Python's json.dumps (", " and ": " separators), as the manifest format is
  // documented: {"input": PATH, "status": "ok", "shard": NAME, "index": I}.
  std::string line = "{";
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it != j.begin()) line += ", ";
    line += nlohmann::json(it.key()).dump() + ": " +
            it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return line + "}\n";
}

// Parses one manifest line; false when it is not a well-formed entry.
bool parse_manifest_line(const std::string& line, ManifestEntry* e) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return false;
  auto input = j.find("input"), status = j.find("status");
  if (input == j.end() || !input->is_string() || status == j.end() || !status->is_string())
    return false;
  e->input = input->get<std::string>();
  const std::string s = status->get<std::string>();
  if (s == "ok") {
    auto shard = j.find("shard"), index = j.find("index");
    if (shard == j.end() || !shard->is_string() || index == j.end() || !index->is_number_integer())
      return false;
    e->ok = true;
    e->shard = shard->get<std::string>();
    e->index = index->get<int64_t>();
    return e->index >= 0;
  }
  if (s == "error") {
    auto error = j.find("error");
    if (error == j.end() || !error->is_string()) return false;
    e->ok = false;
    e->error = error->get<std::string>();
    return true;
  }
  return false;
}

// "shard-000042..." -> 42; -1 for other names.
int64_t shard_number(const std::string& name) {
  static const std::string prefix = "shard-";
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  size_t i = prefix.size(), j = i;
  while (j < name.size() && j - i < 18 && name[j] >= '0' && name[j] <= '9') ++j;
  if (j - i < 6) return -1;
  return std::stoll(name.substr(i, j - i));
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A file name for an npy tensor name, or a one-line error.
void check_file_name(const std::string& name, const std::string& where) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw InputError(where + ": BatchFeature key '" + name + "' is not a valid file name");
}

// "/config/size/shortest_edge" -> "config.size.shortest_edge"
std::string pointer_to_dotted(const std::string& pointer) {
  std::string out;
  nlohmann::json::json_pointer p(pointer);
  std::vector<std::string> parts;
  while (!p.empty()) {
    parts.push_back(p.back());
    p.pop_back();
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  return out.empty() ? "(whole key)" : out;
}

std::string short_value(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s.size() <= 40 ? s : s.substr(0, 37) + "...";
}

// What differs between the run key in run.json (`there`) and this run's (`here`), one line.
std::string describe_difference(const nlohmann::json& there, const nlohmann::json& here) {
  nlohmann::json patch = nlohmann::json::diff(there, here);
  std::string out;
  size_t shown = 0;
  for (const auto& op : patch) {
    if (shown == 3) {
      out += "; and " + std::to_string(patch.size() - shown) + " more";
      break;
    }
    const std::string path = op.at("path").get<std::string>();
    const std::string what = op.at("op").get<std::string>();
    std::string item = pointer_to_dotted(path);
    nlohmann::json::json_pointer ptr(path);
    if (what == "replace")
      item += " " + short_value(there.at(ptr)) + " there, " + short_value(here.at(ptr)) + " now";
    else if (what == "add")
      item += " absent there, " + short_value(here.at(ptr)) + " now";
    else if (what == "remove")
      item += " " + short_value(there.at(ptr)) + " there, absent now";
    out += (out.empty() ? "" : "; ") + item;
    ++shown;
  }
  return out;
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Public free functions

const char* format_name(SinkSpec::Format format) {
  return format == SinkSpec::Format::kNpy ? "npy" : "safetensors";
}

std::string make_run_key(const nlohmann::json& config, const std::vector<std::string>& inputs,
                         int64_t batch_size, SinkSpec::Format format) {
  if (batch_size < 1) throw std::invalid_argument("make_run_key: batch_size must be >= 1");
  Sha256 h;
  for (const auto& in : inputs) {
    h.update(in);
    h.update("\n");
  }
  nlohmann::ordered_json key;
  key["config"] = config;
  key["inputs_sha256"] = h.hex_digest();
  key["total"] = static_cast<int64_t>(inputs.size());
  key["batch_size"] = batch_size;
  key["format"] = format_name(format);
  return key.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string safetensors_bytes(const BatchFeature& batch, const Metadata& metadata) {
  Prepared p = prepare_safetensors(batch, metadata, "safetensors");
  std::string out = std::move(p.header);
  for (const auto& nt : p.tensors)
    out.append(static_cast<const char*>(nt.tensor.raw_data()), nt.tensor.nbytes());
  return out;
}

void write_safetensors(const std::string& path, const BatchFeature& batch, const Metadata& metadata) {
  write_safetensors_file(path, batch, metadata, /*sync=*/true);
}

BatchFeature read_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw DecodeError(path, std::string("cannot open: ") + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw DecodeError(path, "read error");
  if (bytes.size() < 8) bad_safetensors(path, "shorter than its 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > 100'000'000) bad_safetensors(path, "header length " + std::to_string(n) + " too large");
  if (8 + n > bytes.size()) bad_safetensors(path, "header length " + std::to_string(n) + " past the end of the file");
  const std::string text = bytes.substr(8, n);
  if (text.empty() || text[0] != '{') bad_safetensors(path, "header does not start with '{'");
  nlohmann::ordered_json header = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!header.is_object()) bad_safetensors(path, "header is not a JSON object");

  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = "tensor '" + name + "': ";
    if (!info.is_object()) bad_safetensors(path, where + "not an object");
    auto dt = info.find("dtype"), sh = info.find("shape"), off = info.find("data_offsets");
    if (dt == info.end() || !dt->is_string() || sh == info.end() || !sh->is_array() ||
        off == info.end() || !off->is_array() || off->size() != 2)
      bad_safetensors(path, where + "needs dtype, shape and data_offsets [begin, end]");
    Entry e{name, DType::kUInt8, {}, 0, 0};
    const std::string dname = dt->get<std::string>();
    const StType* st = nullptr;
    for (const auto& s : kStTypes)
      if (dname == s.name) st = &s;
    if (!st)
      throw DecodeError(path, where + "dtype " + dname +
                                  " is not supported (supported: BOOL, U8, U16, I32, I64, F32, F64)");
    e.dtype = st->dtype;
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
    entries.push_back(std::move(e));
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  uint64_t pos = 0;
  for (const auto& e : entries) {
    if (e.begin != pos) bad_safetensors(path, "tensor '" + e.name + "': data_offsets leave a gap or overlap");
    pos = e.end;
  }
  if (8 + n + pos != bytes.size())
    bad_safetensors(path, "data ends at byte " + std::to_string(8 + n + pos) + ", file has " +
                              std::to_string(bytes.size()));
  BatchFeature out;
  const char* data = bytes.data() + 8 + n;
  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.dtype, e.shape);
    if (e.end > e.begin) std::memcpy(t.raw_data(), data + e.begin, e.end - e.begin);
    out.set(e.name, std::move(t));
  }
  return out;
}

std::vector<ManifestEntry> read_manifest(const std::string& out_dir) {
  const std::string path = (fs::path(out_dir) / "manifest.jsonl").string();
  std::ifstream f(path, std::ios::binary);
  if (!f) throw DecodeError(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<ManifestEntry> out;
  std::string line;
  int64_t number = 0;
  while (std::getline(f, line)) {
    ++number;
    if (f.eof()) break;  // no '\n': an append cut short, not committed
    ManifestEntry e;
    if (!parse_manifest_line(line, &e))
      throw DecodeError(path, "line " + std::to_string(number) + " is not a manifest entry");
    out.push_back(std::move(e));
  }
  return out;
}

// -----------------------------------------------------------------------------------------------
// DatasetWriter

struct DatasetWriter::Impl {
  std::string dir;
  SinkSpec::Format format;
  int64_t total = 0;
  int64_t batch_size = 1;
  int64_t committed = 0;
  bool sync = true;
  Fd dir_lock;      // DIR opened and flock'ed: one writer per folder
  Fd manifest;      // manifest.jsonl, O_APPEND
  off_t manifest_size = 0;
  bool broken = false;  // a failed append could not be taken back

  std::string path(const std::string& name) const { return (fs::path(dir) / name).string(); }
  int64_t num_batches() const { return (total + batch_size - 1) / batch_size; }
  int64_t batch_inputs(int64_t b) const { return std::min(batch_size, total - b * batch_size); }
  std::string shard_name(int64_t b) const {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "shard-%06lld", static_cast<long long>(b));
    return std::string(buf) + (format == SinkSpec::Format::kSafetensors ? ".safetensors" : "");
  }

  void open_folder(const nlohmann::ordered_json& key, bool overwrite);
  void clear_run_files();
  void remove_tmp_files();
  void open_manifest();
  void recover();
  void write_shard(int64_t b, const BatchFeature& batch);
};

void DatasetWriter::Impl::remove_tmp_files() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (ends_with(name, ".tmp")) remove_path(entry.path());
  }
  if (ec) throw Error(dir + ": cannot list folder: " + ec.message());
}

void DatasetWriter::Impl::clear_run_files() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "run.json" || name == "manifest.jsonl" || shard_number(name) >= 0 || ends_with(name, ".tmp"))
      remove_path(entry.path());
  }
  if (ec) throw Error(dir + ": cannot list folder: " + ec.message());
  fsync_dir(dir, sync);
}

void DatasetWriter::Impl::open_folder(const nlohmann::ordered_json& key, bool overwrite) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create output folder: " + ec.message());
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": output path exists and is not a folder");
  dir_lock = Fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_lock.get() < 0) io_fail(dir, "cannot open output folder", errno);
  if (::flock(dir_lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) throw Error(dir + ": output folder is in use by another pixelflow run");
    io_fail(dir, "cannot lock output folder", errno);
  }
  if (::faccessat(AT_FDCWD, dir.c_str(), W_OK, AT_EACCESS) != 0)
    io_fail(dir, "output folder is not writable", errno);

  const std::string run_json = path("run.json");
  const nlohmann::json here = nlohmann::json::parse(key.dump());
  bool resume = false;
  if (fs::exists(run_json, ec)) {
    std::ifstream f(run_json, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    nlohmann::json there = nlohmann::json::parse(text, nullptr, false);
    if (there.is_discarded() || !f) {
      if (!overwrite)
        throw InputError(dir + ": run.json is unreadable or not JSON, so this folder cannot be "
                               "resumed; use another output folder or overwrite it");
    } else if (there != here) {
      if (!overwrite)
        throw InputError(dir + ": holds the output of another run (run.json differs: " +
                         describe_difference(there, here) +
                         "); use another output folder or overwrite it");
    } else {
      resume = !overwrite;
    }
  } else if (!overwrite) {
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name == "manifest.jsonl" || shard_number(name) >= 0)
        throw InputError(dir + ": holds " + name +
                         " but no run.json, so it cannot be resumed; use another output folder "
                         "or overwrite it");
    }
  }
  if (resume) {
    remove_tmp_files();
    open_manifest();
    recover();
    return;
  }
  clear_run_files();
  // Invariant 1: run.json exists (durably) before any manifest line or shard.
  const std::string tmp = run_json + ".tmp";
  write_file(tmp, key.dump(2) + "\n", sync);
  if (::rename(tmp.c_str(), run_json.c_str()) != 0) {
    int err = errno;
    remove_partial(tmp);
    io_fail(run_json, "cannot rename " + tmp + " to it", err);
  }
  fsync_dir(dir, sync);
  open_manifest();
  fsync_dir(dir, sync);
}

void DatasetWriter::Impl::open_manifest() {
  const std::string p = path("manifest.jsonl");
  manifest = Fd(::open(p.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (manifest.get() < 0) io_fail(p, "cannot open", errno);
}

void DatasetWriter::Impl::recover() {
  const std::string p = path("manifest.jsonl");
  std::ifstream f(p, std::ios::binary);
  if (!f) io_fail(p, "cannot read", errno);
  // Keep the longest prefix of whole batches whose lines are complete, well formed, and whose
  // shard exists (invariant 3).
  off_t good_bytes = 0, pos = 0;
  int64_t b = 0;
  std::string line;
  bool intact = true;
  while (intact && b < num_batches()) {
    bool any_ok = false;
    for (int64_t i = 0; i < batch_inputs(b); ++i) {
      ManifestEntry e;
      if (!std::getline(f, line) || f.eof() || !parse_manifest_line(line, &e) ||
          (e.ok && e.shard != shard_name(b))) {
        intact = false;
        break;
      }
      pos += static_cast<off_t>(line.size()) + 1;
      any_ok |= e.ok;
    }
    if (!intact) break;
    if (any_ok) {
      std::error_code ec;
      auto st = fs::symlink_status(path(shard_name(b)), ec);
      bool present = format == SinkSpec::Format::kNpy ? fs::is_directory(st) : fs::is_regular_file(st);
      if (!present) break;
    }
    good_bytes = pos;
    ++b;
  }
  committed = b;
  struct stat st;
  if (::fstat(manifest.get(), &st) != 0) io_fail(p, "cannot stat", errno);
  if (st.st_size != good_bytes) {
    if (::ftruncate(manifest.get(), good_bytes) != 0) io_fail(p, "cannot truncate", errno);
    fsync_fd(manifest.get(), p, sync);
  }
  manifest_size = good_bytes;
  // Orphans: shards of batches that were not committed.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (shard_number(entry.path().filename().string()) >= committed) remove_path(entry.path());
  }
  if (ec) throw Error(dir + ": cannot list folder: " + ec.message());
  fsync_dir(dir, sync);
}

void DatasetWriter::Impl::write_shard(int64_t b, const BatchFeature& batch) {
  const std::string final_path = path(shard_name(b));
  const std::string tmp = final_path + ".tmp";
  remove_path(tmp);
  remove_path(final_path);  // a retry after a failed manifest append
  try {
    if (format == SinkSpec::Format::kSafetensors) {
      write_safetensors_file(tmp, batch, {{"format", "pt"}}, sync);
    } else {
      std::vector<NamedTensor> tensors = flatten(batch, final_path);
      for (const auto& nt : tensors) check_file_name(nt.name, final_path);
      if (::mkdir(tmp.c_str(), 0755) != 0) io_fail(tmp, "cannot create folder", errno);
      for (const auto& nt : tensors) {
        std::string header = npy_header(nt.tensor);
        write_file((fs::path(tmp) / (nt.name + ".npy")).string(),
                   {{header.data(), header.size()}, {nt.tensor.raw_data(), nt.tensor.nbytes()}}, sync);
      }
      fsync_dir(tmp, sync);
    }
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) io_fail(final_path, "cannot rename " + tmp + " to it", errno);
    fsync_dir(dir, sync);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

DatasetWriter::DatasetWriter(const std::string& out_dir, SinkSpec::Format format,
                             const std::string& run_key, const DatasetWriterOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->dir = out_dir;
  impl_->format = format;
  impl_->sync = options.sync;
  nlohmann::ordered_json key = nlohmann::ordered_json::parse(run_key, nullptr, false);
  if (!key.is_object()) throw std::invalid_argument("DatasetWriter: the run key must be a JSON object");
  auto total = key.find("total"), batch_size = key.find("batch_size");
  if (total == key.end() || !total->is_number_integer() || total->get<int64_t>() < 0)
    throw std::invalid_argument("DatasetWriter: the run key needs \"total\", an integer >= 0");
  if (batch_size == key.end() || !batch_size->is_number_integer() || batch_size->get<int64_t>() < 1)
    throw std::invalid_argument("DatasetWriter: the run key needs \"batch_size\", an integer >= 1");
  impl_->total = total->get<int64_t>();
  impl_->batch_size = batch_size->get<int64_t>();
  auto fmt = key.find("format");
  if (fmt == key.end())
    key["format"] = format_name(format);
  else if (*fmt != format_name(format))
    throw std::invalid_argument(std::string("DatasetWriter: the run key's format ") + fmt->dump() +
                                " disagrees with the sink format \"" + format_name(format) + "\"");
  impl_->open_folder(key, options.overwrite);
}

DatasetWriter::~DatasetWriter() = default;

int64_t DatasetWriter::completed_batches() const { return impl_->committed; }
int64_t DatasetWriter::num_batches() const { return impl_->num_batches(); }
int64_t DatasetWriter::batch_size() const { return impl_->batch_size; }
int64_t DatasetWriter::total() const { return impl_->total; }
int64_t DatasetWriter::batch_inputs(int64_t b) const {
  if (b < 0 || b >= impl_->num_batches())
    throw std::out_of_range("DatasetWriter: batch " + std::to_string(b) + " out of range [0, " +
                            std::to_string(impl_->num_batches()) + ")");
  return impl_->batch_inputs(b);
}
std::string DatasetWriter::shard_name(int64_t b) const { return impl_->shard_name(b); }
const std::string& DatasetWriter::out_dir() const { return impl_->dir; }

void DatasetWriter::write_batch(int64_t b, const BatchFeature& batch,
                                const std::vector<ManifestEntry>& entries) {
  Impl& m = *impl_;
  const std::string where = "DatasetWriter::write_batch(" + std::to_string(b) + "): ";
  if (m.broken)
    throw Error(m.path("manifest.jsonl") + ": a failed append could not be taken back; open the " +
                "folder again to resume");
  if (b != m.committed)
    throw std::logic_error(where + "batches are committed in order; next is " + std::to_string(m.committed));
  if (b >= m.num_batches())
    throw std::logic_error(where + "the run has " + std::to_string(m.num_batches()) + " batches");
  if (static_cast<int64_t>(entries.size()) != m.batch_inputs(b))
    throw std::logic_error(where + std::to_string(entries.size()) + " entries for a batch of " +
                           std::to_string(m.batch_inputs(b)) + " inputs");
  int64_t rows = 0;
  for (const auto& e : entries) rows += e.ok;
  std::vector<bool> seen(static_cast<size_t>(rows), false);
  for (const auto& e : entries) {
    if (!e.ok) continue;
    if (e.index < 0 || e.index >= rows || seen[static_cast<size_t>(e.index)])
      throw std::logic_error(where + "entry '" + e.input + "' has index " + std::to_string(e.index) +
                             "; ok entries must use each of 0.." + std::to_string(rows - 1) + " once");
    seen[static_cast<size_t>(e.index)] = true;
  }
  for (const auto& key : batch.keys()) {
    const BatchFeature::Value& v = batch.at(key);
    int64_t n = -1;
    if (const Tensor* t = std::get_if<Tensor>(&v))
      n = t->ndim() > 0 ? t->dim(0) : -1;
    else
      n = static_cast<int64_t>(std::get<std::vector<Tensor>>(v).size());
    if (n != rows)
      throw std::logic_error(where + "key '" + key + "' has " + std::to_string(n) + " rows, the batch " +
                             std::to_string(rows) + " ok inputs");
  }

  std::string lines;
  const std::string shard = m.shard_name(b);
  for (const auto& e : entries) lines += manifest_line(e, shard);

  if (rows > 0) m.write_shard(b, batch);  // invariant 2: the shard is durable before its lines

  const std::string mpath = m.path("manifest.jsonl");
  try {
    write_all(m.manifest.get(), lines.data(), lines.size(), mpath);
    fsync_fd(m.manifest.get(), mpath, m.sync);
  } catch (...) {
    // Take back a partial append, so that the manifest holds whole batches only, and the
    // batch's shard, so that the folder is as it was. Should the truncation fail, the next
    // opening of the folder does it (invariant 3); this writer refuses further batches.
    if (::ftruncate(m.manifest.get(), m.manifest_size) == 0) {
      if (m.sync) ::fsync(m.manifest.get());
    } else {
      m.broken = true;
    }
    std::error_code ec;
    fs::remove_all(m.path(shard), ec);
    throw;
  }
  m.manifest_size += static_cast<off_t>(lines.size());
  ++m.committed;
}

}  // namespace pixelflow::pipelines
