// The resize kernel families, typed (see resize_kernels.h); the variants come from the
// project-wide registry of compiled kernels (graph/kernels.h).
#include "ops/resize/resize_kernels.h"

#include <atomic>
#include <stdexcept>

#include "graph/kernels.h"

namespace pixelflow::ops::resize_kernels {

namespace {

std::atomic<bool> g_dot_product{true};

KernelFamily& family(Family f) { return kernel_family(family_name(f)); }

template <class Fn>
std::vector<KernelVariant<Fn>> variants_of(Family f) {
  std::vector<KernelVariant<Fn>> list;
  KernelFamily& k = family(f);
  for (size_t i = 0; i < k.size(); ++i)
    list.push_back({k.variant(i).variant, k.variant(i).knobs, reinterpret_cast<Fn>(k.variant(i).fn)});
  return list;
}

}  // namespace

const char* family_name(Family f) {
  return f == Family::kHorizontal ? "resize_horizontal" : "resize_vertical";
}

const std::vector<KernelVariant<HorizontalFn>>& resize_horizontal_variants() {
  static const std::vector<KernelVariant<HorizontalFn>> list = variants_of<HorizontalFn>(Family::kHorizontal);
  return list;
}

const std::vector<KernelVariant<VerticalFn>>& resize_vertical_variants() {
  static const std::vector<KernelVariant<VerticalFn>> list = variants_of<VerticalFn>(Family::kVertical);
  return list;
}

size_t variant_count(Family f) { return family(f).size(); }

const char* variant_name(Family f, size_t index) {
  if (index >= variant_count(f)) throw std::out_of_range(std::string(family_name(f)) + ": no variant " + std::to_string(index));
  return family(f).variant(index).variant;
}

const char* variant_params(Family f, size_t index) {
  if (index >= variant_count(f)) throw std::out_of_range(std::string(family_name(f)) + ": no variant " + std::to_string(index));
  return family(f).variant(index).knobs;
}

size_t selected_variant(Family f) { return family(f).selected(); }

void select_variant(Family f, size_t index) { family(f).select(index); }

bool select_variant(Family f, const std::string& name) { return family(f).select(name); }

HorizontalFn horizontal_kernel() {
  static KernelFamily& f = family(Family::kHorizontal);
  return f.get<HorizontalFn>();
}

VerticalFn vertical_kernel() {
  static KernelFamily& f = family(Family::kVertical);
  return f.get<VerticalFn>();
}

void set_dot_product_allowed(bool allowed) {
  g_dot_product.store(allowed, std::memory_order_relaxed);
}

bool dot_product_allowed() { return g_dot_product.load(std::memory_order_relaxed); }

}  // namespace pixelflow::ops::resize_kernels
