// Error hierarchy of pixelflow. Every error keeps what it is about as fields (the problem, and
// per type the config key path and its location, or the file) and composes its one-line message
// from them, so that one line on stderr says what went wrong and where.
//
// Context is added as an error travels up, without losing its type (as NVIDIA DALI's operators
// do): catch by non-const reference, add the context, rethrow with `throw;`:
//   try { op.run(...); } catch (Error& e) { e.add_source(sample.source); throw; }
// The caught object is the thrown one, so a DecodeError stays a DecodeError all the way to the
// CLI or the Python package (which maps each type to its own exception class).
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

// Base of all errors pixelflow raises on bad input or bad configuration. Message:
// "[<source>: ]<body>", where the body is the problem for a plain Error and each subclass says
// its own; always one line (see one_line_message).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& problem) : std::runtime_error(""), problem_(problem) { compose(); }
  explicit Error(const char* problem) : Error(std::string(problem)) {}

  const char* what() const noexcept override { return message_.c_str(); }
  // What is wrong, without the key, file or input it concerns.
  const std::string& problem() const { return problem_; }
  // The input (file name, "input 3") the error happened on; "" when not known (yet).
  const std::string& source() const { return source_; }
  // The op that raised it ("resize"; "" when none did).
  const std::string& op() const { return op_; }

  // Context added on the way up (each is kept once: the innermost caller that knows it wins).
  // The input goes in front of the message unless the message starts with it already (a
  // DecodeError naming the file).
  Error& add_source(const std::string& source) {
    if (source_.empty() && !source.empty()) {
      source_ = source;
      compose();
    }
    return *this;
  }
  // The op is a field only: messages name the key (ConfigError) or say what failed.
  Error& add_op(const std::string& op) {
    if (op_.empty()) op_ = op;
    return *this;
  }

 protected:
  // The message without the source in front.
  virtual std::string body() const { return problem_; }
  // Rebuilds the message from the fields; subclasses call it from their constructors (body() is
  // virtual) and whenever a field changes.
  void compose() { message_ = one_line_message(with_source(source_, body())); }

 private:
  std::string problem_;
  std::string source_;
  std::string op_;
  std::string message_;
};

// A configuration value is missing, of the wrong type or out of range.
// Message: "[<where>: ]<key path>: <problem>", where is the location when there is one: a file
// ("preprocessor_config.json"), "FILE:LINE:COLUMN" in a YAML pipeline, or "call_kwargs".
class ConfigError : public Error {
 public:
  ConfigError(const std::string& key_path, const std::string& problem) : Error(problem), key_path_(key_path) {
    compose();
  }
  ConfigError(const std::string& where, const std::string& key_path, const std::string& problem)
      : Error(problem), key_path_(key_path), where_(where) {
    compose();
  }
  const std::string& key_path() const { return key_path_; }
  const std::string& where() const { return where_; }  // "" when the error has no location

  // The key path as seen from a parent: prefix "resize" turns "size.height" into
  // "resize.size.height" (an op's parameters inside a plan).
  ConfigError& add_key_prefix(const std::string& prefix) {
    if (!prefix.empty()) key_path_ = key_path_.empty() ? prefix : prefix + "." + key_path_;
    compose();
    return *this;
  }
  // The location, when it has none yet.
  ConfigError& add_where(const std::string& where) {
    if (where_.empty() && !where.empty()) {
      where_ = where;
      compose();
    }
    return *this;
  }

 protected:
  std::string body() const override {
    return (where_.empty() ? std::string() : where_ + ": ") + key_path_ + ": " + problem();
  }

 private:
  std::string key_path_;
  std::string where_;
};

// An input file or array cannot be read or decoded. Message: "<file>: <problem>".
class DecodeError : public Error {
 public:
  DecodeError(const std::string& file, const std::string& problem) : Error(problem), file_(file) { compose(); }
  const std::string& file() const { return file_; }

 protected:
  std::string body() const override { return file_ + ": " + problem(); }

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

// The Hugging Face Hub (or the local Hub cache) cannot give a file: the repository, revision or
// file does not exist or is not accessible, downloads are off and the file is not cached, or the
// server cannot be reached. Message: "<repo_id>: <problem>" (the URL or the cache folder named in
// the problem). The Python package raises it as pixelflow.HubError, an OSError as in transformers.
class HubError : public Error {
 public:
  enum class Kind {
    kRepoNotFound,      // X-Error-Code: RepoNotFound, or 401 without one (private without a token)
    kRevisionNotFound,  // X-Error-Code: RevisionNotFound
    kEntryNotFound,     // X-Error-Code: EntryNotFound (or the file is known not to exist)
    kGatedRepo,         // X-Error-Code: GatedRepo
    kAuth,              // no token where one is required, or the token was refused
    kOffline,           // HF_HUB_OFFLINE / local_files_only and not in the cache
    kNetwork,           // the server cannot be reached (or timed out) and the file is not cached
    kHttp,              // any other HTTP error, or an answer that is not the Hub's
    kCache,             // the cache folder cannot be written
  };
  HubError(Kind kind, const std::string& repo_id, const std::string& problem)
      : Error(problem), kind_(kind), repo_id_(repo_id) {
    compose();
  }
  Kind kind() const { return kind_; }
  const std::string& repo_id() const { return repo_id_; }

 protected:
  std::string body() const override { return repo_id_.empty() ? problem() : repo_id_ + ": " + problem(); }

 private:
  Kind kind_;
  std::string repo_id_;
};

// A Halide kernel returned an error code (an internal failure, not a user error).
class KernelError : public Error {
 public:
  using Error::Error;
};

}  // namespace pixelflow
