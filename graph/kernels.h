// Kernel families and per-CPU tuning.
//
// A kernel family is one Halide generator compiled with several sets of schedule knobs
// (GeneratorParams): its variants have the same signature and compute the same bits, and differ
// only in speed, which depends on the CPU. Every variant is itself built for several CPU targets
// with runtime dispatch (baseline x86-64, SSE4.1, AVX2, AVX-512). Which variant of each family
// runs is a process-wide choice: the default is the first variant (the one measured best on the
// project's reference machine); `pixelflow tune` measures them on the host and writes a tuning
// file that later runs load (see load_tuning()).
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <vector>

namespace pixelflow {

// One compiled variant, as the build registers it (generated kernel_variants.cpp).
struct CompiledKernel {
  const char* family;
  const char* variant;
  const char* knobs;  // the GeneratorParams it was built with, e.g. "vector_width=32"
  void (*fn)();       // entry point, to be cast to the family's signature
};
const std::vector<CompiledKernel>& compiled_kernels();

class KernelFamily {
 public:
  KernelFamily(std::string name, std::vector<const CompiledKernel*> variants);

  const std::string& name() const { return name_; }
  size_t size() const { return variants_.size(); }
  const CompiledKernel& variant(size_t i) const { return *variants_.at(i); }
  size_t selected() const { return selected_.load(std::memory_order_relaxed); }
  void select(size_t i);
  // Selects by variant name; false when there is none of that name.
  bool select(const std::string& variant_name);
  // Calls made through this family since start (to see which kernels a pipeline uses).
  uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }

  // The selected variant's entry point. `Fn` is the family's function pointer type.
  template <class Fn>
  Fn get() const {
    calls_.fetch_add(1, std::memory_order_relaxed);
    return reinterpret_cast<Fn>(variants_[selected()]->fn);
  }

 private:
  std::string name_;
  std::vector<const CompiledKernel*> variants_;
  std::atomic<size_t> selected_{0};
  mutable std::atomic<uint64_t> calls_{0};
};

// The family of that name; throws std::out_of_range listing the known families.
KernelFamily& kernel_family(const std::string& name);
// All families, sorted by name.
std::vector<KernelFamily*> kernel_families();

// The identity of this CPU for tuning files: model name and the instruction-set features the
// kernels are compiled for, e.g. "AMD EPYC | sse41 avx2 fma avx512f avx512bw ...".
std::string cpu_key();

// Selections of one CPU: family -> variant name.
using KernelSelection = std::map<std::string, std::string>;

// Where the tuning file lives: $PIXELFLOW_TUNING_FILE, else $XDG_CACHE_HOME/pixelflow/tuning.json,
// else ~/.cache/pixelflow/tuning.json.
std::string default_tuning_path();
// Applies the selections recorded for this CPU in `path` (default_tuning_path() when empty).
// A missing file, or a file without this CPU, leaves the defaults and returns false; a malformed
// file throws ConfigError naming it. Unknown families or variants are ignored (the file may come
// from another build).
bool load_tuning(const std::string& path = "");
// Records `selection` (and free-form `details`) for this CPU in `path`, keeping other CPUs'
// entries.
void save_tuning(const std::string& path, const KernelSelection& selection, const std::string& details_json);
// The current selection of every family.
KernelSelection current_selection();

// Loads the default tuning file once per process, for library users (the CLI calls
// load_tuning() itself). Lenient: a malformed file is ignored (it only affects speed), and
// PIXELFLOW_TUNING_FILE=none disables it. Any explicit load_tuning() call disables it too.
void ensure_tuning_loaded();
// Selects every family's default variant (and keeps ensure_tuning_loaded() from loading a file).
void use_default_kernels();

}  // namespace pixelflow
