// libFuzzer: bytes -> YAML pipeline file (pipelines/yaml_pipeline.h) -> PipelineSpec -> the
// graph its plan describes (build_pipeline, fused and unfused). Built only once
// pipelines/yaml_pipeline.h exists (tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <string>

#include "registry/builder.h"
#include "pipelines/yaml_pipeline.h"
#include "tests/fuzz/fuzz_common.h"

using namespace pixelflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean([&] {
    const pipelines::PipelineSpec spec = pipelines::parse_pipeline_yaml(text, "fuzz.yaml");
    for (bool fuse : {true, false}) (void)build_pipeline(spec.plan, BuildOptions{fuse}).describe();
  });
  return 0;
}
