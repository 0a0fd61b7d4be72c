#include "graph/halide_runtime.h"

#include <HalideRuntime.h>
#include <tbb/parallel_for.h>

#include <atomic>
#include <mutex>

namespace pixelflow {

namespace {

thread_local std::string last_error;
std::atomic<uint64_t> par_for_calls{0};

void error_handler(void*, const char* msg) { last_error = msg ? msg : ""; }

int tbb_do_par_for(void* user_context, halide_task_t task, int min, int size, uint8_t* closure) {
  par_for_calls.fetch_add(1, std::memory_order_relaxed);
  std::atomic<int> result{0};
  tbb::parallel_for(min, min + size, [&](int i) {
    int r = task(user_context, i, closure);
    if (r != 0) result.store(r);
  });
  return result.load();
}

}  // namespace

void install_halide_runtime_hooks() {
  static std::once_flag once;
  std::call_once(once, [] {
    halide_set_error_handler(error_handler);
    halide_set_custom_do_par_for(tbb_do_par_for);
  });
}

// Installed before main() in every program that runs kernels, so that no kernel ever reports
// through Halide's default handler (which aborts).
const bool hooks_installed = (install_halide_runtime_hooks(), true);

uint64_t halide_parallel_loops_on_tbb() { return par_for_calls.load(); }

std::string take_halide_error() {
  std::string m = std::move(last_error);
  last_error.clear();
  return m;
}

}  // namespace pixelflow
