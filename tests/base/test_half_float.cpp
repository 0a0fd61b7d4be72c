// base/half_float.h: float32 -> float16 / bfloat16, round to nearest even. The array functions
// (F16C / AVX2 where the CPU has them) equal the scalar references bit for bit over every upper
// half of a float32 with the lower bits that decide rounding (ties, just below and above), and
// the references equal independent ones: the compiler's _Float16 conversion (where it has one)
// and a rounding in double arithmetic for bfloat16; NaNs as NumPy and torch write them.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/half_float.h"

using namespace pixelflow;

namespace {

float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

// Every upper 16 bits with lower halves that hold the float16 and bfloat16 round and sticky
// bits in all combinations that matter (float16 normals round at bit 12, bfloat16 at bit 15;
// float16 subnormals higher up, which the upper halves cover), then random patterns.
std::vector<uint32_t> interesting_bits() {
  static const uint16_t lows[] = {0x0000, 0x0001, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x2001,
                                  0x3000, 0x3001, 0x5000, 0x6000, 0x7fff, 0x8000, 0x8001, 0xa000,
                                  0xd000, 0xe000, 0xefff, 0xf000, 0xf001, 0xffff};
  std::vector<uint32_t> bits;
  for (uint32_t hi = 0; hi < 65536; ++hi)
    for (uint16_t lo : lows) bits.push_back(hi << 16 | lo);
  std::mt19937 rng(20240613);
  for (int i = 0; i < 1000000; ++i) bits.push_back(static_cast<uint32_t>(rng()));
  return bits;
}

// bfloat16 by rounding in double: 8 significant bits, float32's exponent range.
uint16_t bfloat16_by_rounding(float x) {
  if (std::isnan(x)) return 0xffff;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(x));
  if (std::isinf(a)) return sign | 0x7f80;
  if (a < 0x1p-126) return sign | static_cast<uint16_t>(std::nearbyint(a * 0x1p133));  // multiples of 2^-133
  int e;
  (void)std::frexp(a, &e);
  e -= 1;
  double m = std::nearbyint(std::ldexp(a, 7 - e));  // [128, 256]
  if (m == 256) {
    m = 128;
    ++e;
  }
  if (e > 127) return sign | 0x7f80;
  return static_cast<uint16_t>(sign | ((e + 127) << 7) | (static_cast<uint32_t>(m) - 128));
}

}  // namespace

TEST_CASE("float16: the array conversion equals the reference, which equals _Float16", "[half_float]") {
  const std::vector<uint32_t> bits = interesting_bits();
  std::vector<float> in(bits.size());
  std::memcpy(in.data(), bits.data(), bits.size() * 4);
  std::vector<uint16_t> out(bits.size());
  float_to_half(in.data(), out.data(), in.size());
  size_t differ = 0, differ_compiler = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const uint16_t ref = float_to_half_reference(in[i]);
    if (out[i] != ref && differ++ < 5) UNSCOPED_INFO("bits " << std::hex << bits[i] << ": " << out[i] << " vs " << ref);
#ifdef __FLT16_MAX__
    if (!std::isnan(in[i])) {
      const _Float16 h = static_cast<_Float16>(in[i]);
      if (std::bit_cast<uint16_t>(h) != ref && differ_compiler++ < 5)
        UNSCOPED_INFO("_Float16 of " << std::hex << bits[i] << ": " << std::bit_cast<uint16_t>(h) << " vs " << ref);
    }
#endif
  }
  CHECK(differ == 0);
  CHECK(differ_compiler == 0);
}

TEST_CASE("float16: ties, subnormals, overflow, signed zeros and NaN as NumPy's astype", "[half_float]") {
  auto h = [](float x) { return float_to_half_reference(x); };
  CHECK(h(0.0f) == 0x0000);
  CHECK(h(-0.0f) == 0x8000);
  CHECK(h(1.0f) == 0x3c00);
  CHECK(h(1.0f + 0x1p-11f) == 0x3c00);           // tie, to even (down)
  CHECK(h(1.0f + 3 * 0x1p-11f) == 0x3c02);       // tie, to even (up)
  CHECK(h(1.0f + 0x1p-11f + 0x1p-23f) == 0x3c01);  // just above the tie
  CHECK(h(65504.0f) == 0x7bff);
  CHECK(h(65519.996f) == 0x7bff);
  CHECK(h(65520.0f) == 0x7c00);  // overflows to infinity
  CHECK(h(-1e10f) == 0xfc00);
  CHECK(h(INFINITY) == 0x7c00);
  CHECK(h(-INFINITY) == 0xfc00);
  CHECK(h(0x1p-24f) == 0x0001);         // smallest subnormal
  CHECK(h(0x1p-25f) == 0x0000);         // tie between 0 and 2^-24: to even
  CHECK(h(0x1.000002p-25f) == 0x0001);  // just above
  CHECK(h(-0x1p-26f) == 0x8000);
  CHECK(h(3 * 0x1p-25f) == 0x0002);     // tie, to even (up)
  CHECK(h(0x1.ffcp-15f) == 0x0400);     // 1023.5 x 2^-24: a tie, to even: the smallest normal
  CHECK(h(0x1.ff8p-15f) == 0x03ff);     // 1023 x 2^-24: the largest subnormal
  CHECK(h(from_bits(0x00000001)) == 0x0000);  // float32 subnormal
  // NaN: sign and the payload's top 10 bits (at least 1), as NumPy 2.x writes them.
  CHECK(h(from_bits(0x7fc00000)) == 0x7e00);
  CHECK(h(from_bits(0xffc00000)) == 0xfe00);
  CHECK(h(from_bits(0x7f800001)) == 0x7c01);
  CHECK(h(from_bits(0x7fa00000)) == 0x7d00);
  CHECK(h(from_bits(0xff812345)) == 0xfc09);
  CHECK(h(from_bits(0x7fffffff)) == 0x7fff);
}

TEST_CASE("bfloat16: the array conversion equals the reference, which equals rounding in double", "[half_float]") {
  const std::vector<uint32_t> bits = interesting_bits();
  std::vector<float> in(bits.size());
  std::memcpy(in.data(), bits.data(), bits.size() * 4);
  std::vector<uint16_t> out(bits.size());
  float_to_bfloat16(in.data(), out.data(), in.size());
  size_t differ = 0, differ_rounding = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const uint16_t ref = float_to_bfloat16_reference(in[i]);
    if (out[i] != ref && differ++ < 5) UNSCOPED_INFO("bits " << std::hex << bits[i] << ": " << out[i] << " vs " << ref);
    if (bfloat16_by_rounding(in[i]) != ref && differ_rounding++ < 5)
      UNSCOPED_INFO("rounding " << std::hex << bits[i] << ": " << bfloat16_by_rounding(in[i]) << " vs " << ref);
  }
  CHECK(differ == 0);
  CHECK(differ_rounding == 0);
  auto b = [](uint32_t u) { return float_to_bfloat16_reference(from_bits(u)); };
  CHECK(b(0x3f808000) == 0x3f80);  // tie, to even (down)
  CHECK(b(0x3f818000) == 0x3f82);  // tie, to even (up)
  CHECK(b(0x7f7fffff) == 0x7f80);  // overflows to infinity
  CHECK(b(0x80000000) == 0x8000);
  CHECK(b(0x00008000) == 0x0000);  // subnormal tie, kept (no flush)
  CHECK(b(0x00018000) == 0x0002);
  // Every NaN becomes 0xFFFF, as torch's CPU .to(torch.bfloat16) writes it.
  CHECK(b(0x7fc00000) == 0xffff);
  CHECK(b(0xff800001) == 0xffff);
}

TEST_CASE("half_float: any length and alignment (vector bodies and scalar tails)", "[half_float]") {
  std::mt19937 rng(7);
  std::vector<float> in(80);
  for (auto& x : in) x = from_bits(static_cast<uint32_t>(rng()));
  in[13] = NAN;
  in[40] = from_bits(0x7f800001);  // a signaling NaN inside a vector
  for (size_t offset = 0; offset < 4; ++offset)
    for (size_t n = 0; n + offset <= in.size(); ++n) {
      std::vector<uint16_t> h(n + 1, 0xabcd), bf(n + 1, 0xabcd);
      float_to_half(in.data() + offset, h.data(), n);
      float_to_bfloat16(in.data() + offset, bf.data(), n);
      INFO("offset " << offset << " n " << n);
      for (size_t i = 0; i < n; ++i) {
        REQUIRE(h[i] == float_to_half_reference(in[offset + i]));
        REQUIRE(bf[i] == float_to_bfloat16_reference(in[offset + i]));
      }
      REQUIRE(h[n] == 0xabcd);  // nothing written past the end
      REQUIRE(bf[n] == 0xabcd);
    }
}
