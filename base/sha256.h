// SHA-256 (FIPS 180-4), streaming: fingerprints of run inputs and configs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pixelflow {

class Sha256 {
 public:
  // `use_hardware`: use the CPU's SHA instructions (x86 SHA-NI, ~5-10x faster) when it has them;
  // false forces the portable code (the same digests; for tests).
  explicit Sha256(bool use_hardware = true);
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The digest as 64 lowercase hex digits. The object is spent afterwards.
  std::string hex_digest();

  // Whether this CPU has the SHA instructions Sha256 uses.
  static bool hardware_available();

 private:
  void block(const uint8_t* p);
  void blocks(const uint8_t* p, size_t n);  // n 64-byte blocks

  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes hashed
  bool hardware_ = false;
};

inline std::string sha256_hex(std::string_view s) {
  Sha256 h;
  h.update(s);
  return h.hex_digest();
}

}  // namespace pixelflow
