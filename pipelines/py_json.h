// JSON text exactly as CPython's `json.dumps(value, indent=2, sort_keys=True)` writes it, which is
// what Hugging Face's `to_json_string()` / `save_pretrained()` emit (plus a trailing newline there).
//
// Matching details: floats use `repr(float)` (shortest round-trip digits; fixed notation for decimal
// exponents -4..15, otherwise `1e-05` / `1e+16` style), integers stay integers, `NaN` / `Infinity`
// are written as Python does, strings are escaped with `ensure_ascii=True` (lowercase `\uXXXX`,
// surrogate pairs above U+FFFF, DEL escaped), object keys are sorted by code point, empty
// containers are `{}` / `[]`, and the separators are "," + newline and ": ".
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/py_float.h"  // python_float_repr, which floats are written with

namespace pixelflow::pipelines {

// `json.dumps(value, indent=indent, sort_keys=True)` (no trailing newline). indent < 0 selects the
// compact one-line form `json.dumps(value, sort_keys=True)` (separators ", " and ": ").
std::string python_json_dumps(const nlohmann::json& value, int indent = 2);
std::string python_json_dumps(const nlohmann::ordered_json& value, int indent = 2);

}  // namespace pixelflow::pipelines
