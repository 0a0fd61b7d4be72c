#include "pipelines/dataset_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include "base/errors.h"
#include "base/file_io.h"
#include "graph/npy.h"
#include "base/sha256.h"

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

// Writes the pieces to `path` (created or truncated; a symlink there is refused, never followed),
// fsyncs and closes it. On failure the partial file is removed and Error names `path`.
void write_file(const std::string& path, const std::vector<std::pair<const void*, size_t>>& pieces,
                bool sync) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
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

using Pieces = std::vector<std::pair<const void*, size_t>>;

// {"size": N, "sha256": HEX} of the bytes of `pieces`: a file's record in shards.jsonl.
nlohmann::ordered_json digest_of(const Pieces& pieces) {
  Sha256 h;
  uint64_t size = 0;
  for (const auto& [data, n] : pieces) {
    h.update(data, n);
    size += n;
  }
  return {{"size", size}, {"sha256", h.hex_digest()}};
}

// Whether `path` is a regular file (not a link) whose size and SHA-256 are those of `digest`
// (a digest_of record, as read back). Unreadable counts as different.
bool file_matches(const std::string& path, const nlohmann::json& digest) {
  if (!digest.is_object()) return false;
  auto size = digest.find("size"), sha = digest.find("sha256");
  if (size == digest.end() || !size->is_number_unsigned() || sha == digest.end() || !sha->is_string())
    return false;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != size->get<uint64_t>())
    return false;
  // Non-blocking: should a FIFO replace the file after the lstat, opening it does not wait.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  Sha256 h;
  std::vector<char> buf(size_t(1) << 20);
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
    if (total > size->get<uint64_t>()) return false;  // grown since: never read on and on
  }
  return total == size->get<uint64_t>() && h.hex_digest() == sha->get<std::string>();
}

void remove_path(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) throw Error(p.string() + ": cannot remove: " + ec.message());
}

// The complete ('\n'-terminated) lines of a file of the output folder, read through RegularFile:
// something planted at its name that is not a regular file (a FIFO, a device, a folder) is
// refused with one line naming it, never read from (or waited on), and no read goes past the
// size the file had when opened. A last line without '\n' (an append cut short) is not returned.
class LineReader {
 public:
  explicit LineReader(const std::string& path) : file_(path) {}
  bool next(std::string& line) {
    for (;;) {
      const size_t nl = buf_.find('\n', start_);
      if (nl != std::string::npos) {
        line.assign(buf_, start_, nl - start_);
        start_ = nl + 1;
        return true;
      }
      buf_.erase(0, start_);
      start_ = 0;
      const size_t before = buf_.size();
      file_.read_append(buf_, size_t(1) << 16);
      if (buf_.size() == before) return false;
    }
  }

 private:
  RegularFile file_;
  std::string buf_;
  size_t start_ = 0;
};

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

// Writes the file; returns its digest_of record.
nlohmann::ordered_json write_safetensors_file(const std::string& path, const BatchFeature& batch,
                                              const Metadata& metadata, bool sync) {
  Prepared p = prepare_safetensors(batch, metadata, path);
  Pieces pieces{{p.header.data(), p.header.size()}};
  for (const auto& nt : p.tensors)
    if (nt.tensor.nbytes()) pieces.emplace_back(nt.tensor.raw_data(), nt.tensor.nbytes());
  write_file(path, pieces, sync);
  return digest_of(pieces);
}

[[noreturn]] void bad_safetensors(const std::string& path, const std::string& what) {
  throw DecodeError(path, "malformed safetensors file: " + what);
}

// ---------------------------------------------------------------------------------------------
// Manifest lines

// The length of the well-formed UTF-8 sequence at p[0..n) (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF), or 0 when p[0] does not start one.
size_t utf8_sequence(const unsigned char* p, size_t n) {
  const unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t len = 0;
  unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) len = 3, lo = 0xA0;
  else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
  else if (c == 0xED) len = 3, hi = 0x9F;
  else if (c == 0xF0) len = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else if (c == 0xF4) len = 4, hi = 0x8F;
  else return 0;
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if (p[k] < 0x80 || p[k] > 0xBF) return 0;
  return len;
}

// `s` as a JSON string literal: valid UTF-8 as nlohmann writes it (raw, with '"', '\\' and
// control characters escaped), and each byte 0xNN that is not part of valid UTF-8 as the lone
// surrogate escape \udcNN, as Python's surrogateescape decodes it (json.loads then os.fsencode
// give the bytes back).
std::string json_string(const std::string& s) {
  std::string out = "\"";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t run = 0;  // start of the current run of valid UTF-8
  auto flush = [&](size_t end) {
    if (end == run) return;
    const std::string text =
        nlohmann::json(s.substr(run, end - run)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.append(text, 1, text.size() - 2);
  };
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence(p + i, s.size() - i);
    if (len > 0) {
      i += len;
      continue;
    }
    flush(i);
    char esc[8];
    std::snprintf(esc, sizeof esc, "\\udc%02x", p[i]);
    out += esc;
    run = ++i;
  }
  flush(s.size());
  return out + "\"";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value of the 4 hex digits at s[i..i+4), or -1.
int hex4(const std::string& s, size_t i) {
  if (i + 4 > s.size()) return -1;
  int v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    const int d = hex_value(s[k]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// nlohmann's parser refuses lone surrogates, which json_string writes for bytes that are not
// UTF-8. This rewrites a JSON text so that it takes them: a lone \udcNN (NN >= 80) becomes
// \u0000 followed by the characters "NN", and an escaped NUL \u0000 becomes \u0000 followed by
// "00"; restore_bytes undoes it in the parsed strings. (JSON has no raw NUL inside strings, so
// every NUL in them comes from one of these.)
std::string protect_escaped_bytes(const std::string& line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size();) {
    if (line[i] != '\\' || i + 1 >= line.size()) {
      out += line[i++];
      continue;
    }
    const int v = line[i + 1] == 'u' ? hex4(line, i + 2) : -1;
    if (v < 0) {  // another escape (\\, \", \n, ...), kept as it is
      out.append(line, i, 2);
      i += 2;
    } else if (v >= 0xD800 && v <= 0xDBFF && line.compare(i + 6, 2, "\\u") == 0 &&
               hex4(line, i + 8) >= 0xDC00 && hex4(line, i + 8) <= 0xDFFF) {
      out.append(line, i, 12);  // a surrogate pair: one character
      i += 12;
    } else if (v >= 0xDC80 && v <= 0xDCFF) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u0000%02x", v & 0xff);
      out += buf;
      i += 6;
    } else if (v == 0) {
      out += "\\u000000";
      i += 6;
    } else {
      out.append(line, i, 6);
      i += 6;
    }
  }
  return out;
}

// Undoes protect_escaped_bytes in a parsed string; false when it is malformed.
bool restore_bytes(std::string* s) {
  if (s->find('\0') == std::string::npos) return true;
  std::string out;
  for (size_t i = 0; i < s->size(); ++i) {
    if ((*s)[i] != '\0') {
      out += (*s)[i];
      continue;
    }
    if (i + 2 >= s->size()) return false;
    const int a = hex_value((*s)[i + 1]), b = hex_value((*s)[i + 2]);
    if (a < 0 || b < 0) return false;
    out += static_cast<char>(a * 16 + b);
    i += 2;
  }
  *s = std::move(out);
  return true;
}

std::string manifest_line(const ManifestEntry& e, const std::string& shard) {
  // Written like Python's json.dumps (", " and ": " separators, this key order), as the manifest
  // format is documented: {"input": PATH, "status": "ok", "shard": NAME, "index": I}.
  std::string line = "{\"input\": " + json_string(e.input);
  if (e.ok)
    line += ", \"status\": \"ok\", \"shard\": " + json_string(shard) + ", \"index\": " + std::to_string(e.index);
  else
    line += ", \"status\": \"error\", \"error\": " + json_string(e.error);
  return line + "}\n";
}

// Parses one manifest line; false when it is not a well-formed entry.
bool parse_manifest_line(const std::string& line, ManifestEntry* e) {
  nlohmann::json j = nlohmann::json::parse(protect_escaped_bytes(line), nullptr, false);
  if (!j.is_object()) return false;
  auto input = j.find("input"), status = j.find("status");
  if (input == j.end() || !input->is_string() || status == j.end() || !status->is_string())
    return false;
  e->input = input->get<std::string>();
  if (!restore_bytes(&e->input)) return false;
  const std::string s = status->get<std::string>();
  if (s == "ok") {
    auto shard = j.find("shard"), index = j.find("index");
    if (shard == j.end() || !shard->is_string() || index == j.end() || !index->is_number_integer())
      return false;
    e->ok = true;
    e->shard = shard->get<std::string>();
    e->index = index->get<int64_t>();
    return restore_bytes(&e->shard) && e->index >= 0;
  }
  if (s == "error") {
    auto error = j.find("error");
    if (error == j.end() || !error->is_string()) return false;
    e->ok = false;
    e->error = error->get<std::string>();
    return restore_bytes(&e->error);
  }
  return false;
}

// The batch number of a shard name as DatasetWriter writes it: "shard-" and 6 to 18 digits, then
// nothing (npy) or ".safetensors"; -1 for any other name.
int64_t shard_number(const std::string& name, SinkSpec::Format format) {
  static const std::string prefix = "shard-";
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  size_t i = prefix.size(), j = i;
  while (j < name.size() && j - i < 18 && name[j] >= '0' && name[j] <= '9') ++j;
  if (j - i < 6) return -1;
  const std::string rest = name.substr(j);
  if (rest != (format == SinkSpec::Format::kSafetensors ? ".safetensors" : "")) return -1;
  const int64_t n = std::stoll(name.substr(i, j - i));
  char canonical[32];  // "shard-000042", not "shard-0000042"
  std::snprintf(canonical, sizeof canonical, "shard-%06lld", static_cast<long long>(n));
  return name.compare(0, j, canonical) == 0 ? n : -1;
}

// Either format's shard name.
bool is_shard_name(const std::string& name) {
  return shard_number(name, SinkSpec::Format::kNpy) >= 0 || shard_number(name, SinkSpec::Format::kSafetensors) >= 0;
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
  const std::string bytes = read_regular_file(path);  // DecodeError naming the file
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
  LineReader f(path);  // complete lines only: an append cut short is not committed
  std::vector<ManifestEntry> out;
  std::string line;
  int64_t number = 0;
  while (f.next(line)) {
    ++number;
    ManifestEntry e;
    if (!parse_manifest_line(line, &e))
      throw DecodeError(path, "line " + std::to_string(number) + " is not a manifest entry");
    out.push_back(std::move(e));
  }
  return out;
}

// -----------------------------------------------------------------------------------------------
// DatasetWriter

namespace {

// The id of the run whose run.json holds `run_json_text`: its first 16 SHA-256 hex digits. The
// run's temporaries are named .pixelflow-<id>.NAME.tmp.
std::string run_id_of(const std::string& run_json_text) { return sha256_hex(run_json_text).substr(0, 16); }

bool is_temporary_of(const std::string& name, const std::string& run_id) {
  const std::string prefix = ".pixelflow-" + run_id + ".";
  return name.size() > prefix.size() + 4 && name.compare(0, prefix.size(), prefix) == 0 && ends_with(name, ".tmp");
}

// The whole file; false when it cannot be read.
bool read_text(const std::string& path, std::string* text) {
  try {
    *text = read_regular_file(path, kMaxConfigFileBytes, "run.json");
    return true;
  } catch (const Error&) {  // missing, not a regular file, too large, unreadable
    return false;
  }
}

// Removes a file (or an empty folder) if present.
void remove_file(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) throw Error(path + ": cannot remove: " + ec.message());
}

// Takes a failed append back; false when even that fails.
bool truncate_back(int fd, off_t size, bool sync) {
  if (::ftruncate(fd, size) != 0) return false;
  if (sync) ::fsync(fd);
  return true;
}

}  // namespace

struct DatasetWriter::Impl {
  std::string dir;
  SinkSpec::Format format;
  int64_t total = 0;
  int64_t batch_size = 1;
  int64_t committed = 0;
  bool sync = true;
  std::string run_id;   // run_id_of(run.json)
  Fd dir_lock;          // DIR opened and flock'ed: one writer per folder
  Fd manifest;          // manifest.jsonl, O_APPEND
  off_t manifest_size = 0;
  Fd shards;            // shards.jsonl, O_APPEND: one record per shard written
  off_t shards_size = 0;
  bool broken = false;  // a failed append could not be taken back

  std::string path(const std::string& name) const { return (fs::path(dir) / name).string(); }
  int64_t num_batches() const { return total / batch_size + (total % batch_size != 0); }
  int64_t batch_inputs(int64_t b) const { return std::min(batch_size, total - b * batch_size); }
  std::string shard_name(int64_t b) const {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "shard-%06lld", static_cast<long long>(b));
    return std::string(buf) + (format == SinkSpec::Format::kSafetensors ? ".safetensors" : "");
  }
  std::string temp_name(const std::string& name) const { return ".pixelflow-" + run_id + "." + name + ".tmp"; }

  std::vector<std::string> entry_names() const;
  void open_folder(const nlohmann::ordered_json& key, bool overwrite);
  std::set<std::string> previous_run_files(const std::string& run_json_text, const nlohmann::json& there) const;
  void remove_previous_run(const std::set<std::string>& files);
  void check_fresh_folder(bool overwrite, const std::set<std::string>& ours) const;
  void remove_temporaries(const std::string& id);
  void remove_shards_from(int64_t first);
  void open_logs();
  void recover();
  bool shard_matches(int64_t b, const nlohmann::json& record) const;
  void commit_shard(int64_t b, const BatchFeature& batch);
};

// The names in DIR, sorted.
std::vector<std::string> DatasetWriter::Impl::entry_names() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  if (ec) throw Error(dir + ": cannot list folder: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

void DatasetWriter::Impl::remove_temporaries(const std::string& id) {
  for (const auto& name : entry_names())
    if (is_temporary_of(name, id)) remove_path(path(name));
}

void DatasetWriter::Impl::remove_shards_from(int64_t first) {
  for (const auto& name : entry_names()) {
    const int64_t k = shard_number(name, format);
    if (k >= first && k < num_batches()) remove_path(path(name));
  }
}

// The files in DIR of the run whose run.json holds `run_json_text` (`there` parsed, or
// discarded): run.json, manifest.jsonl, shards.jsonl, the shards its manifest and shards.jsonl
// name and its own shard names (shard-NNNNNN for its batches), and its temporaries.
std::set<std::string> DatasetWriter::Impl::previous_run_files(const std::string& run_json_text,
                                                               const nlohmann::json& there) const {
  std::set<std::string> named = {"run.json", "manifest.jsonl", "shards.jsonl"};
  {
    try {
      LineReader lines(path("manifest.jsonl"));
      for (std::string line; lines.next(line);) {
        ManifestEntry e;
        if (parse_manifest_line(line, &e) && e.ok && is_shard_name(e.shard)) named.insert(e.shard);
      }
    } catch (const Error&) {  // missing or not a regular file: it names nothing
    }
  }
  {
    try {
      LineReader lines(path("shards.jsonl"));
      for (std::string line; lines.next(line);) {
        nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
        auto shard = r.is_object() ? r.find("shard") : r.end();
        if (r.is_object() && shard != r.end() && shard->is_string() && is_shard_name(shard->get<std::string>()))
          named.insert(shard->get<std::string>());
      }
    } catch (const Error&) {  // missing or not a regular file: it names nothing
    }
  }
  std::optional<SinkSpec::Format> old_format;
  int64_t old_batches = 0;
  if (there.is_object() && there.contains("total") && there.contains("batch_size") && there.contains("format")) {
    const auto &t = there["total"], &bs = there["batch_size"], &f = there["format"];
    if (t.is_number_integer() && t.get<int64_t>() >= 0 && bs.is_number_integer() && bs.get<int64_t>() >= 1) {
      old_batches = t.get<int64_t>() / bs.get<int64_t>() + (t.get<int64_t>() % bs.get<int64_t>() != 0);
      if (f == "npy") old_format = SinkSpec::Format::kNpy;
      if (f == "safetensors") old_format = SinkSpec::Format::kSafetensors;
    }
  }
  const std::string old_id = run_id_of(run_json_text);
  std::set<std::string> out;
  for (const auto& name : entry_names()) {
    const int64_t k = old_format ? shard_number(name, *old_format) : -1;
    if (named.count(name) || (k >= 0 && k < old_batches) || is_temporary_of(name, old_id)) out.insert(name);
  }
  return out;
}

// --overwrite: deletes `files` (previous_run_files). The manifest first and run.json last: an
// overwrite cut short leaves a run whose batches are no longer committed, which may be
// overwritten (or resumed) again.
void DatasetWriter::Impl::remove_previous_run(const std::set<std::string>& files) {
  if (files.count("manifest.jsonl")) remove_file(path("manifest.jsonl"));
  fsync_dir(dir, sync);
  for (const auto& name : files)
    if (name != "run.json" && name != "manifest.jsonl" && name != "shards.jsonl") remove_path(path(name));
  fsync_dir(dir, sync);
  if (files.count("shards.jsonl")) remove_file(path("shards.jsonl"));
  remove_file(path("run.json"));
  fsync_dir(dir, sync);
}

// A new run starts in an empty folder; with overwrite, next to other files, but never over one.
// `ours`: the names that are going anyway (the previous run's files, this run's temporaries).
void DatasetWriter::Impl::check_fresh_folder(bool overwrite, const std::set<std::string>& ours) const {
  std::vector<std::string> names = entry_names();
  std::erase_if(names, [&](const std::string& n) { return ours.count(n) > 0 || is_temporary_of(n, run_id); });
  if (names.empty()) return;
  if (!overwrite) {
    // Name the most telling entry: a run's file (of a run whose run.json is gone), else the first.
    std::string shown = names.front();
    for (const auto& n : names)
      if (n == "manifest.jsonl" || n == "shards.jsonl" || is_shard_name(n)) {
        shown = n;
        break;
      }
    const std::string more = names.size() > 1 ? " and " + std::to_string(names.size() - 1) + " more" : "";
    throw InputError(dir + ": holds " + shown + more +
                     " but no run.json, so it is not a pixelflow run to resume; use a new or empty output "
                     "folder, or overwrite (which keeps the files that are not a pixelflow run's)");
  }
  for (const auto& n : names) {
    const int64_t k = shard_number(n, format);
    if (n == "run.json" || n == "manifest.jsonl" || n == "shards.jsonl" || (k >= 0 && k < num_batches()))
      throw InputError(path(n) + ": is in the way of the run's output and is not a file of the run this "
                                 "folder holds; move it away or use another output folder");
  }
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
  std::set<std::string> previous;  // with overwrite: the files of the run the folder holds
  if (fs::symlink_status(run_json, ec).type() != fs::file_type::not_found) {
    std::string text;
    const bool readable = read_text(run_json, &text);
    const nlohmann::json there = readable ? nlohmann::json::parse(text, nullptr, false)
                                          : nlohmann::json(nlohmann::json::value_t::discarded);
    if (there.is_discarded()) {
      if (!overwrite)
        throw InputError(dir + ": run.json is unreadable or not JSON, so this folder cannot be "
                               "resumed; use another output folder or overwrite it");
    } else if (there != here) {
      if (!overwrite)
        throw InputError(dir + ": holds the output of another run (run.json differs: " +
                         describe_difference(there, here) +
                         "); use another output folder or overwrite it");
    } else if (!overwrite) {
      run_id = run_id_of(text);
      remove_temporaries(run_id);
      open_logs();
      recover();
      return;
    }
    previous = previous_run_files(text, there);
  }
  const std::string text = key.dump(2) + "\n";
  run_id = run_id_of(text);
  check_fresh_folder(overwrite, previous);  // before deleting anything
  if (!previous.empty()) remove_previous_run(previous);
  remove_temporaries(run_id);  // left by a crash while writing run.json
  // Invariant 1: run.json exists (durably) before any manifest line or shard.
  const std::string tmp = path(temp_name("run.json"));
  write_file(tmp, text, sync);
  if (::rename(tmp.c_str(), run_json.c_str()) != 0) {
    int err = errno;
    remove_partial(tmp);
    io_fail(run_json, "cannot rename " + tmp + " to it", err);
  }
  fsync_dir(dir, sync);
  open_logs();
  fsync_dir(dir, sync);
}

void DatasetWriter::Impl::open_logs() {
  auto open_append = [&](const std::string& name) {
    const std::string p = path(name);
    Fd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (fd.get() < 0) io_fail(p, "cannot open", errno);
    return fd;
  };
  manifest = open_append("manifest.jsonl");
  shards = open_append("shards.jsonl");
}

// Whether shard b on disk is the one `record` (its line in shards.jsonl) describes: same files,
// each of the recorded size and SHA-256.
bool DatasetWriter::Impl::shard_matches(int64_t b, const nlohmann::json& record) const {
  const std::string name = shard_name(b);
  auto shard = record.find("shard");
  if (shard == record.end() || *shard != name) return false;
  if (format == SinkSpec::Format::kSafetensors) return file_matches(path(name), record);
  auto files = record.find("files");
  struct stat st;
  if (files == record.end() || !files->is_object() || ::lstat(path(name).c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return false;
  std::set<std::string> present;
  std::error_code ec;
  for (fs::directory_iterator it(path(name), ec), end; !ec && it != end; it.increment(ec))
    present.insert(it->path().filename().string());
  if (ec || present.size() != files->size()) return false;
  for (const auto& [file, digest] : files->items())
    if (!present.count(file) || !file_matches((fs::path(path(name)) / file).string(), digest)) return false;
  return true;
}

void DatasetWriter::Impl::recover() {
  // The records of shards.jsonl: whole lines, in increasing batch order.
  struct Record {
    int64_t batch;
    nlohmann::json json;
    off_t end;  // bytes of shards.jsonl up to and including this record's line
  };
  std::vector<Record> records;
  {
    const std::string p = path("shards.jsonl");
    LineReader f(p);
    off_t pos = 0;
    for (std::string line; f.next(line);) {
      nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
      auto batch = r.is_object() ? r.find("batch") : r.end();
      if (!r.is_object() || batch == r.end() || !batch->is_number_integer() ||
          (!records.empty() && batch->get<int64_t>() <= records.back().batch))
        break;
      pos += static_cast<off_t>(line.size()) + 1;
      records.push_back({batch->get<int64_t>(), std::move(r), pos});
    }
  }
  // Keep the longest prefix of whole batches whose lines are complete and well formed, and whose
  // shard, if it has one, matches its record (invariant 3).
  const std::string p = path("manifest.jsonl");
  LineReader f(p);
  off_t good_bytes = 0, pos = 0;
  int64_t b = 0;
  size_t r = 0;
  std::string line;
  bool intact = true;
  while (intact && b < num_batches()) {
    bool any_ok = false;
    for (int64_t i = 0; i < batch_inputs(b); ++i) {
      ManifestEntry e;
      if (!f.next(line) || !parse_manifest_line(line, &e) ||
          (e.ok && e.shard != shard_name(b))) {
        intact = false;
        break;
      }
      pos += static_cast<off_t>(line.size()) + 1;
      any_ok |= e.ok;
    }
    if (!intact) break;
    if (any_ok) {
      while (r < records.size() && records[r].batch < b) ++r;
      if (r == records.size() || records[r].batch != b || !shard_matches(b, records[r].json)) break;
    }
    good_bytes = pos;
    ++b;
  }
  committed = b;
  // Take back the rest: its manifest lines first (so that it is no longer committed), then its
  // shards, then their records.
  struct stat st;
  if (::fstat(manifest.get(), &st) != 0) io_fail(p, "cannot stat", errno);
  if (st.st_size != good_bytes) {
    if (::ftruncate(manifest.get(), good_bytes) != 0) io_fail(p, "cannot truncate", errno);
    fsync_fd(manifest.get(), p, sync);
  }
  manifest_size = good_bytes;
  remove_shards_from(committed);
  fsync_dir(dir, sync);
  off_t keep = 0;
  for (const auto& rec : records)
    if (rec.batch < committed) keep = rec.end;
  const std::string sp = path("shards.jsonl");
  if (::fstat(shards.get(), &st) != 0) io_fail(sp, "cannot stat", errno);
  if (st.st_size != keep) {
    if (::ftruncate(shards.get(), keep) != 0) io_fail(sp, "cannot truncate", errno);
    fsync_fd(shards.get(), sp, sync);
  }
  shards_size = keep;
}

// Writes shard b under its temporary name, appends its record to shards.jsonl, then renames it
// into place (invariant 2). On failure the temporary and the record are taken back.
void DatasetWriter::Impl::commit_shard(int64_t b, const BatchFeature& batch) {
  const std::string name = shard_name(b);
  const std::string final_path = path(name);
  const std::string tmp = path(temp_name(name));
  std::error_code ec;
  if (fs::symlink_status(final_path, ec).type() != fs::file_type::not_found)
    throw Error(final_path + ": is in the way of the run's output and was not written by this run; "
                             "move it away");
  remove_path(tmp);
  nlohmann::ordered_json record = {{"batch", b}, {"shard", name}};
  bool recorded = false, renamed = false;
  try {
    if (format == SinkSpec::Format::kSafetensors) {
      const nlohmann::ordered_json digest = write_safetensors_file(tmp, batch, {{"format", "pt"}}, sync);
      record["size"] = digest["size"];
      record["sha256"] = digest["sha256"];
    } else {
      std::vector<NamedTensor> tensors = flatten(batch, final_path);
      for (const auto& nt : tensors) check_file_name(nt.name, final_path);
      if (::mkdir(tmp.c_str(), 0755) != 0) io_fail(tmp, "cannot create folder", errno);
      nlohmann::ordered_json files = nlohmann::ordered_json::object();
      for (const auto& nt : tensors) {
        std::string header = npy_header(nt.tensor);
        const Pieces pieces{{header.data(), header.size()}, {nt.tensor.raw_data(), nt.tensor.nbytes()}};
        write_file((fs::path(tmp) / (nt.name + ".npy")).string(), pieces, sync);
        files[nt.name + ".npy"] = digest_of(pieces);
      }
      record["files"] = std::move(files);
      fsync_dir(tmp, sync);
    }
    const std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    const std::string sp = path("shards.jsonl");
    recorded = true;
    write_all(shards.get(), line.data(), line.size(), sp);
    fsync_fd(shards.get(), sp, sync);
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) io_fail(final_path, "cannot rename " + tmp + " to it", errno);
    renamed = true;
    fsync_dir(dir, sync);
    shards_size += static_cast<off_t>(line.size());
  } catch (...) {
    fs::remove_all(renamed ? final_path : tmp, ec);
    if (recorded && !truncate_back(shards.get(), shards_size, sync)) broken = true;
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
    throw Error(m.dir + ": a failed append to manifest.jsonl or shards.jsonl could not be taken back; " +
                "open the folder again to resume");
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

  const off_t shards_before = m.shards_size;
  if (rows > 0) m.commit_shard(b, batch);  // invariant 2: shard and record are durable before the lines

  const std::string mpath = m.path("manifest.jsonl");
  try {
    write_all(m.manifest.get(), lines.data(), lines.size(), mpath);
    fsync_fd(m.manifest.get(), mpath, m.sync);
  } catch (...) {
    // Take back a partial append, so that the manifest holds whole batches only, then the
    // batch's shard and its record, so that the folder is as it was. Should a truncation fail,
    // the next opening of the folder does it (invariant 3); this writer refuses further batches.
    if (!truncate_back(m.manifest.get(), m.manifest_size, m.sync)) m.broken = true;
    if (rows > 0) {
      std::error_code ec;
      fs::remove_all(m.path(shard), ec);
      if (truncate_back(m.shards.get(), shards_before, m.sync))
        m.shards_size = shards_before;
      else
        m.broken = true;
    }
    throw;
  }
  m.manifest_size += static_cast<off_t>(lines.size());
  ++m.committed;
}

}  // namespace pixelflow::pipelines
