// Python's repr() of a float, for messages and JSON text that must read as Python writes them.
#pragma once

#include <string>

namespace pixelflow {

// `repr(x)` for a Python float: the shortest digits that round-trip, positional notation for
// decimal exponents -4..15, otherwise `1e-05` / `1e+16` style; e.g. 0.00392156862745098, 1e-05,
// 224.0, -0.0, inf, nan. (NumPy float32 scalars print through Python floats, as their double
// value.)
std::string python_float_repr(double x);

}  // namespace pixelflow
