#include "base/py_float.h"

#include <charconv>
#include <cmath>
#include <string_view>

namespace pixelflow {

std::string python_float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  // Shortest round-trip digits in scientific form, e.g. "3.92156862745098e-03".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  size_t pos = 0;
  if (!sci.empty() && sci[0] == '-') {
    out.push_back('-');
    pos = 1;
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (size_t i = pos; i < epos; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  int exp10 = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp10);
  // CPython float_repr_style 'short': value = 0.DIGITS * 10**decpt; exponent notation when
  // decpt <= -4 or decpt > 16.
  const int decpt = exp10 + 1;
  const int n = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out += digits.substr(0, 1);
    if (n > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    out.push_back('e');
    const int e = decpt - 1;
    out.push_back(e < 0 ? '-' : '+');
    const int ae = e < 0 ? -e : e;
    if (ae < 10) out.push_back('0');
    out += std::to_string(ae);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (decpt < n) {
    out += digits.substr(0, static_cast<size_t>(decpt));
    out.push_back('.');
    out += digits.substr(static_cast<size_t>(decpt));
  } else {
    out += digits;
    out.append(static_cast<size_t>(decpt - n), '0');
    out += ".0";
  }
  return out;
}

}  // namespace pixelflow
