#include "registry/registry.h"

#include <functional>
#include <map>

#include "base/errors.h"
#include "base/text.h"
#define PIXELFLOW_OP_HEADERS
#include "registry/op_list.def"
#undef PIXELFLOW_OP_HEADERS

namespace pixelflow {

namespace {

struct Entry {
  std::function<OpPtr(const nlohmann::json&, Target)> make;
  const std::vector<std::string>* param_keys;
};

template <class T>
OpPtr construct(const nlohmann::json& params, Target target) {
  if constexpr (std::is_constructible_v<T, const nlohmann::json&, Target>) {
    return std::make_shared<T>(params, target);
  } else {
    if (target != Target::kImage) throw ConfigError("op", "this op applies to images only");
    return std::make_shared<T>(params);
  }
}

const std::map<std::string, Entry>& registry() {
  static const std::map<std::string, Entry> r = [] {
    std::map<std::string, Entry> m;
#define PIXELFLOW_OP(name, cls) m.emplace(#name, Entry{&construct<cls>, &cls::kParamKeys});
#include "registry/op_list.def"
#undef PIXELFLOW_OP
    return m;
  }();
  return r;
}

const Entry& entry(const std::string& name) {
  auto it = registry().find(name);
  if (it == registry().end()) throw ConfigError(name, "unknown op (known ops: " + join(registered_ops()) + ")");
  return it->second;
}

}  // namespace

std::vector<std::string> registered_ops() {
  std::vector<std::string> names;
  for (const auto& kv : registry()) names.push_back(kv.first);
  return names;
}

const std::vector<std::string>& op_param_keys(const std::string& name) { return *entry(name).param_keys; }

OpPtr make_op(const OpSpec& spec) {
  const Entry& e = entry(spec.name);
  try {
    return e.make(spec.params, spec.target);
  } catch (ConfigError& err) {
    err.add_key_prefix(spec.name);  // "size" -> "resize.size"
    throw;
  } catch (Error& err) {
    err.add_op(spec.name);
    throw;
  }
}

}  // namespace pixelflow
