#include "pipelines/py_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace pixelflow::pipelines {

namespace {

void append_hex4(std::string& out, uint32_t v) {
  static const char* hex = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(hex[(v >> shift) & 0xF]);
}

// json.encoder.py_encode_basestring_ascii on a UTF-8 string (nlohmann validated it on parse).
void append_py_string(std::string& out, const std::string& s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0;
    size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 0x6 && i + 1 < s.size()) {
      cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      len = 2;
    } else if ((c >> 4) == 0xE && i + 2 < s.size()) {
      cp = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      len = 3;
    } else if ((c >> 3) == 0x1E && i + 3 < s.size()) {
      cp = ((c & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
           ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) | (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
      len = 4;
    } else {
      cp = 0xFFFD;  // not reachable for validated UTF-8
    }
    i += len;
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp >= 0x20 && cp <= 0x7E) {
      out.push_back(static_cast<char>(cp));
    } else if (cp > 0xFFFF) {
      const uint32_t v = cp - 0x10000;
      append_hex4(out, 0xD800 | ((v >> 10) & 0x3FF));
      append_hex4(out, 0xDC00 | (v & 0x3FF));
    } else {
      append_hex4(out, cp);
    }
  }
  out.push_back('"');
}

template <class Json>
void dump_value(std::string& out, const Json& v, int indent, int level) {
  const bool pretty = indent >= 0;
  auto newline = [&](int lvl) {
    out.push_back('\n');
    out.append(static_cast<size_t>(indent * lvl), ' ');
  };
  switch (v.type()) {
    case nlohmann::json::value_t::null: out += "null"; return;
    case nlohmann::json::value_t::boolean: out += v.template get<bool>() ? "true" : "false"; return;
    case nlohmann::json::value_t::number_integer: out += std::to_string(v.template get<int64_t>()); return;
    case nlohmann::json::value_t::number_unsigned: out += std::to_string(v.template get<uint64_t>()); return;
    case nlohmann::json::value_t::number_float: {
      const double d = v.template get<double>();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
      else out += python_float_repr(d);
      return;
    }
    case nlohmann::json::value_t::string: append_py_string(out, v.template get_ref<const std::string&>()); return;
    case nlohmann::json::value_t::array: {
      if (v.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      bool first = true;
      for (const auto& item : v) {
        if (!first) out += pretty ? "," : ", ";
        first = false;
        if (pretty) newline(level + 1);
        dump_value(out, item, indent, level + 1);
      }
      if (pretty) newline(level);
      out.push_back(']');
      return;
    }
    case nlohmann::json::value_t::object: {
      if (v.empty()) {
        out += "{}";
        return;
      }
      std::vector<std::pair<std::string, const Json*>> items;
      for (auto it = v.begin(); it != v.end(); ++it) items.emplace_back(it.key(), &it.value());
      // sort_keys=True: Python compares str by code point, which is UTF-8 byte order.
      std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      bool first = true;
      for (const auto& [key, val] : items) {
        if (!first) out += pretty ? "," : ", ";
        first = false;
        if (pretty) newline(level + 1);
        append_py_string(out, key);
        out += ": ";
        dump_value(out, *val, indent, level + 1);
      }
      if (pretty) newline(level);
      out.push_back('}');
      return;
    }
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
    default: out += "null"; return;
  }
}

}  // namespace

std::string python_json_dumps(const nlohmann::json& value, int indent) {
  std::string out;
  dump_value(out, value, indent, 0);
  return out;
}

std::string python_json_dumps(const nlohmann::ordered_json& value, int indent) {
  std::string out;
  dump_value(out, value, indent, 0);
  return out;
}

}  // namespace pixelflow::pipelines
