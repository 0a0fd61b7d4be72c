// Small string helpers shared by every layer (messages, names, paths).
#pragma once

#include <string>
#include <string_view>

namespace pixelflow {

// The items of a range of strings joined by `sep`: join({"a", "b"}) == "a, b"; used for the
// "(known: a, b)" lists of error messages.
template <class Range>
std::string join(const Range& items, std::string_view sep = ", ") {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += sep;
    out += item;
    first = false;
  }
  return out;
}

}  // namespace pixelflow
