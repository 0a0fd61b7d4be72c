// SHA-256 of raw bytes, for tests that compare outputs with reference hashes (base/sha256.h).
#pragma once

#include <cstddef>
#include <string>

#include "base/sha256.h"

namespace pixelflow::test {

inline std::string sha256_hex(const void* data, size_t size) {
  Sha256 h;
  h.update(data, size);
  return h.hex_digest();
}

}  // namespace pixelflow::test
