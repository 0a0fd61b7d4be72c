// pixelflow_consumer IMAGE [CONFIG]: preprocesses IMAGE with the image processor of CONFIG (a
// folder holding preprocessor_config.json, or a model id; default: the bundled
// openai/clip-vit-base-patch32) and prints the processor class, then one line per output:
//   pixel_values float32 (1, 3, 224, 224)
// On error: one line on stderr, exit status 1 (2 for bad usage).
#include <exception>
#include <iostream>
#include <string>
#include <variant>

#include "graph/batch_feature.h"
#include "graph/tensor.h"
#include "pipelines/image_processor.h"
#include "pipelines/processor_config.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: pixelflow_consumer IMAGE [CONFIG]\n";
    return 2;
  }
  namespace pp = pixelflow::pipelines;
  try {
    // The bundled configs of the installed package (the library's built-in default points into
    // its build tree); $PIXELFLOW_MODELS_DIR still wins when set.
    pp::set_bundled_models_dir(PIXELFLOW_CONSUMER_MODELS_DIR);
    const std::string config = argc == 3 ? argv[2] : "openai/clip-vit-base-patch32";
    const auto processor = pp::ImageProcessor::from_pretrained(config);
    const pixelflow::BatchFeature out = processor({pixelflow::ops::InputItem::file(argv[1])});
    std::cout << "processor " << processor.class_name() << "\n";
    for (const std::string& key : out.keys()) {
      const auto& value = out.at(key);
      if (const auto* t = std::get_if<pixelflow::Tensor>(&value)) {
        std::cout << key << " " << pixelflow::dtype_name(t->dtype()) << " " << pixelflow::shape_str(t->shape()) << "\n";
      } else {
        std::cout << key << " list of " << std::get<std::vector<pixelflow::Tensor>>(value).size() << "\n";
      }
    }
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (char& c : msg) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    std::cerr << "pixelflow_consumer: " << msg << "\n";
    return 1;
  }
  return 0;
}
