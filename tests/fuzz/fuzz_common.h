// Shared by the libFuzzer targets (tests/fuzz/README.md). A target feeds the bytes to one
// front end of pixelflow and treats the errors pixelflow documents for bad input as normal
// results: pixelflow::Error and everything derived from it (ConfigError, DecodeError,
// InputError, ...), plus the std::exception types the parsers document (nlohmann's parse
// errors are turned into ConfigError by the library; std::invalid_argument / std::out_of_range
// from argument parsing). Only crashes, sanitizer reports, leaks, timeouts and out-of-memory
// conditions are findings. Every error message must be a single line that is not empty.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "base/errors.h"

namespace pixelflow::fuzz {

// An error pixelflow reported properly: one non-empty line.
inline void check_message(const std::exception& e) {
  const std::string msg = e.what();
  if (msg.empty() || msg.find('\n') != std::string::npos) {
    std::fprintf(stderr, "fuzz: error message is not one line: [%s]\n", msg.c_str());
    std::abort();
  }
}

// Runs `body`; documented errors are results, anything else escapes (and is a finding).
template <class F>
void expect_clean(F&& body) {
  try {
    body();
  } catch (const pixelflow::Error& e) {
    check_message(e);
  } catch (const std::invalid_argument& e) {
    check_message(e);
  } catch (const std::out_of_range& e) {
    check_message(e);
  }
}

}  // namespace pixelflow::fuzz
