// Error hierarchy of pixelflow. Every error carries the thing it concerns (a config key path,
// a file, an op) in its message, so that one line on stderr says what went wrong and where.
#pragma once

#include <stdexcept>
#include <string>

namespace pixelflow {

// `text` fit for a one-line message: control characters (a newline in a file name, a JSON key
// or a damaged header quoted in the message) become C-style escapes (\n, \t, \x01, ...).
inline std::string one_line_message(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// `message` about `source` (a file, an input's name) with the source in front, unless the message
// already starts with it (as an Error's message does: control characters escaped, see above).
inline std::string with_source(const std::string& source, const std::string& message) {
  if (source.empty() || message.rfind(source, 0) == 0 || message.rfind(one_line_message(source), 0) == 0)
    return message;
  return source + ": " + message;
}

// Base of all errors pixelflow raises on bad input or bad configuration. The message is always
// one line (see one_line_message).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(one_line_message(what)) {}
  explicit Error(const char* what) : Error(std::string(what)) {}
};

// A configuration value is missing, of the wrong type or out of range.
// Message form: "<source>: <key path>: <problem>".
class ConfigError : public Error {
 public:
  ConfigError(const std::string& key_path, const std::string& problem)
      : Error(key_path + ": " + problem), key_path_(key_path) {}
  // With a location in front: "<where>: <key path>: <problem>", e.g. where =
  // "pipeline.yaml:3:7" (file:line:column, as YAML pipelines report them).
  ConfigError(const std::string& where, const std::string& key_path, const std::string& problem)
      : Error(where + ": " + key_path + ": " + problem), key_path_(key_path), where_(where) {}
  const std::string& key_path() const { return key_path_; }
  const std::string& where() const { return where_; }  // "" when the error has no location

 private:
  std::string key_path_;
  std::string where_;
};

// An input file or array cannot be read or decoded. Message form: "<file>: <problem>".
class DecodeError : public Error {
 public:
  DecodeError(const std::string& file, const std::string& problem)
      : Error(file + ": " + problem), file_(file) {}
  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

// An input has a shape, layout or value range that the processor cannot accept
// (where Hugging Face raises a ValueError on the same input).
class InputError : public Error {
 public:
  using Error::Error;
};

// Memory for an array could not be allocated (std::bad_alloc, with what and how much it was
// for). Message form: "out of memory allocating <what>: <dtype> <shape>, <size>".
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

// A Halide kernel returned an error code (an internal failure, not a user error).
class KernelError : public Error {
 public:
  using Error::Error;
};

}  // namespace pixelflow
