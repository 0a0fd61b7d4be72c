// float32 -> float16 (IEEE binary16) and float32 -> bfloat16 conversion, for `pixelflow run
// --dtype`. Both round to nearest, ties to even, from the float32 value, never flush subnormals
// and overflow to infinity; NaN handling follows the library each type is usually read with:
//   float16:  NumPy's astype(np.float16): a NaN keeps its sign and the top 10 bits of its
//             payload (a payload that would vanish becomes 1), so quiet NaNs stay quiet.
//   bfloat16: torch's CPU .to(torch.bfloat16): every NaN becomes 0xFFFF (a quiet NaN).
// The *_reference functions are the plain scalar oracles (computed in double arithmetic for
// float16, with the usual integer rounding trick for bfloat16); the array functions use F16C /
// AVX2 where the CPU has them and give the same bits (tests/base/test_half_float.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pixelflow {

uint16_t float_to_half_reference(float x);
uint16_t float_to_bfloat16_reference(float x);

// out[i] = float_to_half_reference(in[i]) for i < n (in and out do not overlap).
void float_to_half(const float* in, uint16_t* out, size_t n);
// out[i] = float_to_bfloat16_reference(in[i]) for i < n (in and out do not overlap).
void float_to_bfloat16(const float* in, uint16_t* out, size_t n);

}  // namespace pixelflow
