// Ops by name, so that configs and YAML pipelines can name them.
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow {

// Builds the op `spec` names; throws ConfigError for an unknown name (listing the known ones)
// or for bad parameters (naming the key).
OpPtr make_op(const OpSpec& spec);
// The registered names, sorted.
std::vector<std::string> registered_ops();
// The parameter keys op `name` reads (its class's kParamKeys; "a.b": key b of dict parameter a);
// throws ConfigError for an unknown name.
const std::vector<std::string>& op_param_keys(const std::string& name);

}  // namespace pixelflow
