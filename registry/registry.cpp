#include "registry/registry.h"

#include <functional>
#include <map>

#include "base/errors.h"
#include "base/text.h"
#include "ops/astype/astype.h"
#include "ops/center_crop/center_crop.h"
#include "ops/color_quantize/color_quantize.h"
#include "ops/flip_channel_order/flip_channel_order.h"
#include "ops/normalize/normalize.h"
#include "ops/pad/pad.h"
#include "ops/post_process_semantic_segmentation/post_process_semantic_segmentation.h"
#include "ops/reduce_label/reduce_label.h"
#include "ops/rescale/rescale.h"
#include "ops/resize/resize_op.h"
#include "ops/to_channel_dimension_format/to_channel_dimension_format.h"

namespace pixelflow {

namespace {

using Factory = std::function<OpPtr(const nlohmann::json&, Target)>;

template <class T>
OpPtr construct(const nlohmann::json& params, Target target) {
  if constexpr (std::is_constructible_v<T, const nlohmann::json&, Target>) {
    return std::make_shared<T>(params, target);
  } else {
    if (target != Target::kImage) throw ConfigError("op", "this op applies to images only");
    return std::make_shared<T>(params);
  }
}

const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> r = [] {
    std::map<std::string, Factory> m;
#define PIXELFLOW_OP(name, cls) m.emplace(#name, &construct<cls>);
#include "registry/op_list.def"
#undef PIXELFLOW_OP
    return m;
  }();
  return r;
}

}  // namespace

std::vector<std::string> registered_ops() {
  std::vector<std::string> names;
  for (const auto& kv : registry()) names.push_back(kv.first);
  return names;
}

OpPtr make_op(const OpSpec& spec) {
  auto it = registry().find(spec.name);
  if (it == registry().end()) {
    throw ConfigError(spec.name, "unknown op (known ops: " + join(registered_ops()) + ")");
  }
  try {
    return it->second(spec.params, spec.target);
  } catch (ConfigError& e) {
    e.add_key_prefix(spec.name);  // "size" -> "resize.size"
    throw;
  } catch (Error& e) {
    e.add_op(spec.name);
    throw;
  }
}

}  // namespace pixelflow
