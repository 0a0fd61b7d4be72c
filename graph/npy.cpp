#include "graph/npy.h"

#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "base/atomic_file.h"
#include "base/errors.h"
#include "base/file_io.h"

namespace pixelflow {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// Minimal reader for the Python dict literal of an .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  Header parse() {
    Header h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        h.descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        h.shape = parse_tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "' in .npy header");
      }
      skip_ws();
      if (peek() == ',') ++pos_;
    }
    if (!have_descr || !have_order || !have_shape)
      fail(".npy header lacks one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) { throw DecodeError(name_, what); }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  char peek() {
    if (pos_ >= s_.size()) fail("truncated .npy header");
    return s_[pos_];
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) fail(std::string("malformed .npy header: expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_ws();
    char q = peek();
    if (q != '\'' && q != '"') fail("malformed .npy header: expected a string");
    size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) fail("malformed .npy header: unterminated string");
    std::string r = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return r;
  }
  bool parse_bool() {
    skip_ws();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("malformed .npy header: fortran_order must be True or False");
  }
  Shape parse_tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_ws();
      if (peek() == ')') {
        ++pos_;
        break;
      }
      size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (start == pos_ || pos_ - start > 15) fail("malformed .npy header: bad shape");
      shape.push_back(std::stoll(s_.substr(start, pos_ - start)));
      skip_ws();
      if (peek() == 'L') ++pos_;  // Python 2 long suffix
      skip_ws();
      if (peek() == ',') ++pos_;
    }
    return shape;
  }

  const std::string& s_;
  const std::string& name_;
  size_t pos_ = 0;
};

bool parse_descr(const std::string& descr, DType* dtype, bool* swap) {
  if (descr.size() != 3) return false;
  char order = descr[0];
  std::string code = descr.substr(1);
  *swap = order == '>';
  if (order != '<' && order != '>' && order != '|' && order != '=') return false;
  if (code == "b1") *dtype = DType::kBool;
  else if (code == "u1") *dtype = DType::kUInt8;
  else if (code == "u2") *dtype = DType::kUInt16;
  else if (code == "i4") *dtype = DType::kInt32;
  else if (code == "i8") *dtype = DType::kInt64;
  else if (code == "f4") *dtype = DType::kFloat32;
  else if (code == "f8") *dtype = DType::kFloat64;
  else return false;
  if (dtype_size(*dtype) == 1) *swap = false;
  return true;
}

// Fortran-ordered data of `shape` into C order.
void fortran_to_c(const char* src, char* dst, const Shape& shape, size_t elem) {
  int nd = static_cast<int>(shape.size());
  int64_t n = shape_numel(shape);
  std::vector<int64_t> idx(nd, 0);
  // Walk destination (C order) and compute the Fortran offset.
  std::vector<int64_t> fstride(nd, 1);
  for (int d = 1; d < nd; ++d) fstride[d] = fstride[d - 1] * shape[d - 1];
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int d = 0; d < nd; ++d) off += idx[d] * fstride[d];
    std::memcpy(dst + i * elem, src + off * elem, elem);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

namespace {

struct ParsedHeader {
  DType dtype;
  bool swap;
  bool fortran_order;
  Shape shape;
  size_t body;  // offset of the data
};

ParsedHeader read_header(const void* data, size_t size, const std::string& name) {
  const char* p = static_cast<const char*>(data);
  if (size < 10 || std::memcmp(p, kMagic, 6) != 0) throw DecodeError(name, "not a .npy file");
  int major = static_cast<unsigned char>(p[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(p[8]) | (static_cast<unsigned char>(p[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw DecodeError(name, "truncated .npy header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= size_t(static_cast<unsigned char>(p[8 + i])) << (8 * i);
    offset = 12;
  } else {
    throw DecodeError(name, "unsupported .npy format version " + std::to_string(major));
  }
  if (offset + header_len > size) throw DecodeError(name, "truncated .npy header");
  std::string header_text(p + offset, header_len);
  Header h = HeaderParser(header_text, name).parse();
  DType dtype;
  bool swap;
  if (!parse_descr(h.descr, &dtype, &swap))
    throw DecodeError(name, "unsupported .npy dtype '" + h.descr +
                                "' (supported: bool, uint8, uint16, int32, int64, float32, float64)");
  // Guard against absurd shapes before multiplying.
  int64_t numel = 1;
  for (int64_t d : h.shape) {
    if (d < 0 || (d > 0 && numel > (int64_t(1) << 40) / d))
      throw DecodeError(name, "absurd .npy shape " + shape_str(h.shape));
    numel *= d;
  }
  return ParsedHeader{dtype, swap, h.fortran_order, h.shape, offset + header_len};
}

}  // namespace

TensorSpec parse_npy_header(const void* data, size_t size, const std::string& name) {
  ParsedHeader h = read_header(data, size, name);
  return {h.dtype, h.shape};
}

Tensor parse_npy(const void* data, size_t size, const std::string& name, BufferPool* pool) {
  const char* p = static_cast<const char*>(data);
  ParsedHeader hd = read_header(data, size, name);
  const DType dtype = hd.dtype;
  const bool swap = hd.swap;
  const int64_t numel = shape_numel(hd.shape);
  const size_t elem = dtype_size(dtype);
  const size_t body = hd.body;
  struct {
    bool fortran_order;
    Shape shape;
  } h{hd.fortran_order, hd.shape};
  if (size - body < static_cast<size_t>(numel) * elem)
    throw DecodeError(name, "truncated .npy data: shape " + shape_str(h.shape) + " needs " +
                                std::to_string(numel * elem) + " bytes, file has " +
                                std::to_string(size - body));
  Tensor t = Tensor::empty(dtype, h.shape, pool);
  char* dst = static_cast<char*>(t.raw_data());
  if (h.fortran_order && h.shape.size() > 1)
    fortran_to_c(p + body, dst, h.shape, elem);
  else if (numel)
    std::memcpy(dst, p + body, numel * elem);
  if (swap) {
    for (int64_t i = 0; i < numel; ++i) {
      char* e = dst + i * elem;
      for (size_t a = 0, b = elem - 1; a < b; ++a, --b) std::swap(e[a], e[b]);
    }
  }
  return t;
}

namespace {

// Reads from `f` the header of the .npy file it holds (magic, version, length, dict) into
// `bytes`, bounded by the file's size, and parses it.
ParsedHeader read_file_header(RegularFile& f, std::string& bytes, const std::string& name) {
  f.read_append(bytes, 12);
  if (bytes.size() >= 10 && std::memcmp(bytes.data(), kMagic, 6) == 0) {
    const int major = static_cast<unsigned char>(bytes[6]);
    size_t header_len = 0, offset = 0;
    if (major == 1) {
      header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
      offset = 10;
    } else if ((major == 2 || major == 3) && bytes.size() >= 12) {
      for (int i = 0; i < 4; ++i) header_len |= size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
      offset = 12;
    }
    if (offset + header_len > bytes.size()) f.read_append(bytes, offset + header_len - bytes.size());
  }
  return read_header(bytes.data(), bytes.size(), name);  // refuses what the checks above let through
}

}  // namespace

std::string read_npy_file(const std::string& path, const std::string& name,
                          const std::function<void(const TensorSpec&)>& check) {
  RegularFile f(path);
  std::string bytes;
  const ParsedHeader h = read_file_header(f, bytes, name);
  if (check) check({h.dtype, h.shape});
  const uint64_t data = static_cast<uint64_t>(shape_numel(h.shape)) * dtype_size(h.dtype);  // < 2^43
  const uint64_t want = h.body + data;  // parse_npy reports a shortfall
  if (bytes.size() < want) f.read_append(bytes, static_cast<size_t>(want - bytes.size()));
  else bytes.resize(static_cast<size_t>(want));
  return bytes;
}

TensorSpec read_npy_file_header(const std::string& path, const std::string& name) {
  RegularFile f(path);
  std::string bytes;
  const ParsedHeader h = read_file_header(f, bytes, name);
  return {h.dtype, h.shape};
}

Tensor load_npy(const std::string& path, BufferPool* pool) {
  const std::string bytes = read_npy_file(path, path);
  return parse_npy(bytes.data(), bytes.size(), path, pool);
}

std::string npy_header(const Tensor& t) {
  std::string dict = std::string("{'descr': '") + dtype_descr(t.dtype()) +
                     "', 'fortran_order': False, 'shape': " + shape_str(t.shape()) + ", }";
  // Pad with spaces so that magic + length + header (ending in '\n') is a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  std::string out(kMagic, 6);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>((dict.size() >> 8) & 0xff));
  out += dict;
  return out;
}

std::string npy_bytes(const Tensor& t) {
  std::string out = npy_header(t);
  if (t.defined() && t.nbytes())
    out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

std::string_view npy_data(const Tensor& t) {
  if (!t.defined() || !t.nbytes()) return {};
  return {static_cast<const char*>(t.raw_data()), t.nbytes()};
}

void save_npy(const std::string& path, const Tensor& t) {
  const std::string header = npy_header(t);
  atomic_write_file(path, {header, npy_data(t)});
}

}  // namespace pixelflow
