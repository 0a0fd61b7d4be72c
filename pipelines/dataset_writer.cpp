#include "pipelines/dataset_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include "base/errors.h"
#include "base/file_io.h"
#include "base/posix_file.h"
#include "graph/npy.h"
#include "pipelines/dataset/float_dtype.h"

namespace fs = std::filesystem;

namespace pixelflow::pipelines {

namespace {

using posix::fsync_dir;
using posix::fsync_fd;
using posix::io_fail;

// A file's record in shards.jsonl: {"size": N, "sha256": HEX}.
nlohmann::ordered_json digest_json(const posix::FileDigest& d) { return {{"size", d.size}, {"sha256", d.sha256}}; }

// Whether `path` is a regular file whose size and SHA-256 are those of `digest` (a digest_json
// record, as read back; anything else does not match).
bool file_matches(const std::string& path, const nlohmann::json& digest) {
  if (!digest.is_object()) return false;
  auto size = digest.find("size"), sha = digest.find("sha256");
  if (size == digest.end() || !size->is_number_unsigned() || sha == digest.end() || !sha->is_string())
    return false;
  return posix::file_matches(path, size->get<uint64_t>(), sha->get<std::string>());
}

// A file name for an npy tensor name, or a one-line error.
void check_file_name(const std::string& name, const std::string& where) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw InputError(where + ": BatchFeature key '" + name + "' is not a valid file name");
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

// A record of shards.jsonl.
struct ShardRecord {
  int64_t batch;
  nlohmann::json json;
  off_t end;  // bytes of shards.jsonl up to and including this record's line
};

// The records of shards.jsonl: whole lines, in increasing batch order, up to the first that is
// not one.
std::vector<ShardRecord> read_shard_records(const std::string& path) {
  std::vector<ShardRecord> records;
  posix::LineReader f(path);
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
  return records;
}

// The shard names that the manifest and shards.jsonl at `manifest_path` and `shards_path` name
// (a missing or unreadable file names nothing).
std::set<std::string> shards_named_in_logs(const std::string& manifest_path, const std::string& shards_path) {
  std::set<std::string> named;
  try {
    posix::LineReader lines(manifest_path);
    for (std::string line; lines.next(line);) {
      ManifestEntry e;
      if (parse_manifest_line(line, &e) && e.ok && is_shard_name(e.shard)) named.insert(e.shard);
    }
  } catch (const Error&) {  // missing or not a regular file: it names nothing
  }
  try {
    posix::LineReader lines(shards_path);
    for (std::string line; lines.next(line);) {
      nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
      auto shard = r.is_object() ? r.find("shard") : r.end();
      if (r.is_object() && shard != r.end() && shard->is_string() && is_shard_name(shard->get<std::string>()))
        named.insert(shard->get<std::string>());
    }
  } catch (const Error&) {  // missing or not a regular file: it names nothing
  }
  return named;
}

// The format and batch count of the run whose run key is `there`, when it has valid ones.
std::optional<std::pair<SinkSpec::Format, int64_t>> run_layout(const nlohmann::json& there) {
  if (!there.is_object() || !there.contains("total") || !there.contains("batch_size") || !there.contains("format"))
    return std::nullopt;
  const auto &t = there["total"], &bs = there["batch_size"], &f = there["format"];
  if (!t.is_number_integer() || t.get<int64_t>() < 0 || !bs.is_number_integer() || bs.get<int64_t>() < 1)
    return std::nullopt;
  if (f != "npy" && f != "safetensors") return std::nullopt;
  return std::pair{f == "npy" ? SinkSpec::Format::kNpy : SinkSpec::Format::kSafetensors,
                   batch_count(t.get<int64_t>(), bs.get<int64_t>())};
}

// The rows of a batch: its "ok" entries, whose indices must be 0..rows-1, once each.
int64_t check_entries(const std::string& where, const std::vector<ManifestEntry>& entries) {
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
  return rows;
}

// Every key of `batch` must hold `rows` rows (a stacked tensor's dim 0, a list's length).
void check_rows(const std::string& where, const BatchFeature& batch, int64_t rows,
                const std::vector<std::string>& concatenated) {
  for (const auto& key : batch.keys()) {
    if (std::find(concatenated.begin(), concatenated.end(), key) != concatenated.end()) continue;
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
}

// Sets the run's total, batch size and float dtype from its run key (`key`, checked) and adds its
// format.
void read_run_key(nlohmann::ordered_json& key, SinkSpec::Format format, int64_t* total, int64_t* batch_size,
                  DType* dtype) {
  if (!key.is_object()) throw std::invalid_argument("DatasetWriter: the run key must be a JSON object");
  auto t = key.find("total"), bs = key.find("batch_size");
  if (t == key.end() || !t->is_number_integer() || t->get<int64_t>() < 0)
    throw std::invalid_argument("DatasetWriter: the run key needs \"total\", an integer >= 0");
  if (bs == key.end() || !bs->is_number_integer() || bs->get<int64_t>() < 1)
    throw std::invalid_argument("DatasetWriter: the run key needs \"batch_size\", an integer >= 1");
  *total = t->get<int64_t>();
  *batch_size = bs->get<int64_t>();
  auto fmt = key.find("format");
  if (fmt == key.end())
    key["format"] = format_name(format);
  else if (*fmt != format_name(format))
    throw std::invalid_argument(std::string("DatasetWriter: the run key's format ") + fmt->dump() +
                                " disagrees with the sink format \"" + format_name(format) + "\"");
  auto dt = key.find("dtype");
  *dtype = DType::kFloat32;
  if (dt != key.end()) {
    const auto parsed = dt->is_string() ? parse_float_dtype(dt->get<std::string>()) : std::nullopt;
    if (!parsed)
      throw std::invalid_argument("DatasetWriter: the run key's dtype " + dt->dump() + " is not " +
                                  float_dtype_choices());
    *dtype = *parsed;
  }
  if (!format_holds(format, *dtype))
    throw std::invalid_argument(std::string("DatasetWriter: ") + format_name(format) + " files cannot hold " +
                                dtype_name(*dtype) + " (use safetensors)");
}

}  // namespace

struct DatasetWriter::Impl {
  std::string dir;
  SinkSpec::Format format;
  int64_t total = 0;
  int64_t batch_size = 1;
  DType dtype = DType::kFloat32;  // float32 tensors are written as this
  int64_t committed = 0;
  bool sync = true;
  std::vector<std::string> concatenated_keys;
  std::string run_id;   // run_id_of(run.json)
  posix::Fd dir_lock;   // DIR opened and flock'ed: one writer per folder
  posix::Fd manifest;   // manifest.jsonl, O_APPEND
  off_t manifest_size = 0;
  posix::Fd shards;     // shards.jsonl, O_APPEND: one record per shard written
  off_t shards_size = 0;
  bool broken = false;  // a failed append could not be taken back

  std::string path(const std::string& name) const { return (fs::path(dir) / name).string(); }
  int64_t num_batches() const { return batch_count(total, batch_size); }
  int64_t batch_inputs(int64_t b) const { return std::min(batch_size, total - b * batch_size); }
  std::string shard_name(int64_t b) const { return pipelines::shard_name(b, format); }
  std::string temp_name(const std::string& name) const { return pipelines::temp_name(run_id, name); }

  std::vector<std::string> entry_names() const;
  void open_folder(const nlohmann::ordered_json& key, bool overwrite);
  void lock_folder();
  bool resume_or_take_over(const nlohmann::json& here, bool overwrite, std::set<std::string>* previous);
  void start_run(const std::string& run_json_text, bool overwrite, const std::set<std::string>& previous);
  std::set<std::string> previous_run_files(const std::string& run_json_text, const nlohmann::json& there) const;
  void remove_previous_run(const std::set<std::string>& files);
  void check_fresh_folder(bool overwrite, const std::set<std::string>& ours) const;
  void remove_temporaries(const std::string& id);
  void remove_shards_from(int64_t first);
  void open_logs();
  void recover();
  bool read_batch_lines(posix::LineReader& f, int64_t b, off_t* bytes, bool* any_ok) const;
  off_t intact_prefix(const std::vector<ShardRecord>& records);
  void truncate_log(const posix::Fd& fd, const std::string& name, off_t size);
  bool shard_matches(int64_t b, const nlohmann::json& record) const;
  bool npy_shard_matches(const std::string& folder, const nlohmann::json& files) const;
  void write_shard(const std::string& tmp, const std::string& final_path, const BatchFeature& batch,
                   nlohmann::ordered_json& record);
  nlohmann::ordered_json write_npy_shard(const std::string& tmp, const std::string& final_path,
                                         const BatchFeature& batch);
  void commit_shard(int64_t b, const BatchFeature& batch);
  void append_lines(const std::string& lines, int64_t rows, off_t shards_before, const std::string& shard);
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
    if (is_temporary_of(name, id)) posix::remove_path(path(name));
}

void DatasetWriter::Impl::remove_shards_from(int64_t first) {
  for (const auto& name : entry_names()) {
    const int64_t k = shard_number(name, format);
    if (k >= first && k < num_batches()) posix::remove_path(path(name));
  }
}

// The files in DIR of the run whose run.json holds `run_json_text` (`there` parsed, or
// discarded): run.json, manifest.jsonl, shards.jsonl, the shards its manifest and shards.jsonl
// name and its own shard names (shard-NNNNNN for its batches), and its temporaries.
std::set<std::string> DatasetWriter::Impl::previous_run_files(const std::string& run_json_text,
                                                               const nlohmann::json& there) const {
  std::set<std::string> named = shards_named_in_logs(path("manifest.jsonl"), path("shards.jsonl"));
  named.insert({"run.json", "manifest.jsonl", "shards.jsonl"});
  const auto layout = run_layout(there);
  const std::string old_id = run_id_of(run_json_text);
  std::set<std::string> out;
  for (const auto& name : entry_names()) {
    const int64_t k = layout ? shard_number(name, layout->first) : -1;
    if (named.count(name) || (k >= 0 && k < layout->second) || is_temporary_of(name, old_id))
      out.insert(name);
  }
  return out;
}

// --overwrite: deletes `files` (previous_run_files). The manifest first and run.json last: an
// overwrite cut short leaves a run whose batches are no longer committed, which may be
// overwritten (or resumed) again.
void DatasetWriter::Impl::remove_previous_run(const std::set<std::string>& files) {
  if (files.count("manifest.jsonl")) posix::remove_file(path("manifest.jsonl"));
  fsync_dir(dir, sync);
  for (const auto& name : files)
    if (name != "run.json" && name != "manifest.jsonl" && name != "shards.jsonl") posix::remove_path(path(name));
  fsync_dir(dir, sync);
  if (files.count("shards.jsonl")) posix::remove_file(path("shards.jsonl"));
  posix::remove_file(path("run.json"));
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

// Creates DIR if missing and takes its lock: one writer per folder.
void DatasetWriter::Impl::lock_folder() {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create output folder: " + ec.message());
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": output path exists and is not a folder");
  dir_lock = posix::Fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_lock.get() < 0) io_fail(dir, "cannot open output folder", errno);
  if (::flock(dir_lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) throw Error(dir + ": output folder is in use by another pixelflow run");
    io_fail(dir, "cannot lock output folder", errno);
  }
  if (::faccessat(AT_FDCWD, dir.c_str(), W_OK, AT_EACCESS) != 0)
    io_fail(dir, "output folder is not writable", errno);
}

// DIR has a run.json. The same run's (run key `here`) is resumed: true. Another run's (or an
// unreadable one) is refused unless overwrite; then `previous` gets its files and false is
// returned, as with overwrite for the same run.
bool DatasetWriter::Impl::resume_or_take_over(const nlohmann::json& here, bool overwrite,
                                              std::set<std::string>* previous) {
  std::string text;
  const bool readable = read_text(path("run.json"), &text);
  const nlohmann::json there = readable ? nlohmann::json::parse(text, nullptr, false)
                                        : nlohmann::json(nlohmann::json::value_t::discarded);
  if (there.is_discarded()) {
    if (!overwrite)
      throw InputError(dir + ": run.json is unreadable or not JSON, so this folder cannot be "
                             "resumed; use another output folder or overwrite it");
  } else if (there != here) {
    if (!overwrite)
      throw InputError(dir + ": holds the output of another run (run.json differs: " +
                       describe_difference(there, here) + "); use another output folder or overwrite it");
  } else if (!overwrite) {
    run_id = run_id_of(text);
    remove_temporaries(run_id);
    open_logs();
    recover();
    return true;
  }
  *previous = previous_run_files(text, there);
  return false;
}

// A new run in DIR: the previous run's files (`previous`, with overwrite) deleted, then run.json
// written (invariant 1: it exists, durably, before any manifest line or shard) and the logs
// created.
void DatasetWriter::Impl::start_run(const std::string& text, bool overwrite, const std::set<std::string>& previous) {
  run_id = run_id_of(text);
  check_fresh_folder(overwrite, previous);  // before deleting anything
  if (!previous.empty()) remove_previous_run(previous);
  remove_temporaries(run_id);  // left by a crash while writing run.json
  const std::string run_json = path("run.json");
  const std::string tmp = path(temp_name("run.json"));
  posix::write_file(tmp, {text}, sync);
  if (::rename(tmp.c_str(), run_json.c_str()) != 0) {
    int err = errno;
    posix::remove_partial(tmp);
    io_fail(run_json, "cannot rename " + tmp + " to it", err);
  }
  fsync_dir(dir, sync);
  open_logs();
  fsync_dir(dir, sync);
}

void DatasetWriter::Impl::open_folder(const nlohmann::ordered_json& key, bool overwrite) {
  lock_folder();
  const nlohmann::json here = nlohmann::json::parse(key.dump());
  std::set<std::string> previous;  // with overwrite: the files of the run the folder holds
  std::error_code ec;
  if (fs::symlink_status(path("run.json"), ec).type() != fs::file_type::not_found &&
      resume_or_take_over(here, overwrite, &previous))
    return;
  start_run(key.dump(2) + "\n", overwrite, previous);
}

void DatasetWriter::Impl::open_logs() {
  auto open_append = [&](const std::string& name) {
    const std::string p = path(name);
    posix::Fd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (fd.get() < 0) io_fail(p, "cannot open", errno);
    return fd;
  };
  manifest = open_append("manifest.jsonl");
  shards = open_append("shards.jsonl");
}

// Whether the npy shard folder holds exactly the files of `files` (its record's "files"), each of
// the recorded size and SHA-256.
bool DatasetWriter::Impl::npy_shard_matches(const std::string& folder, const nlohmann::json& files) const {
  struct stat st;
  if (!files.is_object() || ::lstat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  std::set<std::string> present;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    present.insert(it->path().filename().string());
  if (ec || present.size() != files.size()) return false;
  for (const auto& [file, digest] : files.items())
    if (!present.count(file) || !file_matches((fs::path(folder) / file).string(), digest)) return false;
  return true;
}

// Whether shard b on disk is the one `record` (its line in shards.jsonl) describes: same files,
// each of the recorded size and SHA-256.
bool DatasetWriter::Impl::shard_matches(int64_t b, const nlohmann::json& record) const {
  const std::string name = shard_name(b);
  auto shard = record.find("shard");
  if (shard == record.end() || *shard != name) return false;
  if (format == SinkSpec::Format::kSafetensors) return file_matches(path(name), record);
  auto files = record.find("files");
  return files != record.end() && npy_shard_matches(path(name), *files);
}

// Reads the lines of batch b from the manifest: false when one is missing (or incomplete), not
// an entry, or an "ok" line naming another shard. Adds their bytes to `bytes`.
bool DatasetWriter::Impl::read_batch_lines(posix::LineReader& f, int64_t b, off_t* bytes, bool* any_ok) const {
  std::string line;
  for (int64_t i = 0; i < batch_inputs(b); ++i) {
    ManifestEntry e;
    if (!f.next(line) || !parse_manifest_line(line, &e) || (e.ok && e.shard != shard_name(b))) return false;
    *bytes += static_cast<off_t>(line.size()) + 1;
    *any_ok |= e.ok;
  }
  return true;
}

// The longest prefix of whole batches of the manifest whose lines are complete and well formed,
// and whose shard, if it has one, matches its record (invariant 3): sets `committed` to its
// batches and returns its bytes.
off_t DatasetWriter::Impl::intact_prefix(const std::vector<ShardRecord>& records) {
  posix::LineReader f(path("manifest.jsonl"));
  off_t good_bytes = 0;
  int64_t b = 0;
  size_t r = 0;
  for (; b < num_batches(); ++b) {
    off_t bytes = 0;
    bool any_ok = false;
    if (!read_batch_lines(f, b, &bytes, &any_ok)) break;
    if (any_ok) {
      while (r < records.size() && records[r].batch < b) ++r;
      if (r == records.size() || records[r].batch != b || !shard_matches(b, records[r].json)) break;
    }
    good_bytes += bytes;
  }
  committed = b;
  return good_bytes;
}

// Truncates the log `name` (open as `fd`) to `size` bytes, if longer.
void DatasetWriter::Impl::truncate_log(const posix::Fd& fd, const std::string& name, off_t size) {
  const std::string p = path(name);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) io_fail(p, "cannot stat", errno);
  if (st.st_size != size) {
    if (::ftruncate(fd.get(), size) != 0) io_fail(p, "cannot truncate", errno);
    fsync_fd(fd.get(), p, sync);
  }
}

void DatasetWriter::Impl::recover() {
  const std::vector<ShardRecord> records = read_shard_records(path("shards.jsonl"));
  const off_t good_bytes = intact_prefix(records);
  // Take back the rest: its manifest lines first (so that it is no longer committed), then its
  // shards, then their records.
  truncate_log(manifest, "manifest.jsonl", good_bytes);
  manifest_size = good_bytes;
  remove_shards_from(committed);
  fsync_dir(dir, sync);
  off_t keep = 0;
  for (const auto& rec : records)
    if (rec.batch < committed) keep = rec.end;
  truncate_log(shards, "shards.jsonl", keep);
  shards_size = keep;
}

// Writes an npy shard into the new folder `tmp`, one KEY.npy per tensor; returns its record's
// "files" ({"KEY.npy": {"size": N, "sha256": HEX}, ...}). Errors about keys name `final_path`.
nlohmann::ordered_json DatasetWriter::Impl::write_npy_shard(const std::string& tmp, const std::string& final_path,
                                                           const BatchFeature& batch) {
  std::vector<NamedTensor> tensors = named_tensors(batch, final_path);
  for (const auto& nt : tensors) check_file_name(nt.name, final_path);
  if (::mkdir(tmp.c_str(), 0755) != 0) io_fail(tmp, "cannot create folder", errno);
  nlohmann::ordered_json files = nlohmann::ordered_json::object();
  for (const auto& nt : tensors) {
    const std::string header = npy_header(nt.tensor);
    const posix::Pieces pieces{header, npy_data(nt.tensor)};
    posix::write_file((fs::path(tmp) / (nt.name + ".npy")).string(), pieces, sync);
    files[nt.name + ".npy"] = digest_json(posix::digest_of(pieces));
  }
  fsync_dir(tmp, sync);
  return files;
}

// Writes the shard to `tmp` and adds its files' sizes and SHA-256 to `record`.
void DatasetWriter::Impl::write_shard(const std::string& tmp, const std::string& final_path,
                                      const BatchFeature& batch, nlohmann::ordered_json& record) {
  if (format == SinkSpec::Format::kNpy) {
    record["files"] = write_npy_shard(tmp, final_path, batch);
    return;
  }
  const SafetensorsLayout layout = safetensors_layout(batch, {{"format", "pt"}}, tmp);
  const posix::Pieces pieces = layout.pieces();  // views of `layout`
  posix::write_file(tmp, pieces, sync);
  const posix::FileDigest digest = posix::digest_of(pieces);
  record["size"] = digest.size;
  record["sha256"] = digest.sha256;
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
  posix::remove_path(tmp);
  nlohmann::ordered_json record = {{"batch", b}, {"shard", name}};
  bool recorded = false, renamed = false;
  try {
    write_shard(tmp, final_path, batch, record);
    const std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    const std::string sp = path("shards.jsonl");
    recorded = true;
    posix::write_all(shards.get(), line.data(), line.size(), sp);
    fsync_fd(shards.get(), sp, sync);
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) io_fail(final_path, "cannot rename " + tmp + " to it", errno);
    renamed = true;
    fsync_dir(dir, sync);
    shards_size += static_cast<off_t>(line.size());
  } catch (...) {
    fs::remove_all(renamed ? final_path : tmp, ec);
    if (recorded && !posix::truncate_back(shards.get(), shards_size, sync)) broken = true;
    throw;
  }
}

// Appends the batch's manifest lines (its shard, if `rows` > 0, and its record are durable).
void DatasetWriter::Impl::append_lines(const std::string& lines, int64_t rows, off_t shards_before,
                                       const std::string& shard) {
  const std::string mpath = path("manifest.jsonl");
  try {
    posix::write_all(manifest.get(), lines.data(), lines.size(), mpath);
    fsync_fd(manifest.get(), mpath, sync);
  } catch (...) {
    // Take back a partial append, so that the manifest holds whole batches only, then the
    // batch's shard and its record, so that the folder is as it was. Should a truncation fail,
    // the next opening of the folder does it (invariant 3); this writer refuses further batches.
    if (!posix::truncate_back(manifest.get(), manifest_size, sync)) broken = true;
    if (rows > 0) {
      std::error_code ec;
      fs::remove_all(path(shard), ec);
      if (posix::truncate_back(shards.get(), shards_before, sync))
        shards_size = shards_before;
      else
        broken = true;
    }
    throw;
  }
  manifest_size += static_cast<off_t>(lines.size());
}

DatasetWriter::DatasetWriter(const std::string& out_dir, SinkSpec::Format format,
                             const std::string& run_key, const DatasetWriterOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->dir = out_dir;
  impl_->format = format;
  impl_->sync = options.sync;
  impl_->concatenated_keys = options.concatenated_keys;
  nlohmann::ordered_json key = nlohmann::ordered_json::parse(run_key, nullptr, false);
  read_run_key(key, format, &impl_->total, &impl_->batch_size, &impl_->dtype);
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
  const int64_t rows = check_entries(where, entries);
  check_rows(where, batch, rows, m.concatenated_keys);

  std::string lines;
  const std::string shard = m.shard_name(b);
  for (const auto& e : entries) lines += manifest_line(e, shard);
  const off_t shards_before = m.shards_size;
  if (rows > 0) {
    // Invariant 2: the shard and its record are durable before the lines. The run's dtype is
    // applied here unless the caller did (DataLoaderOptions::float_dtype).
    const bool convert = m.dtype != DType::kFloat32 && has_float32(batch);
    m.commit_shard(b, convert ? cast_float32(batch, m.dtype) : batch);
  }
  m.append_lines(lines, rows, shards_before, shard);
  ++m.committed;
}

}  // namespace pixelflow::pipelines
