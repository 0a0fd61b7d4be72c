// Process-wide hooks into the (single, shared) Halide runtime: parallel loops run on oneTBB's
// pool (the graph's pool), and kernel error messages are kept for the exception that reports
// them.
#pragma once

#include <cstdint>
#include <string>

namespace pixelflow {

// Idempotent; called by everything that runs kernels.
void install_halide_runtime_hooks();
// The last message the Halide runtime reported on this thread (empty if none).
std::string take_halide_error();
// Parallel loops Halide kernels have run through oneTBB since start (for tests).
uint64_t halide_parallel_loops_on_tbb();

}  // namespace pixelflow
