#include "graph/kernels.h"

#include <cpuid.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include <HalideRuntime.h>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/errors.h"
#include "base/file_io.h"

namespace pixelflow {

namespace {

static_assert(halide_type_int == 0 && halide_type_uint == 1 && halide_type_float == 2 && halide_type_handle == 3,
              "KernelParam's type codes are Halide's");

std::string type_name(int code, int bits) {
  if (code == halide_type_uint && bits == 1) return "bool";
  switch (code) {
    case halide_type_int: return "int" + std::to_string(bits);
    case halide_type_uint: return "uint" + std::to_string(bits);
    case halide_type_float: return "float" + std::to_string(bits);
    case halide_type_bfloat: return "bfloat" + std::to_string(bits);
    default: return "handle";
  }
}

std::string type_name(halide_type_t t) { return type_name(t.code, t.bits); }

// An argument's name without the "$<n>" suffix Halide may give an output to keep its names
// unique (output$4 in one build, output$5 in another).
std::string_view base_name(const char* name) {
  const std::string_view n(name);
  return n.substr(0, n.find('$'));
}

bool is_buffer(const halide_filter_argument_t& a) { return a.kind != halide_argument_kind_input_scalar; }

// "output (output buffer, uint8, 2-D)", "taps (int32)".
std::string describe(const halide_filter_argument_t& a) {
  const char* kind = a.kind == halide_argument_kind_input_buffer    ? "input buffer, "
                     : a.kind == halide_argument_kind_output_buffer ? "output buffer, "
                                                                    : "";
  const std::string dims = is_buffer(a) ? ", " + std::to_string(a.dimensions) + "-D" : "";
  return std::string(base_name(a.name)) + " (" + kind + type_name(a.type) + dims + ")";
}

bool same_argument(const halide_filter_argument_t& a, const halide_filter_argument_t& b) {
  return base_name(a.name) == base_name(b.name) && a.kind == b.kind && a.dimensions == b.dimensions && a.type == b.type;
}

const halide_filter_metadata_t& metadata_of(const std::string& family, const CompiledKernel& k) {
  const halide_filter_metadata_t* m = k.metadata ? k.metadata() : nullptr;
  if (!m) throw KernelError("kernel family " + family + ": variant " + k.variant + " has no Halide metadata");
  return *m;
}

}  // namespace

KernelFamily::KernelFamily(std::string name, std::vector<const CompiledKernel*> variants)
    : name_(std::move(name)), variants_(std::move(variants)) {
  if (variants_.empty()) throw KernelError("kernel family " + name_ + " has no variants");
  // Every variant takes the first one's arguments.
  const halide_filter_metadata_t& first = metadata_of(name_, *variants_[0]);
  for (size_t v = 1; v < variants_.size(); ++v) {
    const halide_filter_metadata_t& m = metadata_of(name_, *variants_[v]);
    const std::string which = "kernel family " + name_ + ": variant " + variants_[v]->variant + " ";
    if (m.num_arguments != first.num_arguments)
      throw KernelError(which + "takes " + std::to_string(m.num_arguments) + " arguments, variant " +
                        variants_[0]->variant + " " + std::to_string(first.num_arguments));
    for (int i = 0; i < m.num_arguments; ++i)
      if (!same_argument(m.arguments[i], first.arguments[i]))
        throw KernelError(which + "has argument " + std::to_string(i) + " " + describe(m.arguments[i]) +
                          ", variant " + variants_[0]->variant + " " + describe(first.arguments[i]));
  }
}

void KernelFamily::check_signature(const std::vector<KernelParam>& params) const {
  const halide_filter_metadata_t& m = metadata_of(name_, *variants_[0]);
  const std::string which = "kernel family " + name_ + ": called with the wrong signature: ";
  if (static_cast<size_t>(m.num_arguments) != params.size())
    throw KernelError(which + std::to_string(params.size()) + " parameters, the kernels take " +
                      std::to_string(m.num_arguments));
  for (size_t i = 0; i < params.size(); ++i) {
    const halide_filter_argument_t& a = m.arguments[i];
    const KernelParam& p = params[i];
    if (p.buffer != is_buffer(a) || (!p.buffer && (p.code != a.type.code || p.bits != a.type.bits)))
      throw KernelError(which + "parameter " + std::to_string(i) + " is " +
                        (p.buffer ? std::string("a buffer") : type_name(p.code, p.bits)) +
                        ", the kernels take " + describe(a));
  }
}

void KernelFamily::select(size_t i) {
  if (i >= variants_.size())
    throw std::out_of_range("kernel family " + name_ + " has " + std::to_string(variants_.size()) +
                            " variants, not " + std::to_string(i + 1));
  selected_.store(i, std::memory_order_relaxed);
}

bool KernelFamily::select(const std::string& variant_name) {
  for (size_t i = 0; i < variants_.size(); ++i)
    if (variant_name == variants_[i]->variant) {
      select(i);
      return true;
    }
  return false;
}

namespace {

std::map<std::string, std::unique_ptr<KernelFamily>>& families() {
  static std::map<std::string, std::unique_ptr<KernelFamily>> m = [] {
    std::map<std::string, std::vector<const CompiledKernel*>> grouped;
    for (const auto& k : compiled_kernels()) grouped[k.family].push_back(&k);
    std::map<std::string, std::unique_ptr<KernelFamily>> r;
    for (auto& [name, variants] : grouped) r[name] = std::make_unique<KernelFamily>(name, std::move(variants));
    return r;
  }();
  return m;
}

}  // namespace

KernelFamily& kernel_family(const std::string& name) {
  auto it = families().find(name);
  if (it == families().end()) {
    std::string known;
    for (const auto& kv : families()) known += (known.empty() ? "" : ", ") + kv.first;
    throw std::out_of_range("no kernel family '" + name + "' (known: " + known + ")");
  }
  return *it->second;
}

std::vector<KernelFamily*> kernel_families() {
  std::vector<KernelFamily*> r;
  for (auto& kv : families()) r.push_back(kv.second.get());
  return r;
}

KernelSelection current_selection() {
  KernelSelection s;
  for (auto* f : kernel_families()) s[f->name()] = f->variant(f->selected()).variant;
  return s;
}

std::string cpu_key() {
  std::string model = "unknown CPU";
  {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("model name", 0) == 0) {
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          model = line.substr(colon + 1);
          model.erase(0, model.find_first_not_of(" \t"));
        }
        break;
      }
    }
  }
  // The features the kernels are compiled for (Halide's x86 target features).
  struct Feature {
    const char* name;
    unsigned leaf, subleaf, reg, bit;  // reg: 1 ebx, 2 ecx, 3 edx
  };
  static const Feature kFeatures[] = {
      {"sse41", 1, 0, 2, 19},     {"avx", 1, 0, 2, 28},       {"f16c", 1, 0, 2, 29},
      {"fma", 1, 0, 2, 12},       {"avx2", 7, 0, 1, 5},       {"avx512f", 7, 0, 1, 16},
      {"avx512dq", 7, 0, 1, 17},  {"avx512cd", 7, 0, 1, 28},  {"avx512bw", 7, 0, 1, 30},
      {"avx512vl", 7, 0, 1, 31},  {"avx512vnni", 7, 0, 2, 11}, {"avx512vbmi", 7, 0, 2, 1},
  };
  std::string features;
  for (const auto& f : kFeatures) {
    unsigned r[4] = {0, 0, 0, 0};
    if (!__get_cpuid_count(f.leaf, f.subleaf, &r[0], &r[1], &r[2], &r[3])) continue;
    if (!(r[f.reg] & (1u << f.bit))) continue;
    if (!features.empty()) features += ' ';
    features += f.name;
  }
  return model + " | " + features;
}

std::string default_tuning_path() {
  if (const char* p = std::getenv("PIXELFLOW_TUNING_FILE"); p && *p) return p;
  std::filesystem::path base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    base = x;
  else if (const char* h = std::getenv("HOME"); h && *h)
    base = std::filesystem::path(h) / ".cache";
  else
    base = std::filesystem::temp_directory_path();
  return (base / "pixelflow" / "tuning.json").string();
}

namespace {

nlohmann::json read_tuning_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return nlohmann::json::object();
  const std::string text = read_regular_file(path, kMaxConfigFileBytes, "a tuning file", FileRole::kConfig);
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object() || (j.contains("hosts") && !j["hosts"].is_object()))
      throw ConfigError(path, "not a pixelflow tuning file (expected {\"hosts\": {...}})");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(path, std::string("malformed tuning file: ") + e.what());
  }
}

}  // namespace

namespace {
std::once_flag tuning_once;
bool load_tuning_file(const std::string& path);
}  // namespace

void ensure_tuning_loaded() {
  std::call_once(tuning_once, [] {
    const char* env = std::getenv("PIXELFLOW_TUNING_FILE");
    if (env && std::string(env) == "none") return;
    try {
      load_tuning_file(default_tuning_path());
    } catch (const std::exception&) {
      // A bad tuning file only costs speed; the defaults stay.
    }
  });
}

void use_default_kernels() {
  std::call_once(tuning_once, [] {});
  for (auto* f : kernel_families()) f->select(size_t{0});
}

bool load_tuning(const std::string& path_in) {
  std::call_once(tuning_once, [] {});  // an explicit choice wins over the automatic one
  return load_tuning_file(path_in.empty() ? default_tuning_path() : path_in);
}

namespace {

bool load_tuning_file(const std::string& path) {
  nlohmann::json j = read_tuning_file(path);
  const std::string key = cpu_key();
  if (!j.contains("hosts") || !j["hosts"].contains(key)) return false;
  const auto& kernels = j["hosts"][key].value("kernels", nlohmann::json::object());
  if (!kernels.is_object()) throw ConfigError(path, "hosts[\"" + key + "\"].kernels must be an object");
  for (const auto& [family, variant] : kernels.items()) {
    auto it = families().find(family);
    if (it != families().end() && variant.is_string()) it->second->select(variant.get<std::string>());
  }
  return true;
}

}  // namespace

void save_tuning(const std::string& path, const KernelSelection& selection, const std::string& details_json) {
  nlohmann::json j = read_tuning_file(path);
  j["version"] = 1;
  nlohmann::json entry;
  entry["kernels"] = selection;
  entry["details"] = details_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(details_json);
  j["hosts"][cpu_key()] = entry;
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  atomic_write_file(path, j.dump(2) + "\n");  // a temporary renamed over the file
}

}  // namespace pixelflow
