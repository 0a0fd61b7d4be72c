#include "pipelines/yaml_pipeline.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include "base/errors.h"
#include "base/file_io.h"
#include "base/text.h"
#include "registry/registry.h"
#include "pipelines/dataset/float_dtype.h"
#include "pipelines/image_processor.h"
#include "pipelines/processor_plans.h"

namespace pixelflow::pipelines {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Key paths and messages

std::string join_key(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
std::string join_index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }
std::string shown_path(const std::string& path) { return path.empty() ? "(top level)" : path; }

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

// ---------------------------------------------------------------------------------------------
// Scalars, typed by the YAML 1.2 core schema (yaml-cpp leaves plain scalars untyped): quoted
// scalars are strings; plain ones are null, a boolean, an integer or a float when they look like
// one, else strings.

enum class ScalarKind { kNull, kBool, kInt, kFloat, kString };

bool is_core_bool(const std::string& s) {
  static const std::set<std::string> names = {"true", "True", "TRUE", "false", "False", "FALSE"};
  return names.count(s) != 0;
}
bool core_bool_value(const std::string& s) { return s[0] == 't' || s[0] == 'T'; }

bool is_core_int(const std::string& s) {
  static const std::regex re("[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+");
  return std::regex_match(s, re);
}

bool is_core_float(const std::string& s) {
  static const std::regex re(
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");
  return std::regex_match(s, re);
}

// A field of a map, with the node of its key (for the key's position in messages).
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

// Bounds on what converting a document may build. yaml-cpp shares an aliased node instead of
// copying it, so a small file can stand for an exponentially large tree (the "billion laughs":
// nine anchors, each a list of nine aliases of the previous one, are 9^9 values). Converting
// stops, with an error, after this many nodes in all: the document's size in bytes (a document
// without aliases has fewer nodes than bytes) or kMinNodeBudget if larger. Nesting is bounded as
// for JSON configs (an alias inside its own anchor makes a cycle).
constexpr size_t kMinNodeBudget = 100000;
constexpr int kMaxNesting = 1000;

// Reads nodes of one document, turning every problem into a located ConfigError.
class Reader {
 public:
  Reader(std::string origin, YAML::Mark fallback, size_t node_budget = kMinNodeBudget)
      : origin_(std::move(origin)), fallback_(fallback), node_budget_(std::max(node_budget, kMinNodeBudget)) {}

  std::string where(const YAML::Mark& m) const {
    const YAML::Mark& at = m.is_null() ? fallback_ : m;
    return origin_ + ":" + std::to_string(at.line + 1) + ":" + std::to_string(at.column + 1);
  }
  [[noreturn]] void fail(const YAML::Mark& m, const std::string& path, const std::string& problem) const {
    throw ConfigError(where(m), shown_path(path), one_line(problem));
  }
  [[noreturn]] void fail(const YAML::Node& n, const std::string& path, const std::string& problem) const {
    fail(n.Mark(), path, problem);
  }

  static ScalarKind kind(const YAML::Node& n) {
    if (!n.IsDefined() || n.IsNull()) return ScalarKind::kNull;
    const std::string& tag = n.Tag();
    const std::string& s = n.Scalar();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return ScalarKind::kString;  // quoted / !!str
    if (is_core_bool(s)) return ScalarKind::kBool;
    if (is_core_int(s)) return ScalarKind::kInt;
    if (is_core_float(s)) return ScalarKind::kFloat;
    return ScalarKind::kString;
  }

  // What a node is, for "got ..." in messages.
  static std::string describe(const YAML::Node& n) {
    if (!n.IsDefined() || n.IsNull()) return "nothing (null)";
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a map";
    std::string s = n.Scalar();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return kind(n) == ScalarKind::kString ? "\"" + s + "\"" : s;
  }

  bool get_bool(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar() || kind(n) != ScalarKind::kBool)
      fail(n, path, "must be true or false, got " + describe(n));
    return core_bool_value(n.Scalar());
  }

  int64_t get_int(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar() || kind(n) != ScalarKind::kInt) fail(n, path, "must be an integer, got " + describe(n));
    std::string s = n.Scalar();
    bool negative = false;
    if (s[0] == '+' || s[0] == '-') {
      negative = s[0] == '-';
      s = s.substr(1);
    }
    int base = 10;
    if (s.starts_with("0o")) base = 8;
    if (s.starts_with("0x")) base = 16;
    if (base != 10) s = s.substr(2);
    uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
    const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
    if (ec != std::errc() || end != s.data() + s.size() || magnitude > limit)
      fail(n, path, "integer out of range, got " + describe(n));
    return negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  }

  int64_t get_int_at_least(const YAML::Node& n, const std::string& path, int64_t min) const {
    int64_t v = get_int(n, path);
    if (v < min)
      fail(n, path, (min == 1 ? std::string("must be a positive integer") : "must be an integer >= " + std::to_string(min)) +
                        ", got " + std::to_string(v));
    return v;
  }

  double get_double(const YAML::Node& n, const std::string& path) const {
    ScalarKind k = n.IsScalar() ? kind(n) : ScalarKind::kNull;
    if (k == ScalarKind::kInt) return static_cast<double>(get_int(n, path));
    if (k != ScalarKind::kFloat) fail(n, path, "must be a number, got " + describe(n));
    std::string s = n.Scalar();
    bool negative = s[0] == '-';
    if (s[0] == '+' || s[0] == '-') s = s.substr(1);
    if (s == ".inf" || s == ".Inf" || s == ".INF")
      return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) fail(n, path, "number out of range, got " + describe(n));
    return negative ? -v : v;
  }

  // A text value (names, paths): any scalar but null and booleans, as written.
  std::string get_string(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar() || kind(n) == ScalarKind::kNull || kind(n) == ScalarKind::kBool)
      fail(n, path, "must be a string, got " + describe(n));
    if (n.Scalar().empty()) fail(n, path, "must not be empty");
    return n.Scalar();
  }

  std::string get_choice(const YAML::Node& n, const std::string& path, const std::vector<std::string>& choices) const {
    if (n.IsScalar() && kind(n) == ScalarKind::kString &&
        std::find(choices.begin(), choices.end(), n.Scalar()) != choices.end())
      return n.Scalar();
    fail(n, path, "must be one of " + join(choices) + ", got " + describe(n));
  }

  // The fields of a map. Keys must be names, unique, and (when `allowed` is not empty) among
  // `allowed`.
  std::vector<Entry> entries(const YAML::Node& n, const std::string& path, const std::vector<std::string>& allowed) const {
    if (!n.IsMap()) {
      std::string want = allowed.empty() ? "a map" : "a map with keys among " + join(allowed);
      fail(n, path, "must be " + want + ", got " + describe(n));
    }
    std::vector<Entry> out;
    std::map<std::string, size_t> seen;  // key -> its entry (a map may have many keys)
    for (const auto& kv : n) {  // (a copy: yaml-cpp's iterators hand out temporaries)
      const YAML::Node k = kv.first;
      if (!k.IsScalar() || k.Scalar().empty()) fail(k, path, "keys must be names, got " + describe(k));
      const std::string key = k.Scalar();
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        fail(k, join_key(path, key), "unknown key \"" + key + "\" (allowed: " + join(allowed) + ")");
      if (auto it = seen.find(key); it != seen.end())
        fail(k, join_key(path, key),
             "duplicate key (first at line " + std::to_string(out[it->second].key_node.Mark().line + 1) + ")");
      seen.emplace(key, out.size());
      out.push_back({key, k, kv.second});
    }
    return out;
  }

  // Any node as JSON, scalars typed by the core schema. Aliases are expanded: a value too large
  // once expanded (see kMinNodeBudget) is refused at `n`, under `path`.
  json to_json(const YAML::Node& n, const std::string& path) const { return to_json(n, path, n, path, 0); }

 private:
  json to_json(const YAML::Node& n, const std::string& path, const YAML::Node& root, const std::string& root_path,
               int depth) const {
    if (++nodes_converted_ > node_budget_)
      fail(root, root_path, "too large after alias expansion (more than " + std::to_string(node_budget_) +
                                " values in the document; a YAML alias repeats its anchor's whole value)");
    if (depth > kMaxNesting)
      fail(root, root_path, "nested deeper than " + std::to_string(kMaxNesting) + " levels (after alias expansion)");
    if (!n.IsDefined() || n.IsNull()) return nullptr;
    if (n.IsSequence()) {
      json a = json::array();
      for (size_t i = 0; i < n.size(); ++i) a.push_back(to_json(n[i], join_index(path, i), root, root_path, depth + 1));
      return a;
    }
    if (n.IsMap()) {
      json o = json::object();
      for (const auto& e : entries(n, path, {}))
        o[e.key] = to_json(e.value, join_key(path, e.key), root, root_path, depth + 1);
      return o;
    }
    switch (kind(n)) {
      case ScalarKind::kNull: return nullptr;
      case ScalarKind::kBool: return core_bool_value(n.Scalar());
      case ScalarKind::kInt: return get_int(n, path);
      case ScalarKind::kFloat: return get_double(n, path);
      case ScalarKind::kString: break;
    }
    return n.Scalar();
  }

  std::string origin_;
  YAML::Mark fallback_;
  size_t node_budget_;
  mutable size_t nodes_converted_ = 0;  // by to_json, over the whole document
};

const Entry* find_entry(const std::vector<Entry>& es, const std::string& key) {
  for (const auto& e : es)
    if (e.key == key) return &e;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Ops

enum class Section { kOps, kLabels, kPostProcess };

// The deepest node along an op error's key path ("size.shortest_edge", "clusters[3][1]") below
// `params`, and whether the path's first key is one of the params at all.
// (Nodes are rebound with reset(): YAML::Node's operator= would overwrite the node in the tree.)
YAML::Node node_along(const YAML::Node& params, const std::string& rel, bool* found_first) {
  YAML::Node node(params);
  *found_first = false;
  std::string token;
  size_t i = 0, depth = 0;
  while (i <= rel.size()) {
    if (i == rel.size() || rel[i] == '.' || rel[i] == '[') {
      if (!token.empty()) {
        const YAML::Node& here = node;
        if (!here.IsMap() || !here[token].IsDefined()) return node;
        node.reset(here[token]);
        if (depth++ == 0) *found_first = true;
        token.clear();
      }
      if (i < rel.size() && rel[i] == '[') {
        size_t close = rel.find(']', i);
        if (close == std::string::npos) return node;
        size_t index = std::stoul(rel.substr(i + 1, close - i - 1));
        const YAML::Node& here = node;
        if (!here.IsSequence() || index >= here.size()) return node;
        node.reset(here[index]);
        i = close;
      }
    } else {
      token += rel[i];
    }
    ++i;
  }
  return node;
}

// An item of ops / labels / post_process, taken apart: the op's name and its parameters, each
// with its node and key path.
struct OpItem {
  std::string name, name_path, params_path;
  YAML::Node name_node, params;  // params: undefined or null when the item has none
  bool op_form = false;           // `- {op: NAME, ...}`: the params map holds `op` too
};

// One item of ops / labels / post_process:
//   - NAME: {params}      (a map with one key, the op's name)
//   - {op: NAME, ...}     (params beside `op`)
//   - NAME                (an op without parameters)
// (Nodes are bound with reset(): YAML::Node's operator= would overwrite the node in the tree.)
OpItem read_op_item(const Reader& r, const YAML::Node& item, const std::string& item_path) {
  OpItem op;
  if (item.IsScalar() && Reader::kind(item) == ScalarKind::kString) {
    op.name = item.Scalar();
    op.name_node.reset(item);
    op.name_path = op.params_path = item_path;
    return op;
  }
  if (!item.IsMap())
    r.fail(item, item_path, "must be an op (`- NAME: {parameters}`, `- {op: NAME, ...}` or `- NAME`), got " +
                                Reader::describe(item));
  std::vector<Entry> es = r.entries(item, item_path, {});
  if (const Entry* e = find_entry(es, "op")) {
    op.op_form = true;
    op.name = r.get_string(e->value, join_key(item_path, "op"));
    op.name_node.reset(e->value);
    op.name_path = join_key(item_path, "op");
    op.params.reset(item);
    op.params_path = item_path;
  } else if (es.size() == 1) {
    op.name = es[0].key;
    op.name_node.reset(es[0].key_node);
    op.name_path = op.params_path = join_key(item_path, op.name);
    op.params.reset(es[0].value);
  } else {
    std::vector<std::string> keys;
    for (const auto& e : es) keys.push_back(e.key);
    r.fail(item, item_path,
           "an op is written `- NAME: {parameters}` (one key, the op's name) or `- {op: NAME, ...}`, got " +
               (keys.empty() ? std::string("an empty map") : "the keys " + join(keys)));
  }
  return op;
}

// The op's parameter keys (yaml_op_params), once its name is known and fits the section.
const std::vector<std::string>& op_param_keys(const Reader& r, const OpItem& op, Section section) {
  const auto& schema = yaml_op_params();
  auto known = schema.find(op.name);
  if (known == schema.end()) {
    std::vector<std::string> names;
    for (const auto& kv : schema) names.push_back(kv.first);
    r.fail(op.name_node, op.name_path, "unknown op \"" + op.name + "\" (known ops: " + join(names) + ")");
  }
  const bool post = op.name.starts_with("post_process_");
  if (section == Section::kPostProcess && !post)
    r.fail(op.name_node, op.name_path,
           "\"" + op.name + "\" is not a post-processing op (post_process_*); list it under ops or labels");
  if (section != Section::kPostProcess && post)
    r.fail(op.name_node, op.name_path, "\"" + op.name + "\" post-processes model outputs; list it under post_process");
  if (op.name == "post_process_object_detection")
    r.fail(op.name_node, op.name_path,
           "post_process_object_detection reads logits and pred_boxes, and post-processing runs read one logits "
           "file per input: use pixelflow postprocess object-detection (or the C++ / Python API)");
  return known->second;
}

// One parameter's value: `resample` by filter name or number, anything else as JSON. A
// dict-valued parameter's keys are checked against `all` (the op's keys, "size.height", ...).
json read_op_param(const Reader& r, const Entry& e, const std::string& path, const std::vector<std::string>& all) {
  std::vector<std::string> sub;
  for (const auto& k : all)
    if (k.starts_with(e.key + ".")) sub.push_back(k.substr(e.key.size() + 1));
  if (!sub.empty() && e.value.IsMap()) r.entries(e.value, path, sub);  // unknown size keys
  if (e.key == "resample" && e.value.IsScalar() && Reader::kind(e.value) == ScalarKind::kString) {
    int filter = resample_from_name(e.value.Scalar());
    if (filter < 0)
      r.fail(e.value, path, "unknown filter \"" + e.value.Scalar() +
                                "\" (nearest, lanczos, bilinear, bicubic, box, hamming, or PIL's number 0..5)");
    return filter;
  }
  return r.to_json(e.value, path);
}

// Parameters: the op's Hugging Face keys (`all`), dict-valued ones checked one level down.
json read_op_params(const Reader& r, const OpItem& op, const std::vector<std::string>& all) {
  std::vector<std::string> top;
  for (const auto& k : all)
    if (k.find('.') == std::string::npos) top.push_back(k);
  std::vector<std::string> allowed = top;
  if (op.op_form) allowed.insert(allowed.begin(), "op");
  json p = json::object();
  if (!op.params.IsDefined() || op.params.IsNull()) return p;
  if (!op.params.IsMap())
    r.fail(op.params, op.params_path,
           "the parameters of " + op.name + " must be a map" +
               (top.empty() ? " (it takes none)" : " with keys among " + join(top)) + ", got " +
               Reader::describe(op.params));
  if (top.empty() && !op.op_form && op.params.size() != 0) r.fail(op.params, op.params_path, op.name + " takes no parameters");
  for (const auto& e : r.entries(op.params, op.params_path, allowed.empty() ? std::vector<std::string>{"(none)"} : allowed)) {
    if (op.op_form && e.key == "op") continue;
    p[e.key] = read_op_param(r, e, join_key(op.params_path, e.key), all);
  }
  return p;
}

// Validates `spec` by building the op: a bad parameter gets the op's own message, located at the
// parameter's node.
void check_op_builds(const Reader& r, const YAML::Node& item, const OpItem& op, const OpSpec& spec) {
  OpSpec check = spec;
  if (op.name == "to_channel_dimension_format" && spec.params.contains("data_format") &&
      spec.params["data_format"] == "input")
    check.params["data_format"] = "channels_first";  // "input": the input's layout, known at run time
  try {
    (void)make_op(check);
  } catch (const ConfigError& e) {
    std::string key = e.key_path();
    const std::string& problem = e.problem();
    if (key.starts_with(op.name + ".")) key = key.substr(op.name.size() + 1);
    const YAML::Node& params = op.params;
    bool found_first = false;
    YAML::Node at = params.IsDefined() && params.IsMap() ? node_along(params, key, &found_first) : item;
    if (!found_first) r.fail(params.IsDefined() && !params.IsNull() ? params : item, op.params_path, problem);
    r.fail(at, join_key(op.params_path, key), problem);
  } catch (const std::exception& e) {
    r.fail(item, op.params_path, e.what());
  }
}

OpSpec parse_op(const Reader& r, const YAML::Node& item, const std::string& item_path, Section section) {
  const OpItem op = read_op_item(r, item, item_path);
  const std::vector<std::string>& keys = op_param_keys(r, op, section);
  OpSpec spec{op.name, read_op_params(r, op, keys), section == Section::kLabels ? Target::kLabels : Target::kImage};
  check_op_builds(r, item, op, spec);
  return spec;
}

std::vector<OpSpec> parse_ops(const Reader& r, const YAML::Node& n, const std::string& path, Section section) {
  if (n.IsNull()) return {};
  if (!n.IsSequence()) r.fail(n, path, "must be a list of ops (`- resize: {...}`), got " + Reader::describe(n));
  std::vector<OpSpec> out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(parse_op(r, n[i], join_index(path, i), section));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The document

const std::vector<std::string> kTopKeys = {
    "processor", "load",    "ops",           "labels", "outputs",  "video",   "config",   "tiles",
    "kwargs",    "input",   "batch_size",    "threads", "max_in_flight", "ordered", "on_error",
    "output",    "fuse",    "post_process", "pad"};

// `value` relative to `base` (the YAML file's folder) unless absolute.
std::string relative_to(const fs::path& base, const std::string& value) {
  fs::path p(value);
  if (p.is_absolute() || base.empty()) return p.lexically_normal().string();
  return (base / p).lexically_normal().string();
}

// The top-level entries of a document, with what reading them needs.
struct Document {
  const Reader& r;
  std::vector<Entry> es;
  fs::path base;  // the YAML file's folder: relative paths are relative to it
  const Entry* get(const char* key) const { return find_entry(es, key); }
};

// Which keys go together: `config` or `ops` (or `post_process` alone), and the keys that only one
// of them takes.
void check_top_keys(const Document& d, const YAML::Node& root) {
  const Reader& r = d.r;
  const Entry* config = d.get("config");
  const Entry* ops = d.get("ops");
  if (config && ops)
    r.fail(config->key_node, "config", "`config` and `ops` cannot be used together (config takes the ops from a processor config)");
  if (!config && !ops && !d.get("post_process"))
    r.fail(root, "", "needs `ops:` (the ops, one by one), `config:` (a preprocessor_config.json or model id) "
                     "or `post_process:` (ops run on model outputs)");
  if (!config && !ops) {
    // A post-processing pipeline: its inputs are model outputs, not images.
    for (const char* k : {"load", "labels", "outputs", "video", "tiles", "pad"})
      if (const Entry* e = d.get(k))
        r.fail(e->key_node, k, "describes images; a pipeline with `post_process` and no `ops` reads model outputs (logits .npy files)");
  }
  if (config) {
    for (const char* k : {"processor", "labels", "outputs", "video", "tiles", "pad"})
      if (const Entry* e = d.get(k))
        r.fail(e->key_node, k, "comes from the processor config when `config` is used; spell the ops out under `ops` to set it");
  } else if (const Entry* e = d.get("kwargs")) {
    r.fail(e->key_node, "kwargs", "call kwargs need `config`; with `ops`, write the values into the ops' parameters");
  }
}

// `load:`; with `config`, the keys the processor config decides are refused.
LoadSpec read_load(const Document& d, bool with_config) {
  const Reader& r = d.r;
  LoadSpec load;
  const Entry* e = d.get("load");
  if (!e) return load;
  for (const auto& f : r.entries(e->value, "load", {"convert_rgb", "exif_transpose", "input_data_format", "max_image_pixels",
                                                       "infer_layout_4_channels"})) {
    const std::string path = join_key("load", f.key);
    if (with_config && (f.key == "convert_rgb" || f.key == "input_data_format" || f.key == "infer_layout_4_channels"))
      r.fail(f.key_node, path, std::string("comes from the processor config when `config` is used (") +
                                   (f.key == "convert_rgb"       ? "do_convert_rgb"
                                    : f.key == "input_data_format" ? "input_data_format, in kwargs"
                                                                   : "its class") +
                                   ")");
    if (f.key == "convert_rgb") load.convert_rgb = r.get_bool(f.value, path);
    if (f.key == "exif_transpose") load.exif_transpose = r.get_bool(f.value, path);
    if (f.key == "infer_layout_4_channels") load.infer_layout_4_channels = r.get_bool(f.value, path);
    if (f.key == "max_image_pixels") load.max_pixels = r.get_int_at_least(f.value, path, 1);
    if (f.key == "input_data_format" && !f.value.IsNull()) {
      std::string v = r.get_choice(f.value, path, {"channels_first", "channels_last"});
      load.input_data_format = v == "channels_first" ? Layout::kChannelsFirst : Layout::kChannelsLast;
    }
  }
  return load;
}

// `config:` (and `kwargs:`): the plan of the processor config, as its call with the kwargs makes it.
Plan plan_from_config(const Document& d, const LoadSpec& load) {
  const Reader& r = d.r;
  const Entry* config = d.get("config");
  std::string where = r.get_string(config->value, "config");
  std::error_code ec;  // a name the file system refuses (too long, ...) is simply not there
  if (!fs::path(where).is_absolute() && fs::exists(d.base / where, ec)) where = relative_to(d.base, where);
  json kwargs = json::object();
  const Entry* kw = d.get("kwargs");
  if (kw && !kw->value.IsNull())  // entry by entry, so that an error names the kwarg
    for (const auto& e : r.entries(kw->value, "kwargs", {})) kwargs[e.key] = r.to_json(e.value, join_key("kwargs", e.key));
  CallOptions opts;
  opts.load_image = load.exif_transpose;
  Plan plan;
  try {
    plan = ImageProcessor::from_pretrained(where).plan(kwargs, opts);
  } catch (const ConfigError& e) {
    // Errors in call kwargs are located at "call_kwargs"; point at that kwarg.
    if (kw && e.where() == "call_kwargs") {
      bool found_first = false;
      YAML::Node at = node_along(kw->value, e.key_path(), &found_first);
      r.fail(found_first ? at : kw->value, join_key("kwargs", e.key_path()), e.problem());
    }
    r.fail(config->value, "config", e.what());
  } catch (const Error& e) {
    r.fail(config->value, "config", e.what());
  }
  if (d.get("load") && load.max_pixels != LoadSpec{}.max_pixels) plan.load.max_pixels = load.max_pixels;
  return plan;
}

// `ops:` and the keys beside it (processor, labels, outputs, video): the plan spelled out.
Plan plan_from_ops(const Document& d, const LoadSpec& load) {
  const Reader& r = d.r;
  Plan plan;
  if (const Entry* e = d.get("processor")) plan.processor_class = r.get_string(e->value, "processor");
  plan.load = load;
  if (const Entry* ops = d.get("ops")) plan.image_ops = parse_ops(r, ops->value, "ops", Section::kOps);
  if (const Entry* e = d.get("labels")) plan.label_ops = parse_ops(r, e->value, "labels", Section::kLabels);
  if (const Entry* e = d.get("tiles")) plan.tile_ops = parse_ops(r, e->value, "tiles", Section::kOps);
  if (const Entry* e = d.get("outputs")) {
    for (const auto& f : r.entries(e->value, "outputs", {"image_key", "labels_key", "tiles_key", "untiled_count",
                                                          "tiles_per_input", "pad_tiles", "input_sizes_key",
                                                          "group_sizes_key", "frames_per_sample", "grid_keys"})) {
      if (f.key == "untiled_count") {
        plan.tiles_without_tile_ops = r.get_int_at_least(f.value, join_key("outputs", f.key), 0);
        continue;
      }
      if (f.key == "tiles_per_input") {
        if (r.get_bool(f.value, join_key("outputs", f.key))) plan.batching = Batching::kTilesPerInput;
        continue;
      }
      if (f.key == "pad_tiles") {
        plan.pad_tiles = r.get_bool(f.value, join_key("outputs", f.key));
        continue;
      }
      if (f.key == "input_sizes_key") {
        plan.input_sizes_key = r.get_string(f.value, join_key("outputs", f.key));
        continue;
      }
      if (f.key == "frames_per_sample") {
        if (r.get_bool(f.value, join_key("outputs", f.key))) plan.batching = Batching::kFramesPerSample;
        continue;
      }
      if (f.key == "grid_keys") {
        const std::string path = join_key("outputs", f.key);
        if (!f.value.IsSequence() || f.value.size() != 2)
          r.fail(f.value, path, "must be a list of two output names (rows, columns)");
        plan.grid_keys = {r.get_string(f.value[0], path + "[0]"), r.get_string(f.value[1], path + "[1]")};
        continue;
      }
      if (f.key == "group_sizes_key") {
        plan.group_sizes_key = r.get_string(f.value, join_key("outputs", f.key));
        continue;
      }
      std::string v = r.get_string(f.value, join_key("outputs", f.key));
      (f.key == "image_key" ? plan.image_key : f.key == "labels_key" ? plan.labels_key : plan.tiles_key) = v;
    }
    if (plan.image_key == plan.labels_key)
      r.fail(e->value, "outputs", "image_key and labels_key must differ, both are \"" + plan.image_key + "\"");
  }
  if (const Entry* e = d.get("video")) plan.video = r.get_bool(e->value, "video");
  // DETR's pad(): every image padded at the bottom / right to the batch's largest (or size), with
  // pixel_mask unless pixel_mask: false (Yolos).
  if (const Entry* e = d.get("pad")) {
    plan.batching = Batching::kPad;
    for (const auto& f : r.entries(e->value, "pad", {"pixel_mask", "size"})) {
      const std::string path = join_key("pad", f.key);
      if (f.key == "pixel_mask") {
        plan.pad.pixel_mask = r.get_bool(f.value, path);
      } else {
        int64_t h = 0, w = 0;
        for (const auto& g : r.entries(f.value, path, {"height", "width"}))
          (g.key == "height" ? h : w) = r.get_int_at_least(g.value, join_key(path, g.key), 1);
        if (h == 0 || w == 0) r.fail(f.value, path, "needs height and width");
        plan.pad.size = std::make_pair(h, w);
      }
    }
  }
  // patchify's arrays make Qwen2-VL's batch: concatenated rows and image_grid_thw.
  if (!plan.image_ops.empty() && plan.image_ops.back().name == "patchify") plan.batching = Batching::kPatches;
  // As VideoMAE (each frame) and the classes that infer each image's layout on their own: unless
  // input_data_format is set.
  plan.load.infer_layout_per_input =
      (plan.video || infers_layout_per_image(plan.processor_class)) && !plan.load.input_data_format.has_value();
  return plan;
}

// `input:` one of folder, glob or list (and recursive, for a folder).
SourceSpec read_input(const Document& d, const Entry& e) {
  const Reader& r = d.r;
  auto fs_ = r.entries(e.value, "input", {"folder", "glob", "list", "recursive"});
  const Entry* src = nullptr;
  for (const auto& f : fs_) {
    if (f.key == "recursive") continue;
    if (src) r.fail(f.key_node, join_key("input", f.key), "give one of folder, glob or list (also got " + src->key + ")");
    src = &f;
  }
  if (!src) r.fail(e.value, "input", "needs one of folder, glob or list");
  SourceSpec s;
  s.kind = src->key == "folder" ? SourceSpec::Kind::kFolder
           : src->key == "glob" ? SourceSpec::Kind::kGlob : SourceSpec::Kind::kList;
  s.path = relative_to(d.base, r.get_string(src->value, join_key("input", src->key)));
  if (const Entry* rec = find_entry(fs_, "recursive")) {
    if (s.kind != SourceSpec::Kind::kFolder)
      r.fail(rec->key_node, "input.recursive", "applies to `folder` only (a glob says it with **)");
    s.recursive = r.get_bool(rec->value, "input.recursive");
  }
  return s;
}

// `output:` dir (required), format and dtype.
SinkSpec read_output(const Document& d, const Entry& e) {
  const Reader& r = d.r;
  SinkSpec sink;
  bool has_dir = false;
  for (const auto& f : r.entries(e.value, "output", {"dir", "format", "dtype"})) {
    if (f.key == "dir") {
      sink.out_dir = relative_to(d.base, r.get_string(f.value, "output.dir"));
      has_dir = true;
    } else if (f.key == "dtype") {
      sink.dtype = *parse_float_dtype(r.get_choice(f.value, "output.dtype", {"float32", "float16", "bfloat16"}));
    } else {
      sink.format = r.get_choice(f.value, "output.format", {"npy", "safetensors"}) == "npy"
                        ? SinkSpec::Format::kNpy : SinkSpec::Format::kSafetensors;
    }
  }
  if (!has_dir) r.fail(e.value, "output", "needs `dir` (the folder the batches are written to)");
  return sink;
}

// A non-negative int setting (threads, max_in_flight).
int read_int_setting(const Reader& r, const Entry& e, const char* key) {
  int64_t v = r.get_int_at_least(e.value, key, 0);
  if (v > std::numeric_limits<int>::max()) r.fail(e.value, key, "is too large, got " + std::to_string(v));
  return static_cast<int>(v);
}

// The run settings: input, batch_size, threads, max_in_flight, ordered, on_error, output, fuse.
void read_run_settings(const Document& d, PipelineSpec& spec) {
  const Reader& r = d.r;
  if (const Entry* e = d.get("input")) spec.source = read_input(d, *e);
  if (const Entry* e = d.get("batch_size")) spec.batch_size = r.get_int_at_least(e->value, "batch_size", 1);
  if (const Entry* e = d.get("threads")) {
    spec.options.threads = read_int_setting(r, *e, "threads");
    if (spec.options.threads > kMaxThreads)
      r.fail(e->value, "threads", "must be at most " + std::to_string(kMaxThreads) + ", got " +
                                      std::to_string(spec.options.threads));
  }
  if (const Entry* e = d.get("max_in_flight")) spec.options.max_in_flight = read_int_setting(r, *e, "max_in_flight");
  if (const Entry* e = d.get("ordered")) spec.ordered = r.get_bool(e->value, "ordered");
  spec.options.ordered = spec.ordered;
  if (const Entry* e = d.get("on_error"))
    spec.on_error = r.get_choice(e->value, "on_error", {"fail", "skip"}) == "skip" ? OnError::kSkip : OnError::kFail;
  spec.options.skip_failed = spec.on_error == OnError::kSkip;
  if (const Entry* e = d.get("output")) spec.sink = read_output(d, *e);
  if (const Entry* e = d.get("fuse")) spec.options.fuse = r.get_bool(e->value, "fuse");
}

PipelineSpec parse_document(const Reader& r, const YAML::Node& root, const std::string& origin) {
  if (!root.IsMap())
    r.fail(root, "", "a pipeline file is a map of settings (ops or config, load, input, output, ...), got " +
                         Reader::describe(root));
  const Document d{r, r.entries(root, "", kTopKeys), fs::path(origin).parent_path()};
  check_top_keys(d, root);
  const bool with_config = d.get("config") != nullptr;
  const LoadSpec load = read_load(d, with_config);

  PipelineSpec spec;
  spec.origin = origin;
  spec.plan = with_config ? plan_from_config(d, load) : plan_from_ops(d, load);
  spec.options.load_image = spec.plan.load.exif_transpose;
  read_run_settings(d, spec);
  if (const Entry* post = d.get("post_process"))
    spec.post_process = parse_ops(r, post->value, "post_process", Section::kPostProcess);
  return spec;
}

std::string layout_name(Layout l) { return l == Layout::kChannelsFirst ? "channels_first" : "channels_last"; }

nlohmann::ordered_json ops_json(const std::vector<OpSpec>& ops) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const auto& op : ops) a.push_back({{op.name, nlohmann::ordered_json::parse(op.params.dump())}});
  return a;
}

}  // namespace

const std::map<std::string, std::vector<std::string>>& yaml_op_params() {
  // The keys each op's constructor reads, declared next to the op (kParamKeys; registry/op_list.def).
  static const std::map<std::string, std::vector<std::string>> m = [] {
    std::map<std::string, std::vector<std::string>> keys;
    for (const auto& name : registered_ops()) keys[name] = pixelflow::op_param_keys(name);
    return keys;
  }();
  return m;
}

int resample_from_name(const std::string& name) {
  std::string s = name;
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::map<std::string, int> filters = {{"nearest", 0}, {"lanczos", 1}, {"bilinear", 2},
                                                     {"bicubic", 3}, {"box", 4},     {"hamming", 5}};
  auto it = filters.find(s);
  return it == filters.end() ? -1 : it->second;
}

namespace {

// Counts the documents of a YAML stream (at most `limit`), remembering where the second starts.
// Used instead of YAML::LoadAll, which loops forever on some malformed streams (yaml-cpp 0.7;
// found by fuzz_pipeline_yaml: the parser stops advancing and keeps reporting empty documents).
class DocumentCounter final : public YAML::EventHandler {
 public:
  int documents = 0;
  YAML::Mark second;
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

PipelineSpec parse_pipeline_yaml(const std::string& text, const std::string& origin) {
  YAML::Node doc;
  DocumentCounter counter;
  try {
    doc = YAML::Load(text);  // the first document
    std::istringstream in(text);
    YAML::Parser parser(in);
    for (int k = 0; k < 2 && parser.HandleNextDocument(counter); ++k) {
    }
  } catch (const YAML::Exception& e) {
    Reader r(origin, YAML::Mark());
    r.fail(e.mark, "syntax error", e.msg);
  }
  if (doc.IsNull() && counter.documents <= 1) {
    Reader r(origin, YAML::Mark());
    r.fail(YAML::Mark(), "", "the file is empty (a pipeline needs `ops:` or `config:`)");
  }
  Reader r(origin, doc.Mark(), text.size());
  if (counter.documents > 1) r.fail(counter.second, "", "one document per file, found more than one");
  try {
    return parse_document(r, doc, origin);
  } catch (const YAML::Exception& e) {  // a node access yaml-cpp refuses: still one located line
    r.fail(e.mark, "", e.msg);
  } catch (const std::bad_alloc&) {
    r.fail(doc.Mark(), "", "out of memory while reading the pipeline");
  }
}

PipelineSpec load_pipeline_yaml(const std::string& path) {
  return parse_pipeline_yaml(read_regular_file(path, kMaxConfigFileBytes, "a pipeline file", FileRole::kConfig), path);
}

nlohmann::ordered_json describe_pipeline(const PipelineSpec& spec) {
  using ojson = nlohmann::ordered_json;
  const Plan& p = spec.plan;
  ojson load = {{"convert_rgb", p.load.convert_rgb},
                {"exif_transpose", p.load.exif_transpose},
                {"input_data_format", p.load.input_data_format ? ojson(layout_name(*p.load.input_data_format)) : ojson()},
                {"infer_layout_per_input", p.load.infer_layout_per_input},
                {"infer_layout_4_channels", p.load.infer_layout_4_channels},
                {"max_image_pixels", p.load.max_pixels}};
  ojson out = {{"origin", spec.origin},
               {"processor", p.processor_class},
               {"load", load},
               {"ops", ops_json(p.image_ops)},
               {"labels", ops_json(p.label_ops)},
               {"outputs", {{"image_key", p.image_key}, {"labels_key", p.labels_key}}},
               {"video", p.video},
               {"warnings", p.warnings}};
  if (!p.tile_ops.empty()) out["tiles"] = ops_json(p.tile_ops);
  if (p.batching == Batching::kTilesPerInput) {
    out["outputs"]["tiles_per_input"] = true;
    out["outputs"]["pad_tiles"] = p.pad_tiles;
  }
  if (p.batching == Batching::kFramesPerSample) {
    out["outputs"]["frames_per_sample"] = true;
    out["outputs"]["pad_tiles"] = p.pad_tiles;
  }
  if (!p.grid_keys.first.empty()) out["outputs"]["grid_keys"] = {p.grid_keys.first, p.grid_keys.second};
  if (!p.input_sizes_key.empty()) out["outputs"]["input_sizes_key"] = p.input_sizes_key;
  if (!p.group_sizes_key.empty()) out["outputs"]["group_sizes_key"] = p.group_sizes_key;
  if (!p.tiles_key.empty()) {
    out["outputs"]["tiles_key"] = p.tiles_key;
    out["outputs"]["untiled_count"] = p.tiles_without_tile_ops;
  }
  if (spec.source) {
    const char* kind = spec.source->kind == SourceSpec::Kind::kFolder ? "folder"
                       : spec.source->kind == SourceSpec::Kind::kGlob ? "glob" : "list";
    out["input"] = {{kind, spec.source->path}};
    if (spec.source->kind == SourceSpec::Kind::kFolder) out["input"]["recursive"] = spec.source->recursive;
  } else {
    out["input"] = nullptr;
  }
  out["batch_size"] = spec.batch_size;
  out["threads"] = spec.options.threads;
  out["max_in_flight"] = spec.options.max_in_flight;
  out["ordered"] = spec.ordered;
  out["on_error"] = spec.on_error == OnError::kSkip ? "skip" : "fail";
  if (spec.sink)
  {
    out["output"] = {{"dir", spec.sink->out_dir},
                     {"format", spec.sink->format == SinkSpec::Format::kNpy ? "npy" : "safetensors"}};
    if (spec.sink->dtype != DType::kFloat32) out["output"]["dtype"] = dtype_name(spec.sink->dtype);
  }
  else
    out["output"] = nullptr;
  out["fuse"] = spec.options.fuse;
  out["post_process"] = ops_json(spec.post_process);
  return out;
}

}  // namespace pixelflow::pipelines
