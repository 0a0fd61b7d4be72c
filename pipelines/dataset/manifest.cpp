#include "pipelines/dataset/manifest.h"

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "base/posix_file.h"

namespace pixelflow::pipelines {

namespace {

// The length of the well-formed UTF-8 sequence at p[0..n) (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF), or 0 when p[0] does not start one.
size_t utf8_sequence(const unsigned char* p, size_t n) {
  const unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t len = 0;
  unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) len = 3, lo = 0xA0;
  else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
  else if (c == 0xED) len = 3, hi = 0x9F;
  else if (c == 0xF0) len = 4, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else if (c == 0xF4) len = 4, hi = 0x8F;
  else return 0;
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if (p[k] < 0x80 || p[k] > 0xBF) return 0;
  return len;
}

// `s` as a JSON string literal: valid UTF-8 as nlohmann writes it (raw, with '"', '\\' and
// control characters escaped), and each byte 0xNN that is not part of valid UTF-8 as the lone
// surrogate escape \udcNN, as Python's surrogateescape decodes it (json.loads then os.fsencode
// give the bytes back).
std::string json_string(const std::string& s) {
  std::string out = "\"";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t run = 0;  // start of the current run of valid UTF-8
  auto flush = [&](size_t end) {
    if (end == run) return;
    const std::string text =
        nlohmann::json(s.substr(run, end - run)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.append(text, 1, text.size() - 2);
  };
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence(p + i, s.size() - i);
    if (len > 0) {
      i += len;
      continue;
    }
    flush(i);
    char esc[8];
    std::snprintf(esc, sizeof esc, "\\udc%02x", p[i]);
    out += esc;
    run = ++i;
  }
  flush(s.size());
  return out + "\"";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value of the 4 hex digits at s[i..i+4), or -1.
int hex4(const std::string& s, size_t i) {
  if (i + 4 > s.size()) return -1;
  int v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    const int d = hex_value(s[k]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// nlohmann's parser refuses lone surrogates, which json_string writes for bytes that are not
// UTF-8. This rewrites a JSON text so that it takes them: a lone \udcNN (NN >= 80) becomes
// \u0000 followed by the characters "NN", and an escaped NUL \u0000 becomes \u0000 followed by
// "00"; restore_bytes undoes it in the parsed strings. (JSON has no raw NUL inside strings, so
// every NUL in them comes from one of these.)
std::string protect_escaped_bytes(const std::string& line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size();) {
    if (line[i] != '\\' || i + 1 >= line.size()) {
      out += line[i++];
      continue;
    }
    const int v = line[i + 1] == 'u' ? hex4(line, i + 2) : -1;
    if (v < 0) {  // another escape (\\, \", \n, ...), kept as it is
      out.append(line, i, 2);
      i += 2;
    } else if (v >= 0xD800 && v <= 0xDBFF && line.compare(i + 6, 2, "\\u") == 0 &&
               hex4(line, i + 8) >= 0xDC00 && hex4(line, i + 8) <= 0xDFFF) {
      out.append(line, i, 12);  // a surrogate pair: one character
      i += 12;
    } else if (v >= 0xDC80 && v <= 0xDCFF) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u0000%02x", v & 0xff);
      out += buf;
      i += 6;
    } else if (v == 0) {
      out += "\\u000000";
      i += 6;
    } else {
      out.append(line, i, 6);
      i += 6;
    }
  }
  return out;
}

// Undoes protect_escaped_bytes in a parsed string; false when it is malformed.
bool restore_bytes(std::string* s) {
  if (s->find('\0') == std::string::npos) return true;
  std::string out;
  for (size_t i = 0; i < s->size(); ++i) {
    if ((*s)[i] != '\0') {
      out += (*s)[i];
      continue;
    }
    if (i + 2 >= s->size()) return false;
    const int a = hex_value((*s)[i + 1]), b = hex_value((*s)[i + 2]);
    if (a < 0 || b < 0) return false;
    out += static_cast<char>(a * 16 + b);
    i += 2;
  }
  *s = std::move(out);
  return true;
}

// The string member `key` of `j`, its escaped bytes restored; false when missing or malformed.
bool get_string(const nlohmann::json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  *out = it->get<std::string>();
  return restore_bytes(out);
}

}  // namespace

std::string manifest_line(const ManifestEntry& e, const std::string& shard) {
  // Written like Python's json.dumps (", " and ": " separators, this key order), as the manifest
  // format is documented: {"input": PATH, "status": "ok", "shard": NAME, "index": I}.
  std::string line = "{\"input\": " + json_string(e.input);
  if (e.ok)
    line += ", \"status\": \"ok\", \"shard\": " + json_string(shard) + ", \"index\": " + std::to_string(e.index);
  else
    line += ", \"status\": \"error\", \"error\": " + json_string(e.error);
  return line + "}\n";
}

bool parse_manifest_line(const std::string& line, ManifestEntry* e) {
  nlohmann::json j = nlohmann::json::parse(protect_escaped_bytes(line), nullptr, false);
  if (!j.is_object()) return false;
  auto status = j.find("status");
  if (status == j.end() || !status->is_string() || !get_string(j, "input", &e->input)) return false;
  const std::string s = status->get<std::string>();
  if (s == "ok") {
    auto index = j.find("index");
    if (index == j.end() || !index->is_number_integer()) return false;
    e->ok = true;
    e->index = index->get<int64_t>();
    return get_string(j, "shard", &e->shard) && e->index >= 0;
  }
  if (s == "error") {
    e->ok = false;
    return get_string(j, "error", &e->error);
  }
  return false;
}

std::vector<ManifestEntry> read_manifest(const std::string& out_dir) {
  const std::string path = (std::filesystem::path(out_dir) / "manifest.jsonl").string();
  posix::LineReader f(path);  // complete lines only: an append cut short is not committed
  std::vector<ManifestEntry> out;
  std::string line;
  int64_t number = 0;
  while (f.next(line)) {
    ++number;
    ManifestEntry e;
    if (!parse_manifest_line(line, &e))
      throw DecodeError(path, "line " + std::to_string(number) + " is not a manifest entry");
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace pixelflow::pipelines
