// resize: the kernel families of the two resampling passes.
//
// Each pass (resize_horizontal, resize_vertical in halide_generators/resize) is a kernel family
// (graph/kernels.h): built several times with different schedule knobs (GeneratorParams, listed
// in kernels.cmake), every build a library named <generator>_<variant> holding the project's CPU
// targets (plus the AVX-512 VBMI level, and VNNI for dot_product=true builds; see kernels.cmake)
// with runtime dispatch. All variants of a pass take the same arguments and compute the same
// bytes; they differ only in speed, which depends on the CPU. The host calls whichever variant
// the family has selected (default: the first, measured fastest on the project's reference
// machine; `pixelflow tune` and tuning files choose per CPU) through a TypedKernelFamily typed
// from the generated entry points (resize_passes.cpp).
#pragma once

namespace pixelflow::ops::resize_kernels {

// The families' names (graph/kernels.h's kernel_family), the generators' names.
inline constexpr const char* kHorizontal = "resize_horizontal";
inline constexpr const char* kVertical = "resize_vertical";

// Whether the kernels may use their byte-digit dot-product formulation (on CPUs with
// AVX512-VNNI, in variants built with dot_product=true). On by default; off runs the int32
// formulation everywhere (same bytes). For tuning and for tests of the fallback path.
void set_dot_product_allowed(bool allowed);
bool dot_product_allowed();

}  // namespace pixelflow::ops::resize_kernels
