// YAML pipelines (pipelines/yaml_pipeline.h, pipelines/PIPELINES.md): the bundled pipeline.yaml
// files equal the JSON front end (plans and output bytes), errors are located one-liners, the
// `config:` form and the run settings parse into the PipelineSpec.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/errors.h"
#include "registry/registry.h"
#include "pipelines/image_processor.h"
#include "pipelines/yaml_pipeline.h"
#include "tests/common/test_config_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace pixelflow;
using namespace pixelflow::pipelines;
using test_config::TempDir;
using test_config::write_file;

namespace {

// Folders of pipelines/models with a preprocessor_config.json.
std::vector<std::string> model_folders() {
  std::vector<std::string> out;
  for (const auto& d : fs::directory_iterator(test_config::models_dir()))
    if (fs::exists(d.path() / "preprocessor_config.json")) out.push_back(d.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sample_images() {
  std::vector<std::string> out;
  for (const auto& f : fs::directory_iterator(fs::path(PIXELFLOW_SOURCE_DIR) / "pipelines" / "samples"))
    out.push_back(f.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The JSON front end's call for a bundled config: default kwargs, except for the ImageGPT config
// published without its colour clusters, whose default call (do_color_quantize=True) cannot run;
// its pipeline.yaml spells out the do_color_quantize=False pipeline (see its comments).
json json_kwargs(const std::string& folder) {
  if (folder == "openai__imagegpt-small") return {{"do_color_quantize", false}};
  return json::object();
}

void check_same_ops(const std::vector<OpSpec>& got, const std::vector<OpSpec>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("op " << i << ": " << want[i].name << " " << want[i].params.dump());
    CHECK(got[i].name == want[i].name);
    CHECK(got[i].target == want[i].target);
    CHECK(got[i].params == want[i].params);
    CHECK(got[i].params.dump() == want[i].params.dump());  // same JSON types too (224 vs 224.0)
  }
}

void check_same_plan(const Plan& got, const Plan& want) {
  CHECK(got.processor_class == want.processor_class);
  CHECK(got.load.convert_rgb == want.load.convert_rgb);
  CHECK(got.load.exif_transpose == want.load.exif_transpose);
  CHECK(got.load.input_data_format == want.load.input_data_format);
  CHECK(got.load.infer_layout_per_input == want.load.infer_layout_per_input);
  CHECK(got.load.infer_layout_4_channels == want.load.infer_layout_4_channels);
  CHECK(got.load.max_pixels == want.load.max_pixels);
  check_same_ops(got.image_ops, want.image_ops);
  check_same_ops(got.label_ops, want.label_ops);
  CHECK(got.video == want.video);
  CHECK(got.batching == want.batching);
  check_same_ops(got.tile_ops, want.tile_ops);
  CHECK(got.tiles_key == want.tiles_key);
  CHECK(got.tiles_without_tile_ops == want.tiles_without_tile_ops);
  CHECK(got.pad_tiles == want.pad_tiles);
  CHECK(got.input_sizes_key == want.input_sizes_key);
  CHECK(got.group_sizes_key == want.group_sizes_key);
  CHECK(got.grid_keys == want.grid_keys);
  CHECK(got.pad.pixel_mask == want.pad.pixel_mask);
  CHECK(got.pad.size == want.pad.size);
  CHECK(got.image_key == want.image_key);
  CHECK(got.labels_key == want.labels_key);
}

// A call's result: its BatchFeature, or the error it raised.
struct Outcome {
  BatchFeature out;
  std::string error;
};

Outcome run_call(const PreparedCall& call, const std::vector<std::string>& files, bool as_video) {
  Outcome o;
  std::vector<ops::InputItem> items;
  for (const auto& f : files) items.push_back(ops::InputItem::file(f));
  try {
    o.out = as_video ? call.run_videos({std::move(items)}) : call.run(std::move(items));
  } catch (const std::exception& e) {
    o.error = e.what();
  }
  return o;
}

void check_same_outcome(const Outcome& got, const Outcome& want) {
  REQUIRE(got.error == want.error);
  REQUIRE(got.out.keys() == want.out.keys());
  for (const auto& key : want.out.keys()) {
    INFO("key " << key);
    const Tensor& a = got.out.tensor(key);
    const Tensor& b = want.out.tensor(key);
    REQUIRE(a.dtype() == b.dtype());
    REQUIRE(a.shape() == b.shape());
    REQUIRE(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0);
  }
}

// The error parse_pipeline_yaml raises for `text` (origin "t.yaml"); fails the test if none.
ConfigError yaml_error(const std::string& text) {
  try {
    parse_pipeline_yaml(text, "t.yaml");
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no error for:\n" << text);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("yaml: every bundled config has a pipeline.yaml whose plan and outputs equal the JSON front end's",
          "[yaml]") {
  const auto folders = model_folders();
  REQUIRE(folders.size() >= 20);
  const auto samples = sample_images();
  REQUIRE(samples.size() >= 3);
  for (const auto& folder : folders) {
    DYNAMIC_SECTION(folder) {
      const fs::path dir = fs::path(test_config::models_dir()) / folder;
      REQUIRE(fs::exists(dir / "pipeline.yaml"));
      const PipelineSpec spec = load_pipeline_yaml((dir / "pipeline.yaml").string());
      CHECK(spec.origin == (dir / "pipeline.yaml").string());
      const ImageProcessor proc = ImageProcessor::from_pretrained(dir.string());
      const Plan want = proc.plan(json_kwargs(folder));
      check_same_plan(spec.plan, want);
      CHECK(spec.post_process.empty());

      const PreparedCall yaml_call(spec.plan, CallOptions{});
      const PreparedCall json_call(want, CallOptions{});
      CHECK(yaml_call.describe() == json_call.describe());
      // Each sample alone, then those that ran alone as one batch (or one video of several
      // frames), then all of them: same bytes, or the same error (e.g. outputs of different
      // shapes cannot be stacked).
      auto compare = [&](const std::vector<std::string>& batch) {
        INFO("batch of " << batch.size() << ", first " << batch.front());
        const Outcome got = run_call(yaml_call, batch, want.video);
        const Outcome ref = run_call(json_call, batch, want.video);
        check_same_outcome(got, ref);
        return ref.error.empty();
      };
      std::vector<std::string> ran_alone;
      for (const auto& s : samples)
        if (compare({s})) ran_alone.push_back(s);
      // The two JPEGs run everywhere; the grayscale PNG fails (the same way) where Hugging Face
      // fails on it, in the processors without convert_rgb.
      REQUIRE(ran_alone.size() >= 2);
      compare(ran_alone);
      compare(samples);
    }
  }
}

TEST_CASE("yaml: the config whose default call cannot run is the one pipeline.yaml that departs from it",
          "[yaml]") {
  // openai__imagegpt-small has no clusters: Hugging Face's default call (do_color_quantize=True)
  // raises, so its pipeline.yaml is the do_color_quantize=False pipeline (json_kwargs above).
  const fs::path dir = fs::path(test_config::models_dir()) / "openai__imagegpt-small";
  const ImageProcessor proc = ImageProcessor::from_pretrained(dir.string());
  REQUIRE_THROWS_AS(proc.plan(), ConfigError);
  for (const auto& folder : model_folders())
    if (folder != "openai__imagegpt-small") {
      INFO(folder);
      CHECK_NOTHROW(ImageProcessor::from_pretrained((fs::path(test_config::models_dir()) / folder).string()).plan());
    }
}

TEST_CASE("yaml: op syntaxes, resample names and parameter types", "[yaml]") {
  const std::string a = R"(
processor: CLIPImageProcessor
ops:
  - resize: {size: {shortest_edge: 224}, resample: bicubic}
  - {op: center_crop, crop_size: {height: 224, width: 224}}
  - rescale:
      rescale_factor: 0.00392156862745098
  - normalize: {image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: 0.5}
  - flip_channel_order
  - to_channel_dimension_format: {data_format: channels_first}
)";
  const PipelineSpec s = parse_pipeline_yaml(a, "a.yaml");
  REQUIRE(s.plan.image_ops.size() == 6);
  CHECK(s.plan.processor_class == "CLIPImageProcessor");
  CHECK(s.plan.image_ops[0].name == "resize");
  CHECK(s.plan.image_ops[0].params.dump() == R"({"resample":3,"size":{"shortest_edge":224}})");
  CHECK(s.plan.image_ops[1].params.dump() == R"({"crop_size":{"height":224,"width":224}})");
  CHECK(s.plan.image_ops[2].params.at("rescale_factor").get<double>() == 1.0 / 255.0);
  CHECK(s.plan.image_ops[3].params.at("image_std").is_number_float());
  CHECK(s.plan.image_ops[4].params == json::object());
  CHECK(s.plan.image_ops[5].params.at("data_format") == "channels_first");
  CHECK(s.plan.label_ops.empty());
  CHECK(s.plan.image_key == "pixel_values");

  // Every PIL filter name, any case; numbers as they are.
  const std::vector<std::pair<std::string, int>> names = {{"nearest", 0}, {"LANCZOS", 1}, {"Bilinear", 2},
                                                          {"bicubic", 3}, {"box", 4},     {"hamming", 5},
                                                          {"2", 2}};
  for (const auto& [name, value] : names) {
    const auto p = parse_pipeline_yaml("ops:\n  - resize: {size: {height: 8, width: 8}, resample: " + name + "}\n", "r.yaml");
    CHECK(p.plan.image_ops[0].params.at("resample") == value);
  }
  CHECK(resample_from_name("cubic") == -1);

  // Labels, output keys, video, load.
  const auto l = parse_pipeline_yaml(R"(
load: {convert_rgb: true, exif_transpose: true, input_data_format: channels_last, max_image_pixels: 1000000}
ops: [{resize: {size: {height: 4, width: 4}, resample: 2}}]
labels:
  - reduce_label
  - resize: {size: {height: 4, width: 4}, resample: nearest}
  - astype: {dtype: int64}
outputs: {image_key: input_ids, labels_key: masks}
video: true
)", "l.yaml");
  CHECK(l.plan.load.convert_rgb);
  CHECK(l.plan.load.exif_transpose);
  CHECK(l.options.load_image);
  CHECK(l.plan.load.input_data_format == Layout::kChannelsLast);
  CHECK_FALSE(l.plan.load.infer_layout_per_input);  // the layout is given
  CHECK(l.plan.load.max_pixels == 1000000);
  REQUIRE(l.plan.label_ops.size() == 3);
  for (const auto& op : l.plan.label_ops) CHECK(op.target == Target::kLabels);
  CHECK(l.plan.label_ops[1].params.at("resample") == 0);
  CHECK(l.plan.image_key == "input_ids");
  CHECK(l.plan.labels_key == "masks");
  CHECK(l.plan.video);
  CHECK(parse_pipeline_yaml("ops: []\nvideo: true\n", "v.yaml").plan.load.infer_layout_per_input);

  // Quoted scalars stay strings; plain ones are typed as YAML 1.2's core schema says.
  const auto q = parse_pipeline_yaml("ops:\n  - pad: {size_divisor: 0x20}\n", "q.yaml");
  CHECK(q.plan.image_ops[0].params.at("size_divisor") == 32);
}

TEST_CASE("yaml: every registered op has its parameter keys listed", "[yaml]") {
  std::vector<std::string> listed;
  for (const auto& kv : yaml_op_params()) listed.push_back(kv.first);
  CHECK(listed == registered_ops());
}

TEST_CASE("yaml: errors are one line, FILE:LINE:COLUMN: KEY.PATH: problem", "[yaml]") {
  struct Case {
    std::string text;
    std::string where;     // t.yaml:LINE:COLUMN
    std::string key_path;  // as printed
    std::string problem;   // a part of the problem text
  };
  const std::vector<Case> cases = {
      // YAML syntax: an unclosed flow map.
      // (yaml-cpp notices the missing brace where the next line starts.)
      {"ops:\n  - resize: {size: {height: 224, width: 224}\nbatch_size: 4\n", "t.yaml:3:1", "syntax error",
       "end of map flow not found"},
      {"ops:\n  - resize: [1, 2\n", "t.yaml:3:1", "syntax error", "end of sequence flow not found"},
      // Unknown top-level key, with the allowed ones listed.
      {"ops: []\nbatchsize: 4\n", "t.yaml:2:1", "batchsize", "unknown key \"batchsize\" (allowed: processor, load, ops"},
      // Wrong types and bad values of run settings.
      {"ops: []\nbatch_size: \"x\"\n", "t.yaml:2:13", "batch_size", "must be an integer, got \"x\""},
      {"ops: []\nbatch_size: 0\n", "t.yaml:2:13", "batch_size", "must be a positive integer, got 0"},
      {"ops: []\nordered: 3\n", "t.yaml:2:10", "ordered", "must be true or false, got 3"},
      {"ops: []\nthreads: -2\n", "t.yaml:2:10", "threads", "must be an integer >= 0, got -2"},
      {"ops: []\nthreads: 100000\n", "t.yaml:2:10", "threads", "must be at most 256, got 100000"},
      // Sizes beyond Pillow's C int, refused where they are written.
      {"ops:\n  - resize: {size: {shortest_edge: 9223372036854775807}, resample: 2}\n", "t.yaml:2:36",
       "ops[0].resize.size.shortest_edge", "must be at most 2147483647"},
      {"ops:\n  - center_crop: {crop_size: {height: 4294967296, width: 2}}\n", "t.yaml:2:39",
       "ops[0].center_crop.crop_size.height", "must be at most 2147483647"},
      {"ops:\n  - pad: {size_divisor: 4294967296}\n", "t.yaml:2:25", "ops[0].pad.size_divisor", "must be at most 2147483647"},
      {"ops: []\non_error: ignore\n", "t.yaml:2:11", "on_error", "must be one of fail, skip, got \"ignore\""},
      {"ops: []\noutput: {format: npy}\n", "t.yaml:2:9", "output", "needs `dir`"},
      {"ops: []\noutput: {dir: out, format: npz}\n", "t.yaml:2:28", "output.format", "must be one of npy, safetensors"},
      {"ops: []\ninput: {folder: a, glob: \"*.jpg\"}\n", "t.yaml:2:20", "input.glob", "give one of folder, glob or list"},
      {"ops: []\ninput: {glob: \"*.jpg\", recursive: true}\n", "t.yaml:2:24", "input.recursive", "applies to `folder` only"},
      // Unknown op, in both syntaxes.
      {"ops:\n  - resize: {size: {height: 2, width: 2}, resample: 2}\n  - resise: {size: {height: 2, width: 2}}\n",
       "t.yaml:3:5", "ops[1].resise", "unknown op \"resise\" (known ops: astype, center_crop"},
      {"ops:\n  - {op: normalise, image_mean: 0.5, image_std: 0.5}\n", "t.yaml:2:10", "ops[0].op", "unknown op \"normalise\""},
      // A parameter the op rejects: the op's own message, at the value.
      {"ops:\n  - rescale: {rescale_factor: 0.5}\n  - pad: {size_divisor: 4}\n  - resize:\n      size: {shortest_edge: 0}\n      resample: 3\n",
       "t.yaml:5:29", "ops[2].resize.size.shortest_edge", "must be > 0, got 0"},
      {"ops:\n  - normalize: {image_mean: [0.5, \"a\", 0.5], image_std: 0.5}\n", "t.yaml:2:35",
       "ops[0].normalize.image_mean[1]", "number"},
      {"ops:\n  - {op: rescale, rescale_factor: abc}\n", "t.yaml:2:35", "ops[0].rescale_factor", ""},
      // Unknown parameter keys, at the top and inside a size dict.
      {"ops:\n  - center_crop: {crop_size: {height: 2, widht: 2}}\n", "t.yaml:2:42", "ops[0].center_crop.crop_size.widht",
       "unknown key \"widht\" (allowed: height, width)"},
      {"ops:\n  - resize:\n      size: {height: 2, width: 2}\n      filter: 2\n", "t.yaml:4:7", "ops[0].resize.filter",
       "unknown key \"filter\" (allowed: size, resample, size_divisor, keep_aspect_ratio, ensure_multiple_of, smart_resize, detr_resize, resolution_max_side, vision_encoder_max_size, pil_image, channels_first)"},
      {"ops:\n  - resize: {size: {height: 2, width: 2}, resample: cubic}\n", "t.yaml:2:53", "ops[0].resize.resample",
       "unknown filter \"cubic\""},
      // An image-only op among the label ops.
      {"ops: []\nlabels:\n  - flip_channel_order\n", "t.yaml:3:5", "labels[0]", "images only"},
      {"ops: []\npost_process:\n  - resize: {size: {height: 2, width: 2}, resample: 2}\n", "t.yaml:3:5", "post_process[0].resize",
       "not a post-processing op"},
      {"ops:\n  - post_process_semantic_segmentation\n", "t.yaml:2:5", "ops[0]",
       "list it under post_process"},
      // Shapes of the document.
      {"ops:\n  - resize: {size: {height: 2, width: 2}, resample: 2}\n    center_crop: {crop_size: {height: 2, width: 2}}\n",
       "t.yaml:2:5", "ops[0]", "got the keys resize, center_crop"},
      {"ops: {resize: {}}\n", "t.yaml:1:6", "ops", "must be a list of ops"},
      {"- resize\n", "t.yaml:1:1", "(top level)", "a pipeline file is a map"},
      {"batch_size: 4\n", "t.yaml:1:1", "(top level)", "needs `ops:`"},
      {"ops: []\nconfig: x\n", "t.yaml:2:1", "config", "cannot be used together"},
      {"ops: []\nkwargs: {do_resize: false}\n", "t.yaml:2:1", "kwargs", "need `config`"},
      {"ops: []\nload: {convert_rgb: yes}\n", "t.yaml:2:21", "load.convert_rgb", "must be true or false, got \"yes\""},
      {"ops: []\nload: {input_data_format: first}\n", "t.yaml:2:27", "load.input_data_format",
       "must be one of channels_first, channels_last"},
      {"ops: []\nfuse: true\nfuse: false\n", "t.yaml:3:1", "fuse", "duplicate key (first at line 2)"},
      {"outputs: {image_key: x, label_key: y}\nops: []\n", "t.yaml:1:25", "outputs.label_key", "unknown key"},
      {"", "t.yaml:1:1", "(top level)", "the file is empty"},
  };
  for (const auto& c : cases) {
    INFO("YAML:\n" << c.text);
    const ConfigError e = yaml_error(c.text);
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(e.where() == c.where);
    CHECK(e.key_path() == c.key_path);
    CHECK(msg.rfind(c.where + ": " + c.key_path + ": ", 0) == 0);
    CHECK(msg.find(c.problem) != std::string::npos);
  }
}

TEST_CASE("yaml: load_pipeline_yaml names the file it cannot read", "[yaml]") {
  TempDir tmp;
  const std::string missing = (tmp.path() / "nope.yaml").string();
  try {
    load_pipeline_yaml(missing);
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).rfind(missing + ": ", 0) == 0);
  }
  write_file(tmp.path() / "bad.yaml", "ops:\n  - resize: {size: {height: 0, width: 2}, resample: 2}\n");
  try {
    load_pipeline_yaml((tmp.path() / "bad.yaml").string());
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.where() == (tmp.path() / "bad.yaml").string() + ":2:29");
    CHECK(e.key_path() == "ops[0].resize.size.height");
  }
}

TEST_CASE("yaml: the config form resolves through the JSON front end", "[yaml]") {
  TempDir tmp;
  test_config::EnvGuard cache("HF_HUB_CACHE", (tmp.path() / "empty_cache").string());
  const fs::path clip = fs::path(test_config::models_dir()) / "openai__clip-vit-base-patch32";
  // A folder next to the YAML (relative path), an absolute .json path, and a model id.
  fs::create_directories(tmp.path() / "models" / "clip");
  fs::copy_file(clip / "preprocessor_config.json", tmp.path() / "models" / "clip" / "preprocessor_config.json");
  const ImageProcessor proc = ImageProcessor::from_pretrained(clip.string());
  const std::vector<std::string> refs = {"models/clip", (clip / "preprocessor_config.json").string(),
                                         "openai/clip-vit-base-patch32"};
  for (const auto& ref : refs) {
    INFO(ref);
    write_file(tmp.path() / "p.yaml", "config: " + ref + "\n");
    const PipelineSpec plain = load_pipeline_yaml((tmp.path() / "p.yaml").string());
    check_same_plan(plain.plan, proc.plan());
    CHECK(plain.plan.warnings == proc.plan().warnings);
  }

  // Call kwargs, load_image and the pixel limit.
  write_file(tmp.path() / "k.yaml", R"(config: models/clip
kwargs:
  size: {shortest_edge: 256}
  do_center_crop: false
  image_mean: [0.5, 0.5, 0.5]
  data_format: channels_last
load: {exif_transpose: true, max_image_pixels: 4000000}
)");
  const PipelineSpec k = load_pipeline_yaml((tmp.path() / "k.yaml").string());
  const json kwargs = {{"size", {{"shortest_edge", 256}}},
                       {"do_center_crop", false},
                       {"image_mean", {0.5, 0.5, 0.5}},
                       {"data_format", "channels_last"}};
  CallOptions load_image;
  load_image.load_image = true;
  Plan want = proc.plan(kwargs, load_image);
  want.load.max_pixels = 4000000;
  check_same_plan(k.plan, want);
  CHECK(k.plan.load.exif_transpose);
  CHECK(k.options.load_image);

  // Errors of the JSON front end come back located: a bad kwarg at the kwarg, a bad path at config.
  write_file(tmp.path() / "e.yaml", "config: models/clip\nkwargs:\n  do_resize: true\n  size: {height: -1, width: 4}\n");
  try {
    load_pipeline_yaml((tmp.path() / "e.yaml").string());
    FAIL("no error");
  } catch (const ConfigError& e) {
    INFO(e.what());
    CHECK(e.where() == (tmp.path() / "e.yaml").string() + ":4:18");
    CHECK(e.key_path() == "kwargs.size.height");
  }
  write_file(tmp.path() / "m.yaml", "config: models/nothing_here\n");
  try {
    load_pipeline_yaml((tmp.path() / "m.yaml").string());
    FAIL("no error");
  } catch (const ConfigError& e) {
    INFO(e.what());
    CHECK(e.where() == (tmp.path() / "m.yaml").string() + ":1:9");
    CHECK(e.key_path() == "config");
  }
  // Keys that only an explicit pipeline has.
  CHECK_THROWS_WITH(parse_pipeline_yaml("config: " + clip.string() + "\nvideo: true\n", "t.yaml"),
                    Catch::Contains("t.yaml:2:1: video: comes from the processor config"));
  CHECK_THROWS_WITH(parse_pipeline_yaml("config: " + clip.string() + "\nload: {convert_rgb: true}\n", "t.yaml"),
                    Catch::Contains("t.yaml:2:8: load.convert_rgb: comes from the processor config"));
}

TEST_CASE("yaml: run settings parse into the spec", "[yaml]") {
  TempDir tmp;
  write_file(tmp.path() / "cfg" / "run.yaml", R"(# a whole-dataset run
processor: ViTImageProcessor
ops:
  - resize: {size: {height: 224, width: 224}, resample: bilinear}
  - rescale: {rescale_factor: 0.00392156862745098}
  - to_channel_dimension_format: {data_format: channels_first}
input: {folder: ../images, recursive: true}
batch_size: 16
threads: 4
max_in_flight: 12
ordered: false
on_error: skip
output: {dir: out/vit, format: safetensors}
fuse: false
post_process:
  - post_process_semantic_segmentation: {target_size: [512, 683]}
  - post_process_semantic_segmentation
)");
  const PipelineSpec s = load_pipeline_yaml((tmp.path() / "cfg" / "run.yaml").string());
  REQUIRE(s.source.has_value());
  CHECK(s.source->kind == SourceSpec::Kind::kFolder);
  CHECK(s.source->path == (tmp.path() / "images").lexically_normal().string());
  CHECK(s.source->recursive);
  CHECK(s.batch_size == 16);
  CHECK(s.options.threads == 4);
  CHECK(s.options.max_in_flight == 12);
  CHECK_FALSE(s.ordered);
  CHECK(s.on_error == OnError::kSkip);
  CHECK(s.options.skip_failed);
  REQUIRE(s.sink.has_value());
  CHECK(s.sink->out_dir == (tmp.path() / "cfg" / "out" / "vit").string());
  CHECK(s.sink->format == SinkSpec::Format::kSafetensors);
  CHECK_FALSE(s.options.fuse);
  REQUIRE(s.post_process.size() == 2);
  CHECK(s.post_process[0].name == "post_process_semantic_segmentation");
  CHECK(s.post_process[0].params.at("target_size") == json({512, 683}));
  CHECK(s.post_process[1].params == json::object());
  CHECK(s.plan.image_ops.size() == 3);

  // glob and list sources; absolute paths stay as they are.
  const auto g = parse_pipeline_yaml("ops: []\ninput: {glob: \"data/**/*.jpg\"}\n", "/srv/p/run.yaml");
  CHECK(g.source->kind == SourceSpec::Kind::kGlob);
  CHECK(g.source->path == "/srv/p/data/**/*.jpg");
  const auto l = parse_pipeline_yaml("ops: []\ninput: {list: /data/files.txt}\noutput: {dir: /out}\n", "/srv/p/run.yaml");
  CHECK(l.source->kind == SourceSpec::Kind::kList);
  CHECK(l.source->path == "/data/files.txt");
  CHECK(l.sink->out_dir == "/out");
  CHECK(l.sink->format == SinkSpec::Format::kNpy);

  // Defaults when the settings are absent.
  const auto d = parse_pipeline_yaml("ops: []\n", "d.yaml");
  const PipelineSpec defaults;
  CHECK_FALSE(d.source.has_value());
  CHECK_FALSE(d.sink.has_value());
  CHECK(d.batch_size == defaults.batch_size);
  CHECK(d.ordered == defaults.ordered);
  CHECK(d.on_error == OnError::kFail);
  CHECK(d.options.threads == 0);
  CHECK(d.options.max_in_flight == 0);
  CHECK(d.options.fuse);
  CHECK(d.post_process.empty());
  CHECK(d.plan.image_ops.empty());

  // describe_pipeline reports what was resolved.
  const auto j = describe_pipeline(s);
  CHECK(j.at("batch_size") == 16);
  CHECK(j.at("on_error") == "skip");
  CHECK(j.at("output").at("format") == "safetensors");
  CHECK(j.at("ops")[0].at("resize").at("resample") == 2);
}

namespace {

// Nine anchors, each a list of nine aliases of the previous one: 9^9 values once expanded, from
// about 1.3 KB of text (the "billion laughs").
std::string alias_bomb() {
  std::string levels = "&a0 [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]";
  for (int k = 1; k < 9; ++k) {
    levels += ", &a" + std::to_string(k) + " [";
    for (int i = 0; i < 9; ++i) levels += (i ? ", *a" : "*a") + std::to_string(k - 1);
    levels += "]";
  }
  return "[" + levels + "]";
}

}  // namespace

TEST_CASE("yaml: an alias bomb is refused, located, before it is expanded", "[yaml]") {
  const std::string bomb = alias_bomb();
  REQUIRE(bomb.size() < 1400);
  const std::string clip = test_config::models_dir() + "/openai__clip-vit-base-patch32";
  struct Case {
    std::string text, where, key_path;
  };
  const std::vector<Case> cases = {
      {"config: " + clip + "\nkwargs:\n  image_mean: " + bomb + "\n", "b.yaml:3:15", "kwargs.image_mean"},
      {"ops:\n  - normalize: {image_std: 1, image_mean: " + bomb + "}\n", "b.yaml:2:43", "ops[0].normalize.image_mean"},
      {"ops:\n  - color_quantize:\n      clusters: " + bomb + "\n", "b.yaml:3:17", "ops[0].color_quantize.clusters"},
      // An alias inside its own anchor: a cycle.
      {"config: " + clip + "\nkwargs:\n  image_mean: &a [1, *a]\n", "b.yaml:3:15", "kwargs.image_mean"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    try {
      parse_pipeline_yaml(c.text, "b.yaml");
      FAIL("no error");
    } catch (const ConfigError& e) {
      CHECK(e.where() == c.where);
      CHECK(e.key_path() == c.key_path);
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  }
  CHECK_THROWS_WITH(parse_pipeline_yaml(cases[0].text, "b.yaml"),
                    Catch::EndsWith("too large after alias expansion (more than 100000 values in the document; a YAML "
                                    "alias repeats its anchor's whole value)"));
  // Aliases within the bound keep working.
  const PipelineSpec spec =
      parse_pipeline_yaml("ops:\n  - normalize: {image_mean: &m [0.5, 0.5, 0.5], image_std: *m}\n", "ok.yaml");
  REQUIRE(spec.plan.image_ops.size() == 1);
  CHECK(spec.plan.image_ops[0].params["image_std"] == json({0.5, 0.5, 0.5}));
}

TEST_CASE("yaml: duplicate keys of a large map are found by lookup", "[yaml]") {
  std::string text = "config: x\nkwargs:\n";
  for (int i = 0; i < 2000; ++i) text += "  k" + std::to_string(i) + ": 1\n";
  text += "  k123: 2\n";
  try {
    parse_pipeline_yaml(text, "many.yaml");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.where() == "many.yaml:2003:3");
    CHECK(e.key_path() == "kwargs.k123");
    CHECK_THAT(std::string(e.what()), Catch::Contains("duplicate key (first at line 126)"));
  }
}
