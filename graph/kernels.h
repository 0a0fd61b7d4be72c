// Kernel families and per-CPU tuning.
//
// A kernel family is one Halide generator compiled with several sets of schedule knobs
// (GeneratorParams): its variants have the same signature and compute the same bits, and differ
// only in speed, which depends on the CPU. Every variant is itself built for several CPU targets
// with runtime dispatch (baseline x86-64, SSE4.1, AVX2, AVX-512). Which variant of each family
// runs is a process-wide choice: the default is the first variant (the one measured best on the
// project's reference machine); `pixelflow tune` measures them on the host and writes a tuning
// file that later runs load (see load_tuning()).
//
// Types: the build registers entry points untyped (with each one's Halide metadata); ops reach
// them through a TypedKernelFamily<decltype(&<generated function>)>, whose constructor checks
// that type against the metadata, and every family checks when it is built that its variants'
// argument lists are identical. A mismatch is a KernelError naming the family and argument.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

// HalideRuntime.h (not a header of pixelflow's public interface).
struct halide_buffer_t;
struct halide_filter_metadata_t;

namespace pixelflow {

// One compiled variant, as the build registers it (generated kernel_variants.cpp).
struct CompiledKernel {
  const char* family;
  const char* variant;
  const char* knobs;  // the GeneratorParams it was built with, e.g. "vector_width=32"
  void (*fn)();       // entry point, cast back to its type by TypedKernelFamily
  const halide_filter_metadata_t* (*metadata)();  // Halide's description of its arguments
};
const std::vector<CompiledKernel>& compiled_kernels();

// One C++ parameter of a Halide entry point: a buffer (halide_buffer_t*) or a scalar of the
// Halide type (code, bits), code as halide_type_code_t numbers it (0 int, 1 uint, 2 float,
// 3 handle); bool is uint1.
struct KernelParam {
  bool buffer = false;
  int code = 0, bits = 0;
};

template <class T>
constexpr KernelParam kernel_param() {
  if constexpr (std::is_same_v<T, halide_buffer_t*>)
    return {true, 0, 0};
  else if constexpr (std::is_same_v<T, bool>)
    return {false, 1, 1};
  else if constexpr (std::is_floating_point_v<T>)
    return {false, 2, static_cast<int>(8 * sizeof(T))};
  else if constexpr (std::is_integral_v<T>)
    return {false, std::is_signed_v<T> ? 0 : 1, static_cast<int>(8 * sizeof(T))};
  else
    return {false, 3, 64};  // other pointers: handles
}

template <class Fn>
class TypedKernelFamily;

// Interchangeable variants of one kernel. The constructor checks, against Halide's metadata of
// every variant, that all of them take the same arguments (names, kinds, types, dimensions):
// a KernelError names the family and the first difference. Callers reach the entry points
// through a TypedKernelFamily only.
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
  // Throws KernelError unless the variants' C signature is `params`, in order (what a C++
  // function pointer type can say of Halide's arguments: buffer or scalar, and scalar types).
  void check_signature(const std::vector<KernelParam>& params) const;

 private:
  template <class Fn>
  friend class TypedKernelFamily;
  // The selected variant's entry point, as registered (untyped).
  void (*entry() const)() {
    calls_.fetch_add(1, std::memory_order_relaxed);
    return variants_[selected()]->fn;
  }

  std::string name_;
  std::vector<const CompiledKernel*> variants_;
  std::atomic<size_t> selected_{0};
  mutable std::atomic<uint64_t> calls_{0};
};

// The family of that name; throws std::out_of_range listing the known families.
KernelFamily& kernel_family(const std::string& name);

// A kernel family with the type of its entry points, taken from a generated function:
//   static const TypedKernelFamily<decltype(&resize_vertical_default)> f("resize_vertical");
//   check_kernel(f.get()(...), "resize_vertical");
// The constructor checks the type against the family's Halide metadata (KernelError on a
// mismatch), so the cast in get() is the entry points' own type.
template <class... Args>
class TypedKernelFamily<int (*)(Args...)> {
 public:
  using Fn = int (*)(Args...);

  explicit TypedKernelFamily(const std::string& name) : family_(kernel_family(name)) {
    family_.check_signature({kernel_param<Args>()...});
  }
  KernelFamily& family() const { return family_; }
  // The selected variant's entry point.
  Fn get() const { return reinterpret_cast<Fn>(family_.entry()); }

 private:
  KernelFamily& family_;
};

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
