// Ops by name, so that configs and YAML pipelines can name them.
#pragma once

#include <string>
#include <vector>

#include "graph/op.h"

namespace pixelflow {

// Builds the op `spec` names; throws ConfigError for an unknown name (listing the known ones)
// or for bad parameters (naming the key).
OpPtr make_op(const OpSpec& spec);
std::vector<std::string> registered_ops();

}  // namespace pixelflow
