// bench_post_process: semantic-segmentation post-processing (W4 of shared/PEERS.md), logits
// (1, 150, 128, 128) random normal -> bilinear 512x512 (PyTorch's arithmetic) -> argmax, in
// calls per second at 1 and 2 threads, plus the memory each implementation needs.
//
// Implementations (all give the same int64 map; checked before timing):
//   fused        post_process_semantic_segmentation with a BufferPool (the output map's pages are
//                recycled between calls, as in a data loader that drops each result).
//   fused_fresh  the same without a pool: every call writes a newly allocated 2 MB map.
//   reference    the scalar oracle (segmentation_map_reference): one output pixel at a time,
//                all classes, no scratch.
//   naive        "materialize then argmax": the whole (150, 512, 512) float32 upsampled logits
//                (PyTorch's generic-kernel arithmetic, plain C++ loops, buffer reused), then an
//                argmax pass: what interpolate() + argmax() does.
//   argmax_only  no target size: argmax at 128x128 (HF's target_sizes=None).
// Memory: peak bytes allocated through operator new during one call beyond input and output
// (counted by this program's operator new/delete), and the peak RSS growth of a child process
// that runs only that implementation.
//
//   fused_knobs  (with --tile/--source-rows/--band-rows) segmentation_map with those work-split
//                knobs into a reused map.
//
// Usage: pixelflow_bench_post_process [--seconds S] [--repeats R] [--classes C] [--in N]
//        [--out M] [--only NAME] [--tile N] [--source-rows N] [--band-rows N]
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ops/post_process_semantic_segmentation/post_process_semantic_segmentation.h"

// ---- allocation counting (whole program) ----
namespace {
std::atomic<int64_t> g_live{0}, g_peak{0};
void note_alloc(void* p) {
  if (!p) return;
  const int64_t now = g_live.fetch_add(static_cast<int64_t>(malloc_usable_size(p))) +
                      static_cast<int64_t>(malloc_usable_size(p));
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}
void note_free(void* p) {
  if (p) g_live.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)));
}
}  // namespace

void* operator new(size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  note_alloc(p);
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept {
  note_free(p);
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

namespace pixelflow::bench {
namespace {

using ops::TargetSize;
using Clock = std::chrono::steady_clock;

struct Args {
  double seconds = 1.0;
  int repeats = 5;
  int64_t classes = 150, in = 128, out = 512;
  std::string only;  // run just this implementation (profiling)
  // Work-split knobs of the fused path (SegmentationMapOptions), for an extra "fused_knobs" run.
  ops::SegmentationMapOptions knobs;
  bool use_knobs = false;
};

// PyTorch's generic kernel into a full (C, H, W) float32 buffer, then argmax over classes.
void naive_materialize(const Tensor& logits, int64_t H, int64_t W, std::vector<float>& up,
                       Tensor& out) {
  const int64_t C = logits.dim(0), h = logits.dim(1), w = logits.dim(2);
  const auto ya = ops::pytorch_linear_axis<float>(h, H), xa = ops::pytorch_linear_axis<float>(w, W);
  up.resize(static_cast<size_t>(C * H * W));
  const float* in = logits.data<float>();
  for (int64_t c = 0; c < C; ++c) {
    const float* p = in + c * h * w;
    float* q = up.data() + c * H * W;
    for (int64_t y = 0; y < H; ++y) {
      const float* r0 = p + ya.index0[size_t(y)] * w;
      const float* r1 = p + ya.index1[size_t(y)] * w;
      const float wy0 = ya.lambda0[size_t(y)], wy1 = ya.lambda1[size_t(y)];
      for (int64_t x = 0; x < W; ++x) {
        const size_t sx = size_t(x);
        const float t0 = r0[xa.index0[sx]] * xa.lambda0[sx] + r0[xa.index1[sx]] * xa.lambda1[sx];
        const float t1 = r1[xa.index0[sx]] * xa.lambda0[sx] + r1[xa.index1[sx]] * xa.lambda1[sx];
        q[y * W + x] = t0 * wy0 + t1 * wy1;
      }
    }
  }
  int64_t* dst = out.data<int64_t>();
  const int64_t plane = H * W;
  std::vector<float> best(up.begin(), up.begin() + plane);
  std::fill(dst, dst + plane, 0);
  for (int64_t c = 1; c < C; ++c) {
    const float* q = up.data() + c * plane;
    for (int64_t i = 0; i < plane; ++i) {
      const float m = best[size_t(i)], v = q[i];
      if (!std::isnan(m) && (std::isnan(v) || v > m)) best[size_t(i)] = v, dst[i] = c;
    }
  }
}

struct Impl {
  std::string name;
  std::function<void()> call;
  bool slow = false;  // measured for a single repeat
};

double calls_per_second(const std::function<void()>& f, double seconds) {
  f();  // warm-up
  int64_t n = 0;
  const auto t0 = Clock::now();
  double el = 0;
  do {
    f();
    ++n;
    el = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (el < seconds);
  return static_cast<double>(n) / el;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

long max_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

int run(const Args& a) {
  std::mt19937 rng(1245);
  std::normal_distribution<float> normal;
  Tensor logits = Tensor::empty(DType::kFloat32, {1, a.classes, a.in, a.in});
  for (int64_t i = 0; i < logits.numel(); ++i) logits.data<float>()[i] = normal(rng);
  const std::vector<TargetSize> sizes = {{a.out, a.out}};
  const Tensor item = logits[0];
  std::printf("logits (1, %ld, %ld, %ld) -> (%ld, %ld) -> argmax; %u hardware threads\n",
              long(a.classes), long(a.in), long(a.in), long(a.out), long(a.out),
              std::thread::hardware_concurrency());

  BufferPool pool;
  std::vector<float> up;
  Tensor naive_out = Tensor::empty(DType::kInt64, {a.out, a.out});
  Tensor ref_out = Tensor::empty(DType::kInt64, {a.out, a.out});
  std::vector<Impl> impls = {
      {"fused", [&] { auto r = ops::post_process_semantic_segmentation(logits, sizes, &pool); }},
      {"fused_fresh", [&] { auto r = ops::post_process_semantic_segmentation(logits, sizes); }},
      {"naive", [&] { naive_materialize(item, a.out, a.out, up, naive_out); }, true},
      {"reference",
       [&] { ops::segmentation_map_reference(item, TargetSize{a.out, a.out}, ref_out); }, true},
      {"argmax_only", [&] { auto r = ops::post_process_semantic_segmentation(logits, {}, &pool); }},
  };

  Tensor knob_out = Tensor::empty(DType::kInt64, {a.out, a.out});
  if (a.use_knobs)
    impls.push_back({"fused_knobs",
                     [&] { ops::segmentation_map(item, TargetSize{a.out, a.out}, knob_out, a.knobs); }});
  if (!a.only.empty()) {
    impls.erase(std::remove_if(impls.begin(), impls.end(),
                               [&](const Impl& im) { return im.name != a.only; }),
                impls.end());
    if (impls.empty()) {
      std::fprintf(stderr, "unknown implementation %s\n", a.only.c_str());
      return 2;
    }
  }

  // Memory, first (no TBB threads exist yet, so fork is safe): each implementation alone in a
  // child process, one call on one thread; peak RSS growth over the child's start (includes the
  // output map when the call allocates it), and the peak of operator-new bytes (scratch, tables,
  // materialized logits; tensor storage is aligned_alloc'ed and not included).
  std::printf("\nmemory of one call (input %.1f MB, output map %.1f MB):\n", logits.nbytes() / 1e6,
              a.out * a.out * 8 / 1e6);
  for (auto& im : impls) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      tbb::task_arena arena(1);
      const long rss0 = max_rss_kb();
      const int64_t live0 = g_live.load();
      g_peak = live0;
      arena.execute([&] { im.call(); });
      std::printf("  %-12s operator new peak: %8.2f MB   peak RSS growth: %8.2f MB\n",
                  im.name.c_str(), (g_peak.load() - live0) / 1e6, (max_rss_kb() - rss0) / 1e3);
      std::fflush(stdout);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
  }

  // Same answers.
  {
    auto fused = ops::post_process_semantic_segmentation(logits, sizes, &pool);
    ops::segmentation_map_reference(item, TargetSize{a.out, a.out}, ref_out);
    naive_materialize(item, a.out, a.out, up, naive_out);
    if (std::memcmp(fused[0].raw_data(), ref_out.raw_data(), ref_out.nbytes()) != 0 ||
        std::memcmp(naive_out.raw_data(), ref_out.raw_data(), ref_out.nbytes()) != 0) {
      std::fprintf(stderr, "MISMATCH between implementations\n");
      return 1;
    }
  }

  std::printf("\ncalls/s (median of %d interleaved repeats of >= %.1f s; slow ones: 1 repeat)\n",
              a.repeats, a.seconds);
  for (int threads : {1, 2}) {
    tbb::task_arena arena(threads);
    std::vector<std::vector<double>> rates(impls.size());
    for (int rep = 0; rep < a.repeats; ++rep)
      for (size_t i = 0; i < impls.size(); ++i) {
        if (impls[i].slow && rep > 0) continue;
        arena.execute([&] { rates[i].push_back(calls_per_second(impls[i].call, a.seconds)); });
      }
    std::printf("  threads=%d\n", threads);
    for (size_t i = 0; i < impls.size(); ++i) {
      std::string all;
      for (double r : rates[i]) {
        all += ' ';  // (not " " + ...: GCC 12 warns, wrongly, -Wrestrict on that inlined insert)
        all += std::to_string(r).substr(0, 6);
      }
      std::printf("    %-12s %9.2f calls/s  %8.2f ms/call   [%s ]\n", impls[i].name.c_str(),
                  median(rates[i]), 1e3 / median(rates[i]), all.c_str());
    }
  }
  return 0;
}

}  // namespace
}  // namespace pixelflow::bench

int main(int argc, char** argv) {
  pixelflow::bench::Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--seconds") a.seconds = std::atof(v);
    else if (k == "--repeats") a.repeats = std::atoi(v);
    else if (k == "--classes") a.classes = std::atoll(v);
    else if (k == "--in") a.in = std::atoll(v);
    else if (k == "--out") a.out = std::atoll(v);
    else if (k == "--only") a.only = v;
    else if (k == "--tile") a.knobs.tile_width = std::atoi(v), a.use_knobs = true;
    else if (k == "--source-rows") a.knobs.max_source_rows = std::atoi(v), a.use_knobs = true;
    else if (k == "--band-rows") a.knobs.max_band_rows = std::atoi(v), a.use_knobs = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  return pixelflow::bench::run(a);
}
