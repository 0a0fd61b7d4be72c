// The variant lists of the resize kernels, from the build's list (resize_variants.h, written by
// halide_generators/resize/kernels.cmake next to the generated kernel headers).
#include "ops/resize/resize_kernels.h"

#include <atomic>
#include <stdexcept>

// Generated: the variants' headers and two X-macro lists,
// PIXELFLOW_RESIZE_HORIZONTAL_VARIANTS(X) and PIXELFLOW_RESIZE_VERTICAL_VARIANTS(X), whose entries
// are X(name, "params").
#include "resize_variants.h"

namespace pixelflow::ops::resize_kernels {

namespace {

std::atomic<size_t> g_selected[kFamilyCount] = {0, 0};
std::atomic<bool> g_dot_product{true};

}  // namespace

const char* family_name(Family f) {
  return f == Family::kHorizontal ? "resize_horizontal" : "resize_vertical";
}

const std::vector<KernelVariant<HorizontalFn>>& resize_horizontal_variants() {
#define PIXELFLOW_ENTRY(name, params) {#name, params, &resize_horizontal__##name},
  static const std::vector<KernelVariant<HorizontalFn>> list = {
      PIXELFLOW_RESIZE_HORIZONTAL_VARIANTS(PIXELFLOW_ENTRY)};
#undef PIXELFLOW_ENTRY
  return list;
}

const std::vector<KernelVariant<VerticalFn>>& resize_vertical_variants() {
#define PIXELFLOW_ENTRY(name, params) {#name, params, &resize_vertical__##name},
  static const std::vector<KernelVariant<VerticalFn>> list = {
      PIXELFLOW_RESIZE_VERTICAL_VARIANTS(PIXELFLOW_ENTRY)};
#undef PIXELFLOW_ENTRY
  return list;
}

size_t variant_count(Family f) {
  return f == Family::kHorizontal ? resize_horizontal_variants().size()
                                  : resize_vertical_variants().size();
}

const char* variant_name(Family f, size_t index) {
  return f == Family::kHorizontal ? resize_horizontal_variants().at(index).name
                                  : resize_vertical_variants().at(index).name;
}

const char* variant_params(Family f, size_t index) {
  return f == Family::kHorizontal ? resize_horizontal_variants().at(index).params
                                  : resize_vertical_variants().at(index).params;
}

size_t selected_variant(Family f) {
  return g_selected[static_cast<int>(f)].load(std::memory_order_relaxed);
}

void select_variant(Family f, size_t index) {
  if (index >= variant_count(f))
    throw std::out_of_range(std::string(family_name(f)) + ": no variant " +
                            std::to_string(index) + " (" + std::to_string(variant_count(f)) +
                            " compiled)");
  g_selected[static_cast<int>(f)].store(index, std::memory_order_relaxed);
}

bool select_variant(Family f, const std::string& name) {
  for (size_t i = 0; i < variant_count(f); ++i)
    if (name == variant_name(f, i)) {
      select_variant(f, i);
      return true;
    }
  return false;
}

HorizontalFn horizontal_kernel() {
  return resize_horizontal_variants()[selected_variant(Family::kHorizontal)].fn;
}

VerticalFn vertical_kernel() {
  return resize_vertical_variants()[selected_variant(Family::kVertical)].fn;
}

void set_dot_product_allowed(bool allowed) {
  g_dot_product.store(allowed, std::memory_order_relaxed);
}

bool dot_product_allowed() { return g_dot_product.load(std::memory_order_relaxed); }

}  // namespace pixelflow::ops::resize_kernels
