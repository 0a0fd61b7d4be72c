// pixelflow run: a whole-dataset run (input source -> DataLoader -> DatasetWriter).
#pragma once

#include "cli/args.h"

namespace pixelflow::cli {

int cmd_run(Args& args);

}  // namespace pixelflow::cli
