// Per-kernel timings on one image of the benchmark's geometry (640x480 RGB -> CLIP 224): each
// Halide kernel alone, against its scalar reference, with reused buffers. The tool for schedule
// work; `pixelflow bench` measures whole pipelines.
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "graph/halide_runtime.h"
#include "ops/center_crop/center_crop.h"
#include "ops/pointwise/pointwise.h"
#include "ops/remap/remap.h"
#include "ops/resize/resize.h"
#include "ops/common/halide_util.h"
#include "graph/kernels.h"
#include "rescale_normalize_uint8_default.h"
#include "rescale_normalize_uint8_mullapudi2016.h"

using namespace pixelflow;
using namespace pixelflow::ops;

namespace {

double time_us(const std::function<void()>& f, double seconds = 0.3) {
  f();  // warm up
  double best = 1e30;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, us);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  install_halide_runtime_hooks();
  const std::string only = argc > 1 ? argv[1] : "";
  std::mt19937 rng(1);
  Tensor src = Tensor::empty(DType::kUInt8, {480, 640, 3});
  for (int64_t i = 0; i < src.numel(); ++i) src.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  Tensor resized = Tensor::empty(DType::kUInt8, {224, 224, 3});
  Tensor out = Tensor::empty(DType::kFloat32, {3, 224, 224});
  std::vector<PointwiseStep> clip{PointwiseStep::rescale(1 / 255.0),
                                  PointwiseStep::normalize({0.48145466, 0.4578275, 0.40821073},
                                                           {0.26862954, 0.26130258, 0.27577711})};
  Rect crop{37, 0, 224, 224};
  Rect all{0, 0, 224, 224};
  struct Case {
    const char* name;
    std::function<void()> run;
  };
  // CLIP's rescale + normalize to CHW float32 with one compiled schedule of the kernel.
  auto rescale_normalize = [&](auto kernel) {
    auto src_b = hwc_buffer<uint8_t>(resized);
    auto dst_b = xyc_buffer<float>(out, true);
    float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, sd[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    int32_t map[3] = {0, 1, 2};
    Halide::Runtime::Buffer<float> mb(mean, 3), sb(sd, 3);
    Halide::Runtime::Buffer<int32_t> cm(map, 3);
    check_kernel(kernel(src_b, true, 1 / 255.0, 0.f, true, mb, sb, cm, dst_b), "rn");
  };
  std::vector<Case> cases = {
      {"resize bicubic 640x480->298x224 crop 224", [&] { resize_u8(src, 224, 298, Resample::kBicubic, crop, resized); }},
      {"resize bilinear 640x480->224x224", [&] { resize_u8(src, 224, 224, Resample::kBilinear, Rect::full(224, 224), resized); }},
      {"pointwise_fused clip 224x224 -> CHW f32", [&] { pointwise_fused(resized, all, clip, false, true, out); }},
      {"rescale_normalize_uint8 clip 224x224 -> CHW f32", [&] { rescale_normalize(rescale_normalize_uint8_default); }},
      {"rescale_normalize_uint8 Mullapudi2016 autoschedule",
       [&] { rescale_normalize(rescale_normalize_uint8_mullapudi2016); }},
      {"pointwise reference clip 224x224", [&] { pointwise_fused_reference(resized, all, clip, false, true, out); }},
      {"remap u8 224x224 HWC -> CHW", [&] {
         Tensor o = Tensor::empty(DType::kUInt8, {3, 224, 224});
         remap_hwc(resized, all, false, true, o);
       }},
  };
  for (const auto& c : cases) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    std::printf("%-45s %9.1f us\n", c.name, time_us(c.run));
  }

  // Every compiled variant of the families these workloads use (default first; autoscheduled
  // variants are named after their autoscheduler).
  struct FamilyCase {
    const char* family;
    const char* workload;
    std::function<void()> run;
  };
  std::vector<FamilyCase> families = {
      {"resize_horizontal", "CLIP resize", cases[0].run},
      {"resize_vertical", "CLIP resize", cases[0].run},
      {"resize_horizontal", "ViT resize", cases[1].run},
      {"resize_vertical", "ViT resize", cases[1].run},
      {"rescale_normalize_uint8", "CLIP rescale+normalize", cases[2].run},
  };
  std::printf("\nvariants (best of repeated runs):\n");
  for (const auto& fc : families) {
    if (!only.empty() && std::string(fc.family).find(only) == std::string::npos) continue;
    KernelFamily& f = kernel_family(fc.family);
    const size_t saved = f.selected();
    for (size_t v = 0; v < f.size(); ++v) {
      f.select(v);
      std::printf("  %-24s %-22s %-15s %-38s %9.1f us\n", fc.family, fc.workload, f.variant(v).variant,
                  f.variant(v).knobs, time_us(fc.run));
    }
    f.select(saved);
  }
  return 0;
}
