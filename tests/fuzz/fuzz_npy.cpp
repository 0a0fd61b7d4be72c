// libFuzzer: bytes -> .npy header and array (parse_npy_header, parse_npy), then the array
// written back (npy_bytes) must parse to the same array.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "graph/npy.h"
#include "tests/fuzz/fuzz_common.h"

using namespace pixelflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::expect_clean([&] {
    TensorSpec spec = parse_npy_header(data, size, "fuzz.npy");
    Tensor t = parse_npy(data, size, "fuzz.npy");
    if (t.shape() != spec.shape || t.dtype() != spec.dtype) std::abort();
    const std::string again = npy_bytes(t);
    Tensor u = parse_npy(again.data(), again.size(), "again.npy");
    if (u.shape() != t.shape() || u.dtype() != t.dtype() || u.nbytes() != t.nbytes() ||
        (t.nbytes() && std::memcmp(u.raw_data(), t.raw_data(), t.nbytes()) != 0))
      std::abort();
  });
  return 0;
}
