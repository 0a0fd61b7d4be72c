// pixelflow: the command-line front end.
//
//   pixelflow preprocess --config PATH --out DIR [options] INPUT...
//   pixelflow postprocess semantic-segmentation --config PATH --logits FILE.npy
//                         [--target-size H,W]... --out DIR
//   pixelflow postprocess object-detection --config PATH --logits FILE.npy --boxes FILE.npy
//                         [--threshold T] [--target-sizes H,W[;H,W...]] [--top-k K]
//                         [--use-focal-loss true|false] --out DIR
//   pixelflow save-config --config PATH --out DIR [--set KEY=JSON]...
//   pixelflow check-pipeline FILE.yaml
//
// Exit status: 0 on success, 1 when an input or the configuration is at fault (one line on
// stderr naming it, no output files), 2 on a usage error.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/run_command.h"
#include "base/errors.h"
#include "graph/kernels.h"
#include "graph/npy.h"
#include "pipelines/hub/hub.h"
#include "pipelines/image_processor.h"
#include "pipelines/post_processing.h"
#include "pipelines/processor_config.h"
#include "pipelines/yaml_pipeline.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace pixelflow;
using namespace pixelflow::cli;

namespace {

constexpr const char* kMainHelp = R"(pixelflow: Hugging Face image preprocessing, bit-exact and fast.

Usage:
  pixelflow preprocess --config PATH --out DIR [options] INPUT...
  pixelflow postprocess semantic-segmentation --config PATH --logits FILE.npy
                        [--target-size H,W]... --out DIR
  pixelflow postprocess object-detection --config PATH --logits FILE.npy --boxes FILE.npy
                        [--threshold T] [--target-sizes H,W[;H,W...]] [--top-k K]
                        [--use-focal-loss true|false] --out DIR
  pixelflow save-config --config PATH --out DIR [--set KEY=JSON]...
  pixelflow check-pipeline FILE.yaml
  pixelflow bench --config PATH --images DIR [--threads N] [--from decoded|jpeg]
                  [--batch-size N] [--seconds S]
  pixelflow tune --config PATH [--images DIR] [--out FILE]
  pixelflow run --config PATH --input DIR|LIST|GLOB --out DIR [--batch-size N] [--threads N]
                [--on-error fail|skip] [--format npy|safetensors] [--dtype float16|bfloat16]
  pixelflow run PIPELINE.yaml
  pixelflow <command> --help

Commands:
  preprocess    run a processor (preprocessor_config.json) over images, write the BatchFeature
  postprocess   turn model outputs into results (semantic segmentation masks, detected objects)
  save-config   write the processor's config as save_pretrained does
  check-pipeline  read a YAML pipeline (pipelines/PIPELINES.md), print what it resolves to as JSON
  bench         measure throughput (images/s) on a folder of images, one JSON line
  tune          time the kernel variants on this CPU and record the fastest for later runs
  run           a whole dataset in batches: shards (npy or safetensors), manifest, resume

PATH is a folder holding preprocessor_config.json, a .json file, a URL to a JSON file, or a
model id (org/name): looked up in the local Hugging Face cache, then among the configs bundled
with pixelflow, then downloaded from the Hub into the cache (--cache-dir, --force-download,
--local-files-only, --token, --subfolder, --proxy, --proxies; HF_ENDPOINT, HF_HUB_OFFLINE,
HF_TOKEN, HF_HUB_CACHE, HF_HOME).
)";

constexpr const char* kPreprocessHelp = R"(Usage: pixelflow preprocess --config PATH --out DIR [options] INPUT...

Runs the image processor described by PATH over the INPUTs, like
  Processor.from_pretrained(PATH)(images, return_tensors="np", **kwargs)
and writes DIR/<key>.npy (standard .npy, C order) for every BatchFeature entry, e.g.
pixel_values float32 (N, C, H, W).

  PATH   folder with preprocessor_config.json, a .json file, a YAML pipeline (.yaml/.yml,
         see pipelines/PIPELINES.md), or a model id
  INPUT  image file (JPEG, PNG, WebP, BMP) or .npy array (uint8, float32, float64; HW, HWC
         or CHW); all INPUTs form one batch, in order

Options:
  --set KEY=JSON          call-time override, meaning what KEY=value means in the Hugging Face
                          processor call, e.g. --set 'size={"shortest_edge":256}'
                          --set do_center_crop=false --set input_data_format='"channels_first"'
  --unbatched             like return_tensors=None: write DIR/<key>_<i>.npy per image instead of
                          one stacked array (without it, differing shapes are an error)
  --load-image            decode like transformers.image_utils.load_image (EXIF orientation
                          applied, then converted to RGB) instead of like PIL.Image.open
  --segmentation-map F    one per INPUT, in order (.npy or image file); produces `labels`
  --annotations FILE.json detection processors (DETR family): a JSON list with one COCO-detection
                          dict {"image_id": N, "annotations": [{"bbox": [x, y, w, h],
                          "category_id": N, "area": X, "iscrowd": 0}, ...]} per INPUT, in order;
                          writes DIR/labels_<i>_<field>.npy per image (size, image_id,
                          class_labels, boxes, area, iscrowd, orig_size), as transformers'
                          `labels` (boxes relative (cx, cy, w, h) with do_convert_annotations)
  --video                 each INPUT is one video: its frame files joined by commas
  --threads N             worker threads (default: all cores; at most 256)
  --no-fuse               run one graph node per transform (same bytes, slower)
  --approximate           NOT bit-exact: decode JPEGs shrunk 2/4/8x in the DCT domain when the
                          resize target allows it (like PIL's draft), then resize as usual;
                          faster, outputs differ slightly from Hugging Face's (see bench/README.md)
  --revision REV          model revision on the Hub / in its cache (default: main)
  --tuning FILE           kernel selection (default: this CPU's entry in the tuning file written
                          by pixelflow tune, if any; "none": built-in defaults; same bytes)
  --max-image-pixels N    refuse images (and .npy arrays) of more than N pixels, from their header,
                          before allocating anything (decompression bombs); 0: no limit. Default:
                          $PIXELFLOW_MAX_IMAGE_PIXELS if set, else 178956970, where Pillow raises
                          DecompressionBombError (2 x PIL.Image.MAX_IMAGE_PIXELS). A size, crop_size
                          or pad asking for more pixels per image (than N or that default, whichever
                          is larger) is a config error
  --quiet                 print nothing on success
  -h, --help              this help

Exit 0 on success; otherwise one line on stderr naming the input or config key at fault, a
non-zero exit, and no output files. Outputs are written to temporaries in DIR and renamed over
their names together at the end: a failed or killed run leaves earlier outputs in DIR whole, and
a symlink at an output name is replaced, not followed.
)";

constexpr const char* kPostprocessHelp = R"(Usage: pixelflow postprocess semantic-segmentation --config PATH --logits FILE.npy
                             [--target-size H,W]... --out DIR
       pixelflow postprocess object-detection --config PATH --logits FILE.npy --boxes FILE.npy
                             [--threshold T] [--target-sizes H,W[;H,W...]] [--top-k K]
                             [--use-focal-loss true|false] --out DIR

semantic-segmentation: like processor.post_process_semantic_segmentation(outputs, target_sizes):
bilinear upsampling of the logits (PyTorch, align_corners=False) to each target size, then argmax
over classes; without target sizes, argmax at the logits' resolution.

  FILE.npy            float32 (N, num_labels, h, w)
  --target-size H,W   one per batch item, in order (none: argmax at the logits' resolution)
  --threads N         worker threads (default: all cores; at most 256)
Writes DIR/semantic_segmentation_<i>.npy (int64).

object-detection: like processor.post_process_object_detection(outputs, threshold, target_sizes,
...) of the DETR family (DetrImageProcessor, YolosImageProcessor, ConditionalDetrImageProcessor,
DeformableDetrImageProcessor, RTDetrImageProcessor; the class is the config's
image_processor_type, or feature_extractor_type).

  --logits FILE.npy          float32 or float64 (N, num_queries, num_classes), model.logits
  --boxes FILE.npy           float32 or float64 (N, num_queries, 4), model.pred_boxes (cx, cy, w, h)
  --threshold T              keep scores > T (default 0.5)
  --target-sizes H,W;H,W...  one (height, width) per image, in order (as a list: float32 scale);
                             none: boxes stay relative, in [0, 1]
  --top-k K                  ConditionalDetr/DeformableDetr only (default 100)
  --use-focal-loss BOOL      RTDetr only (default true)
  --threads N                worker threads (default: all cores; at most 256)
Writes DIR/scores_<i>.npy (float32, (k,)), DIR/labels_<i>.npy (int64, (k,)) and DIR/boxes_<i>.npy
(float32, (k, 4), x0 y0 x1 y1) per image i, in transformers' order.
)";

constexpr const char* kSaveConfigHelp = R"(Usage: pixelflow save-config --config PATH --out DIR [--set KEY=JSON]...
                             [--push-to-hub REPO_ID [--token T] [--private]
                              [--commit-message M] [--revision BRANCH]]

Loads the processor (with --set applied as from_pretrained(**kwargs) overrides) and writes
DIR/preprocessor_config.json exactly as save_pretrained does. PATH may also be a URL to a JSON
file.

--push-to-hub REPO_ID   then commits DIR/preprocessor_config.json to the Hub repository REPO_ID
                        (save_pretrained(DIR, push_to_hub=True, repo_id=REPO_ID)), creating it if
                        needed; prints the commit's URL. Needs a token with write access
                        (--token, else $HF_TOKEN, else the file $HF_TOKEN_PATH / $HF_HOME/token)
  --private             a repository created here is private
  --commit-message M    the commit's summary (default: "Upload processor")
  --revision BRANCH     the branch to commit to (default: main); without --push-to-hub, the
                        revision --config is read at
)";

// Detection labels ("labels.<field>", a list per image) as files: labels_<i>_<field>.npy.
BatchFeature as_files(const BatchFeature& bf) {
  const std::string prefix = "labels.";
  bool any = false;
  for (const auto& key : bf.keys()) any = any || key.rfind(prefix, 0) == 0;
  if (!any) return bf;
  std::vector<std::string> label_keys;
  for (const auto& key : bf.keys())
    if (key.rfind(prefix, 0) == 0) label_keys.push_back(key);
  // The other keys as they were (stacked or a list).
  BatchFeature keep;
  for (const auto& key : bf.keys()) {
    if (key.rfind(prefix, 0) == 0) continue;
    const auto& v = bf.at(key);
    if (const Tensor* t = std::get_if<Tensor>(&v)) keep.set(key, *t);
    else keep.set(key, std::get<std::vector<Tensor>>(v));
  }
  const size_t n = label_keys.empty() ? 0 : bf.list(label_keys[0]).size();
  for (size_t i = 0; i < n; ++i)
    for (const auto& key : label_keys)
      keep.set("labels_" + std::to_string(i) + "_" + key.substr(prefix.size()), bf.list(key)[i]);
  return keep;
}

// Writes the BatchFeature into `dir` (all or nothing: temporaries, then renames).
std::vector<std::string> write_outputs(const BatchFeature& bf, const std::string& dir) {
  return as_files(bf).save_npy(dir);
}

// --annotations FILE.json: one COCO-detection dict per INPUT.
std::vector<json> read_annotations(const std::string& path, size_t inputs) {
  std::ifstream f(path);
  if (!f) throw InputError(path + ": cannot read the annotations file");
  json a;
  try {
    a = json::parse(f);
  } catch (const json::exception& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  if (a.is_object()) a = json::array({a});
  if (!a.is_array()) throw InputError(path + ": annotations must be a JSON list with one dict per INPUT");
  if (a.size() != inputs)
    throw InputError(path + ": The number of images (" + std::to_string(inputs) + ") and annotations (" +
                     std::to_string(a.size()) + ") do not match.");
  return a.get<std::vector<json>>();
}

void print_warnings(const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
}

// --threads N of preprocess and postprocess, as std::stoi reads it (0 or less: all cores).
int parse_threads(const std::string& value) {
  int n = 0;
  try {
    n = std::stoi(value);
  } catch (...) {
    throw UsageError("--threads expects a number, got '" + value + "'");
  }
  return check_threads("--threads", n);
}

// The command line of `pixelflow preprocess`.
struct PreprocessArgs {
  std::string config, out, revision, tuning;
  pipelines::LoadOptions load;  // the Hub options (take_hub_option)
  json kwargs = json::object();
  std::vector<std::string> inputs, seg_maps;
  std::string annotations;  // --annotations FILE.json
  pipelines::CallOptions opts;
  bool video = false, quiet = false, threads_given = false;
};

// Takes one option (or INPUT) of preprocess off `args`.
void take_preprocess_arg(Args& args, PreprocessArgs& p) {
  std::string value;
  const std::string& a = args.peek();
  if (args.take("--config", &p.config) || args.take("--out", &p.out) || args.take("--revision", &p.revision) ||
      args.take("--tuning", &p.tuning) || take_hub_option(args, p.load))
    return;
  if (args.take("--set", &value)) {
    parse_set(value, p.kwargs);
    return;
  }
  if (args.take("--annotations", &p.annotations)) return;
  if (args.take("--segmentation-map", &value)) {
    p.seg_maps.push_back(value);
    return;
  }
  if (args.take("--max-image-pixels", &value)) {
    p.opts.max_image_pixels = parse_pixel_limit(value, "--max-image-pixels");
    return;
  }
  if (args.take("--threads", &value)) {
    p.opts.threads = parse_threads(value);
    p.threads_given = true;
    return;
  }
  if (args.take_flag("--unbatched")) p.opts.return_tensors = false;
  else if (args.take_flag("--load-image")) p.opts.load_image = true;
  else if (args.take_flag("--video")) p.video = true;
  else if (args.take_flag("--no-fuse")) p.opts.fuse = false;
  else if (args.take_flag("--approximate")) p.opts.approximate = true;
  else if (args.take_flag("--quiet")) p.quiet = true;
  else if (a.size() > 1 && a[0] == '-' && a != "-") throw UsageError("unknown option '" + a + "'");
  else p.inputs.push_back(args.next());
}

// The whole command line, checked; nullopt when it asks for help (printed).
std::optional<PreprocessArgs> parse_preprocess_args(Args& args) {
  PreprocessArgs p;
  if (const char* env = std::getenv("PIXELFLOW_MAX_IMAGE_PIXELS"); env && *env)
    p.opts.max_image_pixels = parse_pixel_limit(env, "PIXELFLOW_MAX_IMAGE_PIXELS");
  while (!args.done()) {
    if (args.peek() == "-h" || args.peek() == "--help") {
      std::cout << kPreprocessHelp << "\n" << kHubOptionsHelp;
      return std::nullopt;
    }
    take_preprocess_arg(args, p);
  }
  if (p.config.empty()) throw UsageError("preprocess needs --config PATH");
  if (p.out.empty()) throw UsageError("preprocess needs --out DIR");
  if (p.inputs.empty()) throw UsageError("preprocess needs at least one INPUT");
  if (!p.seg_maps.empty() && p.seg_maps.size() != p.inputs.size())
    throw UsageError("--segmentation-map must be given once per INPUT (" + std::to_string(p.inputs.size()) +
                     " inputs, " + std::to_string(p.seg_maps.size()) + " maps)");
  if (!p.seg_maps.empty() && p.video) throw UsageError("--segmentation-map cannot be combined with --video");
  if (!p.annotations.empty() && p.video) throw UsageError("--annotations cannot be combined with --video");
  // return_tensors given through --set: None means per-image arrays.
  if (p.kwargs.contains("return_tensors")) {
    if (p.kwargs["return_tensors"].is_null()) p.opts.return_tensors = false;
    p.kwargs.erase("return_tensors");
  }
  return p;
}

// What runs the batch: the processor (from a config) and its prepared call, or a YAML
// pipeline's prepared call alone.
struct Preprocessor {
  std::optional<pipelines::ImageProcessor> processor;
  std::optional<pipelines::PreparedCall> call;
};

// --config FILE.yaml: a YAML pipeline (pipelines/PIPELINES.md) gives the plan; its run settings
// that matter for one batch (fuse, threads, max_in_flight) apply unless given here.
void prepare_yaml_pipeline(PreprocessArgs& p, Preprocessor& pre) {
  refuse_set_for_yaml(p.kwargs, p.config);
  if (!p.revision.empty()) throw UsageError("--revision does not apply to a YAML pipeline (" + p.config + ")");
  pipelines::PipelineSpec spec = pipelines::load_pipeline_yaml(p.config);
  if (p.opts.load_image) spec.plan.load.exif_transpose = spec.plan.load.convert_rgb = true;
  if (p.opts.max_image_pixels != pipelines::CallOptions{}.max_image_pixels)  // flag or environment
    spec.plan.load.max_pixels = p.opts.max_image_pixels;
  if (!p.threads_given) p.opts.threads = spec.options.threads;
  p.opts.max_in_flight = spec.options.max_in_flight;
  if (!spec.options.fuse) p.opts.fuse = false;
  pre.call.emplace(std::move(spec.plan), p.opts);
}

void prepare_preprocessor(PreprocessArgs& p, Preprocessor& pre) {
  apply_tuning(p.tuning);
  if (is_yaml_file(p.config)) return prepare_yaml_pipeline(p, pre);
  pipelines::LoadOptions load = p.load;
  if (!p.revision.empty()) load.revision = p.revision;
  pre.processor.emplace(pipelines::ImageProcessor::from_pretrained(p.config, load));
  pre.call.emplace(pre.processor->prepare(p.kwargs, p.opts));
}

// --video: each INPUT is one video, its frame files joined by commas.
std::vector<std::vector<ops::InputItem>> video_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::vector<ops::InputItem>> videos;
  for (const auto& arg : inputs) {
    std::vector<ops::InputItem> frames;
    size_t start = 0;
    while (true) {
      size_t comma = arg.find(',', start);
      std::string frame = arg.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (frame.empty()) throw UsageError("--video: empty frame name in '" + arg + "'");
      frames.push_back(ops::InputItem::file(frame));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    videos.push_back(std::move(frames));
  }
  return videos;
}

BatchFeature run_preprocess(const PreprocessArgs& p, pipelines::PreparedCall& call) {
  if (p.video) return call.run_videos(video_inputs(p.inputs));
  std::vector<ops::InputItem> items;
  std::vector<json> annotations;
  if (!p.annotations.empty()) annotations = read_annotations(p.annotations, p.inputs.size());
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    items.push_back(ops::InputItem::file(p.inputs[i]));
    if (!p.seg_maps.empty()) items.back().labels_path = p.seg_maps[i];
    if (!annotations.empty()) items.back().annotation = std::make_shared<const json>(std::move(annotations[i]));
  }
  return call.run(std::move(items));
}

// One line per file written: "KEY: DTYPE SHAPE -> DIR/KEY.npy" (lists: KEY[i] ... KEY_i.npy).
void print_outputs(const BatchFeature& bf, const std::string& out) {
  for (const auto& key : bf.keys()) {
    const auto& v = bf.at(key);
    if (const Tensor* t = std::get_if<Tensor>(&v)) {
      std::cout << key << ": " << dtype_name(t->dtype()) << " " << shape_str(t->shape()) << " -> "
                << (fs::path(out) / (key + ".npy")).string() << "\n";
    } else {
      const auto& list = std::get<std::vector<Tensor>>(v);
      for (size_t i = 0; i < list.size(); ++i)
        std::cout << key << "[" << i << "]: " << dtype_name(list[i].dtype()) << " " << shape_str(list[i].shape())
                  << " -> " << (fs::path(out) / (key + "_" + std::to_string(i) + ".npy")).string() << "\n";
    }
  }
}

int cmd_preprocess(Args& args) {
  std::optional<PreprocessArgs> p = parse_preprocess_args(args);
  if (!p) return 0;  // --help
  Preprocessor pre;
  prepare_preprocessor(*p, pre);
  pipelines::PreparedCall& call = *pre.call;
  BatchFeature bf = run_preprocess(*p, call);
  write_outputs(bf, p->out);

  if (pre.processor) print_warnings(pre.processor->config().warnings);
  print_warnings(call.plan().warnings);
  if (!p->quiet) {
    std::cout << (pre.processor ? pre.processor->class_name() : call.plan().processor_class) << ": "
              << call.describe() << "\n";
    print_outputs(as_files(bf), p->out);
  }
  return 0;
}

// "H,W" -> (H, W).
std::pair<int64_t, int64_t> parse_target_size(const std::string& v) {
  size_t comma = v.find(',');
  try {
    if (comma == std::string::npos) throw std::invalid_argument("no comma");
    size_t used_h = 0, used_w = 0;
    std::string hs = v.substr(0, comma), ws = v.substr(comma + 1);
    long long h = std::stoll(hs, &used_h), w = std::stoll(ws, &used_w);
    if (used_h != hs.size() || used_w != ws.size() || h <= 0 || w <= 0) throw std::invalid_argument("bad");
    return {h, w};
  } catch (const std::exception&) {
    throw UsageError("--target-size expects H,W with positive integers, got '" + v + "'");
  }
}

// "H,W;H,W..." -> (H, W) pairs (positive numbers).
std::vector<std::pair<double, double>> parse_target_sizes(const std::string& v) {
  std::vector<std::pair<double, double>> sizes;
  size_t start = 0;
  while (true) {
    const size_t end = v.find(';', start);
    const std::string one = v.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const size_t comma = one.find(',');
    try {
      if (comma == std::string::npos) throw std::invalid_argument("no comma");
      size_t used_h = 0, used_w = 0;
      const std::string hs = one.substr(0, comma), ws = one.substr(comma + 1);
      const double h = std::stod(hs, &used_h), w = std::stod(ws, &used_w);
      if (used_h != hs.size() || used_w != ws.size() || !(h > 0) || !(w > 0) || !std::isfinite(h) || !std::isfinite(w))
        throw std::invalid_argument("bad");
      sizes.emplace_back(h, w);
    } catch (const std::exception&) {
      throw UsageError("--target-sizes expects H,W[;H,W...] with positive numbers, got '" + v + "'");
    }
    if (end == std::string::npos) return sizes;
    start = end + 1;
  }
}

// The command line of `pixelflow postprocess semantic-segmentation` / `object-detection`.
struct PostprocessArgs {
  std::string task, config, out, logits_path, boxes_path, revision;
  pipelines::LoadOptions load;  // the Hub options (take_hub_option)
  std::vector<std::pair<int64_t, int64_t>> sizes;
  pipelines::DetectionOptions detection;
  RunOptions run;
  bool quiet = false;
};

// The task and its options, checked; nullopt when they ask for help (printed).
std::optional<PostprocessArgs> parse_postprocess_args(Args& args) {
  if (args.done()) throw UsageError("postprocess needs a task: semantic-segmentation or object-detection");
  std::string task = args.next();
  if (task == "-h" || task == "--help") {
    std::cout << kPostprocessHelp << "\n" << kHubOptionsHelp;
    return std::nullopt;
  }
  if (task != "semantic-segmentation" && task != "object-detection")
    throw UsageError("unknown postprocess task '" + task + "' (known: semantic-segmentation, object-detection)");
  const bool detection = task == "object-detection";
  PostprocessArgs p;
  p.task = task;
  std::string value;
  while (!args.done()) {
    const std::string& a = args.peek();
    if (a == "-h" || a == "--help") {
      std::cout << kPostprocessHelp << "\n" << kHubOptionsHelp;
      return std::nullopt;
    }
    if (args.take("--config", &p.config) || args.take("--out", &p.out) || args.take("--logits", &p.logits_path) ||
        args.take("--revision", &p.revision) || take_hub_option(args, p.load))
      continue;
    if (!detection && args.take("--target-size", &value)) {
      p.sizes.push_back(parse_target_size(value));
    } else if (detection && args.take("--boxes", &p.boxes_path)) {
    } else if (detection && args.take("--target-sizes", &value)) {
      p.detection.target_sizes = parse_target_sizes(value);
    } else if (detection && args.take("--threshold", &value)) {
      size_t used = 0;
      try {
        p.detection.threshold = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != value.size()) throw UsageError("--threshold expects a number, got '" + value + "'");
    } else if (detection && args.take("--top-k", &value)) {
      size_t used = 0;
      long long k = -1;
      try {
        k = std::stoll(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != value.size() || k < 0)
        throw UsageError("--top-k expects a non-negative integer, got '" + value + "'");
      p.detection.top_k = k;
    } else if (detection && args.take("--use-focal-loss", &value)) {
      if (value != "true" && value != "false")
        throw UsageError("--use-focal-loss expects true or false, got '" + value + "'");
      p.detection.use_focal_loss = value == "true";
    } else if (args.take("--threads", &value)) {
      p.run.threads = parse_threads(value);
    } else if (args.take_flag("--quiet")) {
      p.quiet = true;
    } else {
      throw UsageError("unknown argument '" + a + "'");
    }
  }
  if (p.config.empty()) throw UsageError("postprocess needs --config PATH");
  if (p.logits_path.empty()) throw UsageError("postprocess needs --logits FILE.npy");
  if (detection && p.boxes_path.empty()) throw UsageError("postprocess object-detection needs --boxes FILE.npy");
  if (p.out.empty()) throw UsageError("postprocess needs --out DIR");
  return p;
}

// The processor class a config names (image_processor_type, else feature_extractor_type), read
// without requiring pixelflow to preprocess for it.
std::string config_class(const std::string& config, const std::string& revision, pipelines::LoadOptions load) {
  if (!revision.empty()) load.revision = revision;
  const pipelines::ConfigText text = pipelines::read_preprocessor_config(config, load);
  const std::string& path = text.source;
  nlohmann::json dict;
  try {
    dict = nlohmann::json::parse(text.text);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(path, std::string("is not valid JSON: ") + e.what());
  }
  auto cls = pipelines::processor_class_in_config(dict, path);
  if (!cls) throw ConfigError(path, "image_processor_type", "missing (and no feature_extractor_type)");
  return *cls;
}

// A float (N, Q, last) array from `path`, or InputError naming the file.
Tensor load_detection_npy(const std::string& path, const char* what, int64_t last) {
  Tensor t = load_npy(path);
  if (t.dtype() != DType::kFloat32 && t.dtype() != DType::kFloat64)
    throw InputError(path + ": " + what + " must be float32 or float64, got " + dtype_name(t.dtype()));
  if (t.ndim() != 3 || (last >= 0 && t.dim(2) != last))
    throw InputError(path + ": " + what + " must be (batch_size, num_queries, " +
                     (last >= 0 ? std::to_string(last) : std::string("num_classes")) + "), got shape " +
                     shape_str(t.shape()));
  return t;
}

int cmd_object_detection(const PostprocessArgs& p) {
  const std::string cls = config_class(p.config, p.revision, p.load);
  Tensor logits = load_detection_npy(p.logits_path, "logits", -1);
  Tensor boxes = load_detection_npy(p.boxes_path, "pred_boxes", 4);
  if (boxes.dim(0) != logits.dim(0) || boxes.dim(1) != logits.dim(1))
    throw InputError(p.boxes_path + ": pred_boxes " + shape_str(boxes.shape()) + " do not match the logits " +
                     shape_str(logits.shape()) + " of " + p.logits_path + " (same batch_size and num_queries)");
  std::vector<pipelines::DetectionResult> results;
  try {
    results = pipelines::post_process_object_detection(cls, logits, boxes, p.detection, p.run);
  } catch (const InputError& e) {
    throw InputError(p.logits_path + ": " + e.what());
  }
  BatchFeature bf;
  std::vector<Tensor> scores, labels, out_boxes;
  for (auto& r : results) {
    scores.push_back(std::move(r.scores));
    labels.push_back(std::move(r.labels));
    out_boxes.push_back(std::move(r.boxes));
  }
  bf.set("scores", std::move(scores));
  bf.set("labels", std::move(labels));
  bf.set("boxes", std::move(out_boxes));
  write_outputs(bf, p.out);
  if (!p.quiet) {
    std::cout << cls << ": post_process_object_detection\n";
    print_outputs(bf, p.out);  // scores[i]: float32 (k) -> DIR/scores_i.npy, ...
  }
  return 0;
}

int cmd_postprocess(Args& args) {
  std::optional<PostprocessArgs> p = parse_postprocess_args(args);
  if (!p) return 0;  // --help
  if (p->task == "object-detection") return cmd_object_detection(*p);
  pipelines::LoadOptions load = p->load;
  if (!p->revision.empty()) load.revision = p->revision;
  auto cfg = pipelines::load_processor_config(p->config, load);
  Tensor logits = load_npy(p->logits_path);
  std::vector<Tensor> maps;
  try {
    maps = pipelines::post_process_semantic_segmentation(cfg, logits, p->sizes, p->run);
  } catch (const InputError& e) {
    throw InputError(p->logits_path + ": " + e.what());
  }
  BatchFeature bf;
  bf.set("semantic_segmentation", std::move(maps));
  write_outputs(bf, p->out);
  if (!p->quiet) print_outputs(bf, p->out);  // semantic_segmentation[i]: ... -> DIR/semantic_segmentation_i.npy
  return 0;
}

int cmd_save_config(Args& args) {
  std::string config, out, value, repo_id, revision, commit_message;
  bool private_repo = false, push = false;
  json overrides = json::object();
  pipelines::LoadOptions load;
  load.overrides = overrides;
  while (!args.done()) {
    const std::string& a = args.peek();
    if (a == "-h" || a == "--help") {
      std::cout << kSaveConfigHelp << "\n" << kHubOptionsHelp;
      return 0;
    }
    if (args.take("--config", &config) || args.take("--out", &out) || args.take("--revision", &revision) ||
        args.take("--commit-message", &commit_message) || take_hub_option(args, load))
      continue;
    if (args.take("--push-to-hub", &repo_id)) {
      push = true;
      continue;
    }
    if (args.take_flag("--private")) {
      private_repo = true;
      continue;
    }
    if (args.take("--set", &value)) {
      parse_set(value, overrides);
      continue;
    }
    throw UsageError("unknown argument '" + a + "'");
  }
  if (config.empty() || out.empty()) throw UsageError("save-config needs --config PATH and --out DIR");
  if (push && repo_id.empty()) throw UsageError("--push-to-hub needs a repository id (ORG/NAME)");
  if (!push && (private_repo || !commit_message.empty()))
    throw UsageError(std::string(private_repo ? "--private" : "--commit-message") + " needs --push-to-hub REPO_ID");
  load.overrides = overrides;
  // --revision: the branch pushed to with --push-to-hub, else the revision --config is read at.
  if (!push && !revision.empty()) load.revision = revision;
  if (push && !pipelines::hub::resolve_token(load.token))
    throw HubError(HubError::Kind::kAuth, repo_id,
                   "--push-to-hub needs a token with write access: --token, HF_TOKEN or the file HF_TOKEN_PATH "
                   "(default HF_HOME/token)");
  auto cfg = pipelines::load_processor_config(config, load);
  std::string commit_url;
  if (push) {  // first, so that a refused push leaves no output
    std::error_code ec;
    if (fs::is_regular_file(out, ec)) throw ConfigError(out, "provided path should be a directory, not a file");
    pipelines::PushOptions po;
    po.token = load.token;
    po.proxies = load.proxies;
    po.endpoint = load.endpoint;
    if (private_repo) po.private_repo = true;
    if (!commit_message.empty()) po.commit_message = commit_message;
    if (!revision.empty()) po.revision = revision;
    commit_url = pipelines::push_to_hub(cfg, repo_id, po);
  }
  pipelines::save_pretrained(cfg, out);
  for (const auto& k : cfg.unused_kwargs) std::cerr << "warning: unused override '" << k << "'\n";
  std::cout << (fs::path(out) / "preprocessor_config.json").string() << "\n";
  if (push) std::cout << commit_url << "\n";
  return 0;
}

constexpr const char* kCheckPipelineHelp = R"(Usage: pixelflow check-pipeline FILE.yaml

Reads a YAML pipeline (see pipelines/PIPELINES.md), checks every key and op parameter, and prints
the resolved plan and run settings as JSON. A problem is reported as one line,
FILE:LINE:COLUMN: KEY.PATH: what is wrong.
)";

int cmd_check_pipeline(Args& args) {
  std::string file;
  while (!args.done()) {
    std::string a = args.next();
    if (a == "-h" || a == "--help") {
      std::cout << kCheckPipelineHelp;
      return 0;
    }
    if (!file.empty() || a.starts_with("--")) throw UsageError("unexpected argument '" + a + "'");
    file = a;
  }
  if (file.empty()) throw UsageError("check-pipeline needs FILE.yaml");
  std::cout << pipelines::describe_pipeline(pipelines::load_pipeline_yaml(file)).dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::cout << kMainHelp;
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  try {
    Args args(argc, argv, 2);
    if (cmd == "preprocess") return cmd_preprocess(args);
    if (cmd == "postprocess") return cmd_postprocess(args);
    if (cmd == "save-config") return cmd_save_config(args);
    if (cmd == "check-pipeline") return cmd_check_pipeline(args);
    if (cmd == "bench") return cmd_bench(args);
    if (cmd == "tune") return cmd_tune(args);
    if (cmd == "run") return cmd_run(args);
    throw UsageError("unknown command '" + cmd + "' (see pixelflow --help)");
  } catch (const UsageError& e) {
    std::cerr << "pixelflow: " << one_line(e.what()) << " (see pixelflow " << cmd << " --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "pixelflow: error: " << one_line(e.what()) << "\n";
    return 1;
  }
}
