#include "base/half_float.h"

#include <bit>
#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PIXELFLOW_HALF_X86 1
#endif

namespace pixelflow {

namespace {

bool is_nan_bits(uint32_t u) { return (u & 0x7fffffffu) > 0x7f800000u; }

// NumPy's NaN: sign, 0x7c00 and the payload's top 10 bits, at least 1.
uint16_t half_nan(uint32_t u) {
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint16_t h = static_cast<uint16_t>(0x7c00u | ((u & 0x007fffffu) >> 13));
  if (h == 0x7c00u) h = 0x7c01u;
  return static_cast<uint16_t>(sign | h);
}

// The scalar loops, also the tails of the vector ones.
void half_scalar(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = float_to_half_reference(in[i]);
}

void bfloat16_scalar(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = float_to_bfloat16_reference(in[i]);
}

#ifdef PIXELFLOW_HALF_X86
// vcvtps2ph rounds to nearest even, keeps subnormals and overflows to infinity, as NumPy does;
// only a signaling NaN comes out otherwise (quieted), so vectors holding a NaN take the scalar way.
__attribute__((target("avx2,f16c"))) void half_f16c(const float* in, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(in + i);
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
      half_scalar(in + i, out + i, 8);
      continue;
    }
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  half_scalar(in + i, out + i, n - i);
}

// (u + 0x7fff + ((u >> 16) & 1)) >> 16, NaN lanes 0xffff: 8 floats to 8 bfloat16 at a time.
__attribute__((target("avx2"))) void bfloat16_avx2(const float* in, uint16_t* out, size_t n) {
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i r[2];
    for (int k = 0; k < 2; ++k) {
      const __m256 f = _mm256_loadu_ps(in + i + 8 * k);
      const __m256i u = _mm256_castps_si256(f);
      const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
      __m256i t = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, bias), odd), 16);
      const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_UNORD_Q));  // all ones
      r[k] = _mm256_or_si256(t, _mm256_srli_epi32(nan, 16));                        // 0xffff there
    }
    // Pack the 32-bit lanes (each <= 0xffff) to 16 bits; packus works per 128-bit lane.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xd8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), packed);
  }
  bfloat16_scalar(in + i, out + i, n - i);
}

#endif

}  // namespace

uint16_t float_to_half_reference(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  if (is_nan_bits(u)) return half_nan(u);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const double a = std::fabs(static_cast<double>(x));  // exact
  if (std::isinf(a)) return sign | 0x7c00u;
  if (a < 0x1p-14) {
    // Subnormal (or zero) halves are multiples of 2^-24: round a * 2^24 (exact) to an integer;
    // 1024 is the smallest normal, 0x0400, which is what the bits say too.
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(a * 0x1p24)));
  }
  int e;
  (void)std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1): a in [2^(e-1), 2^e)
  e -= 1;                   // a in [2^e, 2^(e+1)), e >= -14
  double m = std::nearbyint(std::ldexp(a, 10 - e));  // in [1024, 2048], exact before rounding
  if (m == 2048) {
    m = 1024;
    ++e;
  }
  if (e > 15) return sign | 0x7c00u;  // overflow: infinity (from 65520 on)
  return static_cast<uint16_t>(sign | ((e + 15) << 10) | (static_cast<uint32_t>(m) - 1024));
}

uint16_t float_to_bfloat16_reference(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  if (is_nan_bits(u)) return 0xffffu;
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void float_to_half(const float* in, uint16_t* out, size_t n) {
#ifdef PIXELFLOW_HALF_X86
  // Every CPU with AVX2 has F16C (clang 14 cannot ask for "f16c" itself).
  static const bool f16c = __builtin_cpu_supports("avx2");
  if (f16c) return half_f16c(in, out, n);
#endif
  half_scalar(in, out, n);
}

void float_to_bfloat16(const float* in, uint16_t* out, size_t n) {
#ifdef PIXELFLOW_HALF_X86
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return bfloat16_avx2(in, out, n);
#endif
  bfloat16_scalar(in, out, n);
}

}  // namespace pixelflow
