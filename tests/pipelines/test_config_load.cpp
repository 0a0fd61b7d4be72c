// Loading preprocessor configs as transformers' from_pretrained does: class resolution, per-class
// defaults, legacy forms, load-time overrides, the local HF cache / bundled lookup, and errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "pipelines/processor_config.h"
#include "tests/common/test_config_util.h"

using namespace pixelflow;
using namespace pixelflow::pipelines;
using namespace pixelflow::test_config;
using nlohmann::json;

namespace {

// The ConfigError of loading the folder `tmp` with `body` as its preprocessor_config.json
// ("<no ConfigError>" where it loads).
std::string load_error(const TempDir& tmp, const std::string& body) {
  write_file(tmp.path() / "preprocessor_config.json", body);
  return error_of([&] { load_processor_config(tmp.str()); });
}

const json kRescale = 1.0 / 255.0;
const json kStd05 = json::array({0.5, 0.5, 0.5});
const json kImagenetMean = json::array({0.485, 0.456, 0.406});
const json kImagenetStd = json::array({0.229, 0.224, 0.225});
const json kClipMean = json::array({0.48145466, 0.4578275, 0.40821073});
const json kClipStd = json::array({0.26862954, 0.26130258, 0.27577711});

// LoadOptions with a revision and from_pretrained(**kwargs) overrides (the rest default).
LoadOptions load_options(std::optional<std::string> revision, json overrides) {
  LoadOptions o;
  o.revision = std::move(revision);
  o.overrides = std::move(overrides);
  return o;
}

// The message of the HubError `f` throws (a model id not found while downloads are off).
std::string hub_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const HubError& e) {
    return e.what();
  }
  return "<no HubError>";
}

}  // namespace

TEST_CASE("supported classes", "[config][load]") {
  const auto& names = supported_processor_classes();
  CHECK(names.size() == 30);
  for (const char* n :
       {"CLIPImageProcessor", "ViTImageProcessor", "DeiTImageProcessor", "ConvNextImageProcessor",
        "SiglipImageProcessor", "BitImageProcessor", "LevitImageProcessor", "PoolFormerImageProcessor", "Qwen2VLImageProcessor", "GotOcr2ImageProcessor", "Gemma3ImageProcessor", "LlavaNextImageProcessor",
        "LlavaOnevisionImageProcessor", "Idefics3ImageProcessor", "SmolVLMImageProcessor",
        "MobileNetV2ImageProcessor", "EfficientNetImageProcessor", "BeitImageProcessor", "SegformerImageProcessor",
        "DPTImageProcessor", "GLPNImageProcessor", "MobileViTImageProcessor", "PerceiverImageProcessor",
        "ImageGPTImageProcessor", "VideoMAEImageProcessor", "DetrImageProcessor", "ConditionalDetrImageProcessor",
        "DeformableDetrImageProcessor", "YolosImageProcessor", "RTDetrImageProcessor"})
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
}

TEST_CASE("class resolution: image_processor_type, Fast names, feature_extractor_type", "[config][load]") {
  CHECK(canonical_processor_class("CLIPImageProcessorFast") == std::optional<std::string>("CLIPImageProcessor"));
  CHECK(canonical_processor_class("ViTFeatureExtractor") == std::optional<std::string>("ViTImageProcessor"));
  CHECK(canonical_processor_class("DPTImageProcessorPil") == std::optional<std::string>("DPTImageProcessor"));
  CHECK_FALSE(canonical_processor_class("OwlViTImageProcessor").has_value());

  // A Fast name loads the slow class; what is saved is the slow class.
  ProcessorConfig fast = from_text(R"({"image_processor_type": "SegformerImageProcessorFast", "size": 64})");
  CHECK(fast.class_name == "SegformerImageProcessor");
  CHECK(fast.attributes["image_processor_type"] == "SegformerImageProcessor");
  CHECK(fast.attributes["size"] == hw(64, 64));

  // feature_extractor_type: FeatureExtractor -> ImageProcessor; not saved.
  ProcessorConfig fe = from_text(R"({"feature_extractor_type": "MobileViTFeatureExtractor"})");
  CHECK(fe.class_name == "MobileViTImageProcessor");
  CHECK_FALSE(fe.attributes.contains("feature_extractor_type"));

  // image_processor_type wins over feature_extractor_type.
  ProcessorConfig both = from_text(
      R"({"image_processor_type": "BitImageProcessor", "feature_extractor_type": "ViTFeatureExtractor"})");
  CHECK(both.class_name == "BitImageProcessor");

  // A null image_processor_type falls through to feature_extractor_type.
  CHECK(from_text(R"({"image_processor_type": null, "feature_extractor_type": "DeiTFeatureExtractor"})").class_name ==
        "DeiTImageProcessor");

  // Forcing a class, as XImageProcessor.from_pretrained does.
  LoadOptions forced;
  forced.processor_class = "ViTImageProcessorFast";
  CHECK(from_text(R"({"image_processor_type": "CLIPImageProcessor"})", forced).class_name == "ViTImageProcessor");

  // Unknown class: the error lists what is supported.
  const std::string msg = error_of([] { from_text(R"({"image_processor_type": "OwlViTImageProcessor"})"); });
  CHECK_THAT(msg, Catch::Contains("cfg.json: image_processor_type"));
  CHECK_THAT(msg, Catch::Contains("OwlViTImageProcessor"));
  CHECK_THAT(msg, Catch::Contains("CLIPImageProcessor"));
  CHECK_THAT(msg, Catch::Contains("VideoMAEImageProcessor"));
  CHECK_THAT(error_of([] { from_text(R"({"feature_extractor_type": "WhisperFeatureExtractor"})"); }),
             Catch::Contains("feature_extractor_type"));
  CHECK_THAT(error_of([] { from_text(R"({"image_processor_type": 3})"); }), Catch::Contains("image_processor_type"));
  CHECK_THAT(error_of([] { from_text(R"({"auto_map": {"AutoImageProcessor": "x.Y"}})"); }),
             Catch::Contains("auto_map"));
}

TEST_CASE("class resolution without a type key uses config.json's model_type, as AutoImageProcessor", "[config][load]") {
  TempDir tmp;
  write_file(tmp.path() / "preprocessor_config.json", R"({"size": 300, "do_normalize": false})");
  // No config.json: a clear error.
  const std::string msg = error_of([&] { load_processor_config(tmp.str()); });
  CHECK_THAT(msg, Catch::Contains("preprocessor_config.json: image_processor_type"));
  CHECK_THAT(msg, Catch::Contains("config.json"));
  write_file(tmp.path() / "config.json", R"({"model_type": "dinov2", "hidden_size": 384})");
  const ProcessorConfig cfg = load_processor_config(tmp.str());
  CHECK(cfg.class_name == "BitImageProcessor");
  CHECK(cfg.attributes["size"] == se(300));
  write_file(tmp.path() / "config.json", R"({"model_type": "owlvit"})");
  CHECK_THAT(error_of([&] { load_processor_config(tmp.str()); }), Catch::Contains("model_type"));
}

TEST_CASE("defaults for missing keys, for every class", "[config][load]") {
  const std::map<std::string, json> expected = {
      {"CLIPImageProcessor",
       {{"do_resize", true}, {"size", se(224)}, {"resample", 3}, {"do_center_crop", true}, {"crop_size", hw(224, 224)},
        {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kClipMean},
        {"image_std", kClipStd}, {"do_convert_rgb", true}}},
      {"ViTImageProcessor",
       {{"do_resize", true}, {"size", hw(224, 224)}, {"resample", 2}, {"do_rescale", true}, {"rescale_factor", kRescale},
        {"do_normalize", true}, {"image_mean", kStd05}, {"image_std", kStd05}, {"do_convert_rgb", nullptr}}},
      {"DeiTImageProcessor",
       {{"do_resize", true}, {"size", hw(256, 256)}, {"resample", 3}, {"do_center_crop", true},
        {"crop_size", hw(224, 224)}, {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true},
        {"image_mean", kStd05}, {"image_std", kStd05}}},
      {"ConvNextImageProcessor",
       {{"do_resize", true}, {"size", se(384)}, {"crop_pct", 0.875}, {"resample", 3}, {"do_rescale", true},
        {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kStd05}, {"image_std", kStd05}}},
      {"SiglipImageProcessor",
       {{"do_resize", true}, {"size", hw(224, 224)}, {"resample", 3}, {"do_rescale", true},
        {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kStd05}, {"image_std", kStd05},
        {"do_convert_rgb", nullptr}}},
      {"BitImageProcessor",
       {{"do_resize", true}, {"size", se(224)}, {"resample", 3}, {"do_center_crop", true}, {"crop_size", hw(224, 224)},
        {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kClipMean},
        {"image_std", kClipStd}, {"do_convert_rgb", true}}},
      {"LevitImageProcessor",
       {{"do_resize", true}, {"size", se(224)}, {"resample", 3}, {"do_center_crop", true}, {"crop_size", hw(224, 224)},
        {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kImagenetMean},
        {"image_std", kImagenetStd}}},
      {"PoolFormerImageProcessor",
       {{"do_resize", true}, {"size", se(224)}, {"crop_pct", 0.9}, {"resample", 3}, {"do_center_crop", true},
        {"crop_size", hw(224, 224)}, {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true},
        {"image_mean", kImagenetMean}, {"image_std", kImagenetStd}}},
      {"MobileNetV2ImageProcessor",
       {{"do_resize", true}, {"size", se(256)}, {"resample", 2}, {"do_center_crop", true}, {"crop_size", hw(224, 224)},
        {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kStd05},
        {"image_std", kStd05}, {"do_reduce_labels", false}}},
      {"EfficientNetImageProcessor",
       {{"do_resize", true}, {"size", hw(346, 346)}, {"resample", 3}, {"do_center_crop", false},
        {"crop_size", hw(289, 289)}, {"rescale_factor", kRescale}, {"rescale_offset", false}, {"do_rescale", true},
        {"do_normalize", true}, {"image_mean", kStd05}, {"image_std", kStd05}, {"include_top", true}}},
      {"BeitImageProcessor",
       {{"do_resize", true}, {"size", hw(256, 256)}, {"resample", 3}, {"do_center_crop", true},
        {"crop_size", hw(224, 224)}, {"rescale_factor", kRescale}, {"do_rescale", true}, {"do_normalize", true},
        {"image_mean", kStd05}, {"image_std", kStd05}, {"do_reduce_labels", false}}},
      {"SegformerImageProcessor",
       {{"do_resize", true}, {"size", hw(512, 512)}, {"resample", 2}, {"do_rescale", true},
        {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kImagenetMean},
        {"image_std", kImagenetStd}, {"do_reduce_labels", false}}},
      {"DPTImageProcessor",
       {{"do_resize", true}, {"size", hw(384, 384)}, {"resample", 3}, {"keep_aspect_ratio", false},
        {"ensure_multiple_of", 1}, {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true},
        {"image_mean", kStd05}, {"image_std", kStd05}, {"do_pad", false}, {"size_divisor", nullptr},
        {"do_reduce_labels", false}}},
      {"GLPNImageProcessor",
       {{"do_resize", true}, {"size_divisor", 32}, {"resample", 2}, {"do_rescale", true}, {"rescale_factor", kRescale}}},
      {"MobileViTImageProcessor",
       {{"do_resize", true}, {"size", se(224)}, {"resample", 3}, {"do_rescale", true}, {"rescale_factor", kRescale},
        {"do_center_crop", true}, {"crop_size", hw(256, 256)}, {"do_flip_channel_order", true},
        {"do_reduce_labels", false}}},
      {"PerceiverImageProcessor",
       {{"do_center_crop", true}, {"crop_size", hw(256, 256)}, {"do_resize", true}, {"size", hw(224, 224)},
        {"resample", 3}, {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true},
        {"image_mean", kImagenetMean}, {"image_std", kImagenetStd}}},
      {"ImageGPTImageProcessor",
       {{"clusters", nullptr}, {"do_resize", true}, {"size", hw(256, 256)}, {"resample", 2}, {"do_normalize", true},
        {"do_color_quantize", true}}},
      {"VideoMAEImageProcessor",
       {{"do_resize", true}, {"size", se(224)}, {"resample", 2}, {"do_center_crop", true}, {"crop_size", hw(224, 224)},
        {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kStd05},
        {"image_std", kStd05}}},
      {"Qwen2VLImageProcessor",
       {{"do_resize", true}, {"size", {{"shortest_edge", 3136}, {"longest_edge", 1003520}}}, {"resample", 3},
        {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kClipMean},
        {"image_std", kClipStd}, {"do_convert_rgb", true}, {"min_pixels", 3136}, {"max_pixels", 1003520},
        {"patch_size", 14}, {"temporal_patch_size", 2}, {"merge_size", 2}}},
      {"GotOcr2ImageProcessor",
       {{"do_resize", true}, {"size", hw(384, 384)}, {"crop_to_patches", false}, {"min_patches", 1},
        {"max_patches", 12}, {"resample", 3}, {"do_rescale", true}, {"rescale_factor", kRescale},
        {"do_normalize", true}, {"image_mean", kClipMean}, {"image_std", kClipStd}, {"do_convert_rgb", true}}},
      {"LlavaNextImageProcessor",
       {{"do_resize", true}, {"size", se(224)},
        {"image_grid_pinpoints", json::array({{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}})},
        {"resample", 3}, {"do_center_crop", true}, {"crop_size", hw(224, 224)}, {"do_rescale", true},
        {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kClipMean}, {"image_std", kClipStd},
        {"do_pad", true}, {"do_convert_rgb", true}}},
      {"LlavaOnevisionImageProcessor",
       {{"do_resize", true}, {"size", hw(384, 384)},
        {"image_grid_pinpoints",
         [] {
           json p = json::array();
           for (int h = 384; h <= 2304; h += 384)
             for (int w = 384; w <= 2304; w += 384) p.push_back({h, w});
           return p;
         }()},
        {"resample", 3}, {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true},
        {"image_mean", kClipMean}, {"image_std", kClipStd}, {"do_pad", true}, {"do_convert_rgb", true}}},
      {"Idefics3ImageProcessor",
       {{"do_convert_rgb", true}, {"do_resize", true}, {"size", {{"longest_edge", 1456}}}, {"resample", 1},
        {"do_image_splitting", true}, {"max_image_size", {{"longest_edge", 364}}}, {"do_rescale", true},
        {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kStd05}, {"image_std", kStd05},
        {"do_pad", true}}},
      {"SmolVLMImageProcessor",
       {{"do_convert_rgb", true}, {"do_resize", true}, {"size", {{"longest_edge", 1456}}}, {"resample", 1},
        {"do_image_splitting", true}, {"max_image_size", {{"longest_edge", 364}}}, {"do_rescale", true},
        {"rescale_factor", kRescale}, {"do_normalize", true}, {"image_mean", kStd05}, {"image_std", kStd05},
        {"do_pad", true}}},
      {"Gemma3ImageProcessor",
       {{"do_resize", true}, {"size", hw(224, 224)}, {"resample", 2}, {"do_rescale", true}, {"rescale_factor", kRescale},
        {"do_normalize", true}, {"image_mean", kStd05}, {"image_std", kStd05}, {"do_convert_rgb", true},
        {"do_pan_and_scan", nullptr}, {"pan_and_scan_min_crop_size", nullptr}, {"pan_and_scan_max_num_crops", nullptr},
        {"pan_and_scan_min_ratio_to_activate", nullptr}}},
      {"DetrImageProcessor", {{"format", "coco_detection"}, {"do_resize", true}, {"size", {{"shortest_edge", 800}, {"longest_edge", 1333}}},
        {"resample", 2}, {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true},
        {"image_mean", json::array({0.485, 0.456, 0.406})}, {"image_std", json::array({0.229, 0.224, 0.225})},
        {"do_convert_annotations", true}, {"do_pad", true}, {"pad_size", nullptr}}},
      {"ConditionalDetrImageProcessor", {{"format", "coco_detection"}, {"do_resize", true}, {"size", {{"shortest_edge", 800}, {"longest_edge", 1333}}},
        {"resample", 2}, {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true},
        {"image_mean", json::array({0.485, 0.456, 0.406})}, {"image_std", json::array({0.229, 0.224, 0.225})},
        {"do_convert_annotations", true}, {"do_pad", true}, {"pad_size", nullptr}}},
      {"DeformableDetrImageProcessor", {{"format", "coco_detection"}, {"do_resize", true}, {"size", {{"shortest_edge", 800}, {"longest_edge", 1333}}},
        {"resample", 2}, {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true},
        {"image_mean", json::array({0.485, 0.456, 0.406})}, {"image_std", json::array({0.229, 0.224, 0.225})},
        {"do_convert_annotations", true}, {"do_pad", true}, {"pad_size", nullptr}}},
      {"YolosImageProcessor", {{"format", "coco_detection"}, {"do_resize", true}, {"size", {{"shortest_edge", 800}, {"longest_edge", 1333}}},
        {"resample", 2}, {"do_rescale", true}, {"rescale_factor", kRescale}, {"do_normalize", true},
        {"image_mean", json::array({0.485, 0.456, 0.406})}, {"image_std", json::array({0.229, 0.224, 0.225})},
        {"do_convert_annotations", true}, {"do_pad", true}, {"pad_size", nullptr}}},
      {"RTDetrImageProcessor",
       {{"format", "coco_detection"}, {"do_resize", true}, {"size", hw(640, 640)}, {"resample", 2}, {"do_rescale", true},
        {"rescale_factor", kRescale}, {"do_normalize", false}, {"image_mean", json::array({0.485, 0.456, 0.406})},
        {"image_std", json::array({0.229, 0.224, 0.225})}, {"do_convert_annotations", true}, {"do_pad", false},
        {"pad_size", nullptr}}},
  };
  REQUIRE(expected.size() == supported_processor_classes().size());
  for (const auto& [cls, attrs] : expected) {
    INFO(cls);
    const ProcessorConfig cfg = from_text(json{{"image_processor_type", cls}}.dump());
    json want = attrs;
    want["image_processor_type"] = cls;
    CHECK(cfg.attributes == want);
    CHECK(cfg.warnings.empty());
    // JSON null for a key with a `x if x is not None else default` fallback gives the default...
    if (attrs.contains("image_mean")) {
      const ProcessorConfig n = from_text(json{{"image_processor_type", cls}, {"image_mean", nullptr}}.dump());
      CHECK(n.attributes["image_mean"] == attrs["image_mean"]);
    }
    // ... but for plain parameters null stays null (and is saved as null).
    const ProcessorConfig r = from_text(json{{"image_processor_type", cls}, {"do_resize", nullptr}}.dump());
    CHECK(r.attributes["do_resize"].is_null());
    CHECK_THAT(to_json_string(r), Catch::Contains("\"do_resize\": null"));
  }
}

TEST_CASE("legacy size and crop_size forms follow each class's get_size_dict", "[config][load]") {
  // An int size: shortest edge for the CLIP-like classes, a square for the ViT-like ones.
  const std::map<std::string, json> int_size = {
      {"CLIPImageProcessor", se(100)},        {"ViTImageProcessor", hw(100, 100)},
      {"DeiTImageProcessor", hw(100, 100)},   {"ConvNextImageProcessor", se(100)},
      {"SiglipImageProcessor", 100},  // Siglip's __init__ keeps size as given
      {"BitImageProcessor", se(100)},         {"LevitImageProcessor", se(100)},
      {"PoolFormerImageProcessor", se(100)},  {"MobileNetV2ImageProcessor", se(100)},
      {"EfficientNetImageProcessor", hw(100, 100)}, {"BeitImageProcessor", hw(100, 100)},
      {"SegformerImageProcessor", hw(100, 100)}, {"DPTImageProcessor", hw(100, 100)},
      {"MobileViTImageProcessor", se(100)},   {"PerceiverImageProcessor", hw(100, 100)},
      {"ImageGPTImageProcessor", hw(100, 100)}, {"VideoMAEImageProcessor", se(100)},
  };
  for (const auto& [cls, want] : int_size) {
    INFO(cls);
    const ProcessorConfig cfg = from_text(json{{"image_processor_type", cls}, {"size", 100}}.dump());
    CHECK(cfg.attributes["size"] == want);
    // A [height, width] list is (height, width) for everyone (Siglip keeps it raw).
    const ProcessorConfig l = from_text(json{{"image_processor_type", cls}, {"size", {120, 90}}}.dump());
    CHECK(l.attributes["size"] == (cls == "SiglipImageProcessor" ? json({120, 90}) : hw(120, 90)));
  }
  // crop_size is always square.
  CHECK(from_text(R"({"image_processor_type": "CLIPImageProcessor", "crop_size": 200})").attributes["crop_size"] ==
        hw(200, 200));
  CHECK(from_text(R"({"image_processor_type": "MobileViTImageProcessor", "crop_size": [10, 20]})")
            .attributes["crop_size"] == hw(10, 20));
  // Dicts are kept as they are when the key set is valid.
  CHECK(from_text(R"({"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 10, "longest_edge": 20}})")
            .attributes["size"] == json({{"shortest_edge", 10}, {"longest_edge", 20}}));
}

TEST_CASE("legacy keys: dropped with HF's warning, kept as attributes, or translated", "[config][load]") {
  // Segformer/BEiT filter unknown __init__ kwargs: reduce_labels is ignored with a warning.
  const ProcessorConfig seg = from_text(
      R"({"feature_extractor_type": "SegformerFeatureExtractor", "reduce_labels": true, "size": 512, "foo": 1})");
  CHECK(seg.attributes["do_reduce_labels"] == false);
  CHECK_FALSE(seg.attributes.contains("reduce_labels"));
  CHECK_FALSE(seg.attributes.contains("foo"));
  REQUIRE(seg.warnings.size() == 1);
  CHECK(seg.warnings[0] ==
        "The following named arguments are not valid for `SegformerImageProcessor.__init__` and were ignored: "
        "'feature_extractor_type', 'reduce_labels', 'foo'");
  // processor_class / image_processor_type are service kwargs: no warning, processor_class not saved.
  const ProcessorConfig beit =
      from_text(R"({"image_processor_type": "BeitImageProcessor", "processor_class": "X", "do_reduce_labels": true})");
  CHECK(beit.warnings.empty());
  CHECK(beit.attributes["do_reduce_labels"] == true);
  CHECK_FALSE(beit.attributes.contains("processor_class"));

  // Other classes keep unknown keys as attributes (saved again), drop feature_extractor_type and
  // processor_class, and never save _valid_processor_keys.
  const ProcessorConfig pool = from_text(
      R"({"feature_extractor_type": "PoolFormerFeatureExtractor", "do_resize_and_center_crop": true, "size": 224,
          "processor_class": "SiglipProcessor", "_valid_processor_keys": ["images"]})");
  CHECK(pool.warnings.empty());
  CHECK(pool.attributes["do_resize_and_center_crop"] == true);
  CHECK_FALSE(pool.attributes.contains("processor_class"));
  CHECK_FALSE(pool.attributes.contains("_valid_processor_keys"));
  CHECK_THAT(to_json_string(pool), Catch::Contains("\"do_resize_and_center_crop\": true"));
  const ProcessorConfig per = from_text(R"({"feature_extractor_type": "PerceiverFeatureExtractor", "center_crop_size": 256})");
  CHECK(per.attributes["center_crop_size"] == 256);
  CHECK(per.attributes["crop_size"] == hw(256, 256));

  // CLIP's KOSMOS-2 compatibility flag use_square_size.
  const ProcessorConfig sq = from_text(R"({"image_processor_type": "CLIPImageProcessor", "size": 224, "use_square_size": true})");
  CHECK(sq.attributes["size"] == hw(224, 224));
  CHECK_FALSE(sq.attributes.contains("use_square_size"));
  const ProcessorConfig nsq =
      from_text(R"({"image_processor_type": "CLIPImageProcessor", "size": 224, "use_square_size": false})");
  CHECK(nsq.attributes["size"] == se(224));
  CHECK(nsq.attributes["use_square_size"] == false);

  // ConvNext: crop_pct null -> 224/256; PoolFormer keeps null (crop_pct then unused).
  CHECK(from_text(R"({"image_processor_type": "ConvNextImageProcessor", "crop_pct": null})").attributes["crop_pct"] ==
        0.875);
  CHECK(from_text(R"({"image_processor_type": "PoolFormerImageProcessor", "crop_pct": null})")
            .attributes["crop_pct"]
            .is_null());

  // ImageGPT: clusters go through np.array(...).tolist() (one float makes every entry a float);
  // to_dict nulls mean/std/rescale keys the slow class does not use.
  const ProcessorConfig gpt = from_text(
      R"({"image_processor_type": "ImageGPTImageProcessor", "clusters": [[1, 0, -1], [0.5, 0.25, 1]],
          "image_mean": [0.5, 0.5, 0.5], "do_rescale": true})");
  CHECK(gpt.attributes["clusters"] == json::parse("[[1.0, 0.0, -1.0], [0.5, 0.25, 1.0]]"));
  CHECK(gpt.attributes["clusters"][0][0].is_number_float());
  CHECK(gpt.attributes["image_mean"].is_null());
  CHECK(gpt.attributes["do_rescale"].is_null());
  CHECK_THAT(to_json_string(gpt), Catch::Contains("      1.0,\n      0.0,\n      -1.0\n"));
  const ProcessorConfig gpt_int =
      from_text(R"({"image_processor_type": "ImageGPTImageProcessor", "clusters": [[1, 0, 2]]})");
  CHECK(gpt_int.attributes["clusters"][0][0].is_number_integer());
  CHECK_THAT(error_of([] { from_text(R"({"image_processor_type": "ImageGPTImageProcessor", "clusters": [[1, 2, 3], [4]]})"); }),
             Catch::Contains("clusters"));
}

TEST_CASE("non-boolean flags are accepted with Python truthiness and a note", "[config][load]") {
  const ProcessorConfig cfg = from_text(R"({"image_processor_type": "ViTImageProcessor", "do_resize": "yes"})");
  CHECK(cfg.attributes["do_resize"] == "yes");  // kept (and saved) as transformers keeps it
  REQUIRE(cfg.warnings.size() == 1);
  CHECK_THAT(cfg.warnings[0], Catch::StartsWith("pixelflow: cfg.json: do_resize:"));
  CHECK_THAT(cfg.warnings[0], Catch::Contains("true"));
}

TEST_CASE("load-time overrides follow from_pretrained(**kwargs)", "[config][load]") {
  const std::string vit = models_dir() + "/google__vit-base-patch16-224";  // file has size: 224
  LoadOptions opts;
  opts.overrides = {{"size", 384}, {"do_normalize", false}, {"foo", 1}, {"crop_size", 100}};
  const ProcessorConfig cfg = load_processor_config(vit, opts);
  // size is in the file: replaced before __init__, so normalized.
  CHECK(cfg.attributes["size"] == hw(384, 384));
  CHECK(cfg.attributes["do_normalize"] == false);
  // crop_size is one of ImagesKwargs: it reaches ViT's __init__, whose **kwargs keep it as an
  // attribute (transformers 5.0's from_dict); foo is unused.
  CHECK(cfg.unused_kwargs == std::vector<std::string>{"foo"});
  CHECK(cfg.attributes["crop_size"] == 100);

  // size not in the file: it still goes through __init__ (get_size_dict).
  const ProcessorConfig raw =
      from_text(R"({"image_processor_type": "CLIPImageProcessor"})", load_options(std::nullopt, {{"size", 336}}));
  CHECK(raw.attributes["size"] == se(336));
  CHECK(raw.unused_kwargs.empty());
  // Qwen2-VL's min_pixels / max_pixels make its size in __init__.
  const ProcessorConfig qwen = load_processor_config(models_dir() + "/Qwen__Qwen2-VL-7B-Instruct",
                                                     load_options(std::nullopt, {{"max_pixels", 12544}}));
  CHECK(qwen.attributes["size"] == json({{"shortest_edge", 3136}, {"longest_edge", 12544}}));
  CHECK(qwen.attributes["max_pixels"] == 12544);
  // An attribute that is not a valid kwarg is dropped without being set.
  const ProcessorConfig kept = from_text(R"({"image_processor_type": "CLIPImageProcessor", "bar": 1})",
                                         load_options(std::nullopt, {{"bar", 2}}));
  CHECK(kept.attributes["bar"] == 1);
  CHECK(kept.unused_kwargs.empty());

  // A filtered class does not warn for overrides (they never reach __init__); unknown ones are unused.
  const ProcessorConfig seg = load_processor_config(models_dir() + "/nvidia__segformer-b0-finetuned-ade-512-512",
                                                    load_options(std::nullopt, {{"reduce_labels", true}}));
  CHECK(seg.unused_kwargs == std::vector<std::string>{"reduce_labels"});
  CHECK(seg.attributes["do_reduce_labels"] == false);

  // Overridden values are checked and blamed on the overrides.
  CHECK(error_of([&] {
          load_processor_config(vit, load_options(std::nullopt, {{"image_std", {0.5, 0.0, 0.5}}}));
        }) == "overrides: image_std[1]: must be > 0, got 0.0");
  CHECK_THAT(error_of([&] { load_processor_config(vit, load_options(std::nullopt, {{"size", "big"}})); }),
             Catch::StartsWith("overrides: size:"));
  CHECK_THAT(error_of([&] { load_processor_config(vit, load_options(std::nullopt, json::array({1}))); }),
             Catch::StartsWith("overrides:"));
}

TEST_CASE("model ids: local Hugging Face cache first, then bundled copies", "[config][load][cache]") {
  TempDir cache;
  const auto repo = cache.path() / "models--acme--tiny-vit";
  const std::string main_hash = "0123456789abcdef0123456789abcdef01234567";
  const std::string v1_hash = "89abcdef0123456789abcdef0123456789abcdef";
  write_file(repo / "refs" / "main", main_hash);  // no trailing newline, as huggingface_hub writes it
  write_file(repo / "refs" / "v1", v1_hash + "\n");
  write_file(repo / "snapshots" / main_hash / "preprocessor_config.json",
             R"({"image_processor_type": "ViTImageProcessor", "size": 96})");
  write_file(repo / "snapshots" / v1_hash / "preprocessor_config.json",
             R"({"image_processor_type": "ViTImageProcessor", "size": 64})");
  // The cache also shadows a bundled model.
  const auto clip = cache.path() / "models--openai--clip-vit-base-patch32";
  write_file(clip / "refs" / "main", main_hash);
  write_file(clip / "snapshots" / main_hash / "preprocessor_config.json",
             R"({"image_processor_type": "CLIPImageProcessor", "size": 111})");

  {
    EnvGuard hub("HF_HUB_CACHE", cache.str());
    CHECK(hf_hub_cache_dir() == cache.str());
    const ProcessorConfig m = load_processor_config("acme/tiny-vit");
    CHECK(m.attributes["size"] == hw(96, 96));
    CHECK_THAT(m.source, Catch::Contains(main_hash));
    CHECK(load_processor_config("acme/tiny-vit", load_options("v1", json::object())).attributes["size"] == hw(64, 64));
    // A revision may also be a commit hash naming a snapshot.
    CHECK(load_processor_config("acme/tiny-vit", load_options(v1_hash, json::object())).attributes["size"] ==
          hw(64, 64));
    CHECK(load_processor_config("openai/clip-vit-base-patch32").attributes["size"] == se(111));
    // Unknown revision: no bundled fallback, clear error (offline: nothing is downloaded).
    EnvGuard offline("HF_HUB_OFFLINE", "1");
    const std::string msg =
        hub_error_of([] { load_processor_config("acme/tiny-vit", load_options("v2", json::object())); });
    CHECK_THAT(msg, Catch::StartsWith("acme/tiny-vit: model id not found"));
    CHECK_THAT(msg, Catch::Contains("\"v2\""));
  }
  {
    // HF_HOME/hub when HF_HUB_CACHE is unset.
    TempDir home;
    std::filesystem::create_directories(home.path() / "hub");
    std::filesystem::rename(repo, home.path() / "hub" / "models--acme--tiny-vit");
    EnvGuard hub("HF_HUB_CACHE", std::nullopt);
    EnvGuard legacy("HUGGINGFACE_HUB_CACHE", std::nullopt);
    EnvGuard hf_home("HF_HOME", home.str());
    CHECK(hf_hub_cache_dir() == (home.path() / "hub").string());
    CHECK(load_processor_config("acme/tiny-vit").attributes["size"] == hw(96, 96));
  }
  {
    // Nothing cached: bundled copies (folder org__name), including the synthetic ImageGPT one.
    TempDir empty;
    EnvGuard hub("HF_HUB_CACHE", empty.str());
    EnvGuard models("PIXELFLOW_MODELS_DIR", models_dir());
    const ProcessorConfig clip_b = load_processor_config("openai/clip-vit-base-patch32");
    CHECK(clip_b.attributes["size"] == se(224));
    CHECK_THAT(clip_b.source, Catch::Contains("openai__clip-vit-base-patch32"));
    CHECK(load_processor_config("openai/imagegpt-small__SYNTHETIC-clusters").attributes["clusters"].size() == 512);
    const auto ids = bundled_model_ids();
    CHECK(ids.size() == 32);
    CHECK(std::find(ids.begin(), ids.end(), "facebook/dinov2-small") != ids.end());
    EnvGuard offline("HF_HUB_OFFLINE", "1");
    const std::string msg = hub_error_of([] { load_processor_config("acme/unknown-model"); });
    CHECK_THAT(msg, Catch::StartsWith("acme/unknown-model: model id not found"));
    CHECK_THAT(msg, Catch::Contains("downloads are off (HF_HUB_OFFLINE is set)"));
    CHECK_THROWS_AS(load_processor_config("acme/unknown-model"), HubError);
    CHECK_THAT(msg, Catch::Contains("openai/clip-vit-base-patch32"));
  }
  {
    // PIXELFLOW_MODELS_DIR replaces the bundled directory.
    TempDir mine;
    write_file(mine.path() / "acme__other" / "preprocessor_config.json", R"({"image_processor_type": "GLPNImageProcessor"})");
    TempDir empty;
    EnvGuard hub("HF_HUB_CACHE", empty.str());
    EnvGuard models("PIXELFLOW_MODELS_DIR", mine.str());
    CHECK(bundled_models_dir() == mine.str());
    CHECK(load_processor_config("acme/other").class_name == "GLPNImageProcessor");
    EnvGuard offline("HF_HUB_OFFLINE", "1");
    CHECK_THROWS_AS(load_processor_config("openai/clip-vit-base-patch32"), HubError);
  }
}

TEST_CASE("paths: directory, json file, and clear errors", "[config][load]") {
  TempDir tmp;
  write_file(tmp.path() / "my.json", R"({"image_processor_type": "DeiTImageProcessor", "size": 300})");
  CHECK(load_processor_config((tmp.path() / "my.json").string()).attributes["size"] == hw(300, 300));
  std::filesystem::create_directories(tmp.path() / "empty");
  CHECK_THAT(error_of([&] { load_processor_config((tmp.path() / "empty").string()); }),
             Catch::Contains("has no preprocessor_config.json"));
  CHECK_THAT(error_of([&] { load_processor_config((tmp.path() / "missing" / "x.json").string()); }),
             Catch::Contains("no such file or directory"));
  write_file(tmp.path() / "bad" / "preprocessor_config.json", R"({"image_processor_type": "ViTImageProcessor",)");
  const std::string bad = error_of([&] { load_processor_config((tmp.path() / "bad").string()); });
  CHECK_THAT(bad, Catch::Contains("bad/preprocessor_config.json"));
  CHECK_THAT(bad, Catch::Contains("not a valid JSON file"));
  write_file(tmp.path() / "list.json", "[1, 2]");
  CHECK_THAT(error_of([&] { load_processor_config((tmp.path() / "list.json").string()); }),
             Catch::Contains("top level must be a JSON object"));
}

TEST_CASE("wrong types and values name the file and the key", "[config][load][errors]") {
  TempDir tmp;
  auto load_with = [&](const std::string& body) { return load_error(tmp, body); };
  const std::string file = (tmp.path() / "preprocessor_config.json").string();
  CHECK(load_with(R"({"image_processor_type": "CLIPImageProcessor", "image_std": [0.5, 0, 0.5]})") ==
        file + ": image_std[1]: must be > 0, got 0");
  CHECK_THAT(load_with(R"({"image_processor_type": "CLIPImageProcessor", "size": "abc"})"),
             Catch::StartsWith(file + ": size: could not convert to a size dict"));
  CHECK_THAT(load_with(R"({"image_processor_type": "CLIPImageProcessor", "size": 224.0})"),
             Catch::StartsWith(file + ": size:"));
  CHECK_THAT(load_with(R"({"image_processor_type": "ViTImageProcessor", "size": {"height": 224}})"),
             Catch::StartsWith(file + ": size: must have one of the key sets"));
  CHECK_THAT(load_with(R"({"image_processor_type": "ViTImageProcessor", "size": [224]})"),
             Catch::StartsWith(file + ": size:"));
  CHECK(load_with(R"({"image_processor_type": "ViTImageProcessor", "size": {"height": 0, "width": 10}})") ==
        file + ": size.height: must be a positive integer, got 0");
  CHECK(load_with(R"({"image_processor_type": "DeiTImageProcessor", "crop_size": {"height": "x", "width": 10}})") ==
        file + ": crop_size.height: must be a positive integer, got \"x\"");
  CHECK(load_with(R"({"image_processor_type": "ViTImageProcessor", "rescale_factor": "0.5"})") ==
        file + ": rescale_factor: must be a number, got \"0.5\"");
  CHECK_THAT(load_with(R"({"image_processor_type": "ViTImageProcessor", "resample": 7})"),
             Catch::StartsWith(file + ": resample: must be a PIL resampling filter 0..5"));
  CHECK(load_with(R"({"image_processor_type": "ViTImageProcessor", "image_mean": [0.5, "a", 0.5]})") ==
        file + ": image_mean[1]: must be a number, got \"a\"");
  CHECK_THAT(load_with(R"({"image_processor_type": "ConvNextImageProcessor", "crop_pct": 0})"),
             Catch::StartsWith(file + ": crop_pct:"));
  CHECK_THAT(load_with(R"({"image_processor_type": "DPTImageProcessor", "ensure_multiple_of": 0})"),
             Catch::StartsWith(file + ": ensure_multiple_of:"));
  CHECK_THAT(load_with(R"({"image_processor_type": "GLPNImageProcessor", "size_divisor": 1.5})"),
             Catch::StartsWith(file + ": size_divisor:"));
  // Valid values HF accepts are accepted: single-number mean/std, extra keys, resample 0.
  write_file(tmp.path() / "preprocessor_config.json",
             R"({"image_processor_type": "ViTImageProcessor", "image_mean": 0.5, "image_std": 0.25, "resample": 0,
                 "something_new": {"a": 1}})");
  const ProcessorConfig ok = load_processor_config(tmp.str());
  CHECK(ok.attributes["image_std"] == 0.25);
  CHECK(ok.attributes["something_new"] == json({{"a", 1}}));
}

TEST_CASE("from_pretrained's loader kwargs in overrides are consumed, not reported", "[config][load][cache]") {
  TempDir cache;
  const auto repo = cache.path() / "models--acme--sub";
  const std::string hash = "fedcba9876543210fedcba9876543210fedcba98";
  write_file(repo / "refs" / "dev", hash);
  write_file(repo / "snapshots" / hash / "image" / "preprocessor_config.json",
             R"({"image_processor_type": "LevitImageProcessor", "size": 160})");
  TempDir other;
  EnvGuard hub("HF_HUB_CACHE", other.str());  // cache_dir below wins over the environment
  LoadOptions opts;
  opts.overrides = {{"cache_dir", cache.str()}, {"revision", "dev"},  {"subfolder", "image"},
                    {"local_files_only", true}, {"use_fast", true},   {"token", "x"},
                    {"do_center_crop", false},  {"not_an_attribute", 1}};
  const ProcessorConfig cfg = load_processor_config("acme/sub", opts);
  CHECK(cfg.class_name == "LevitImageProcessor");
  CHECK(cfg.attributes["size"] == se(160));
  CHECK(cfg.attributes["do_center_crop"] == false);
  CHECK(cfg.unused_kwargs == std::vector<std::string>{"not_an_attribute"});
  REQUIRE(cfg.warnings.size() == 1);
  CHECK_THAT(cfg.warnings[0], Catch::Contains("use_fast"));
  // A local directory with a subfolder.
  TempDir local;
  write_file(local.path() / "proc" / "preprocessor_config.json", R"({"image_processor_type": "GLPNImageProcessor"})");
  CHECK(load_processor_config(local.str(), load_options(std::nullopt, {{"subfolder", "proc"}})).class_name ==
        "GLPNImageProcessor");
  CHECK_THAT(error_of([&] { load_processor_config(local.str()); }), Catch::Contains("has no preprocessor_config.json"));
}

TEST_CASE("malformed JSON and absurd nesting: one line naming the file", "[config][load][errors]") {
  TempDir tmp;
  auto load_with = [&](const std::string& body) { return load_error(tmp, body); };
  const std::string file = (tmp.path() / "preprocessor_config.json").string();
  for (const std::string& body : {std::string(""), std::string("{\"size\": 224,"), std::string("{'size': 224}"),
                                  std::string("{\"a\": 1}\n{\"b\": 2}"), std::string("\xff\xfe{}"),
                                  std::string("{\"size\":\n\n 22x}")}) {
    INFO(body);
    const std::string err = load_with(body);
    CHECK_THAT(err, Catch::StartsWith(file + ": not a valid JSON file: "));
    CHECK(err.find('\n') == std::string::npos);
  }
  // Deeper than Python's json.loads goes (RecursionError): refused while parsing, no stack overflow
  // in the recursive copies further on.
  const std::string deep = "{\"image_processor_type\": \"ImageGPTImageProcessor\", \"clusters\": " +
                           std::string(200000, '[') + std::string(200000, ']') + "}";
  CHECK_THAT(load_with(deep), Catch::StartsWith(file + ": not a valid JSON file: nested deeper than 1000 levels"));
  const std::string ok = "{\"image_processor_type\": \"ViTImageProcessor\", \"x\": " + std::string(900, '[') +
                         std::string(900, ']') + "}";
  CHECK(load_with(ok) == "<no ConfigError>");
  // Wrong types for known keys name the key (more in "wrong types and values name the file and the key").
  CHECK_THAT(load_with(R"({"image_processor_type": "ViTImageProcessor", "size": "big"})"),
             Catch::StartsWith(file + ": size: "));
  CHECK_THAT(load_with(R"({"image_processor_type": "ViTImageProcessor", "resample": 99})"),
             Catch::StartsWith(file + ": resample: must be a PIL resampling filter 0..5"));
  CHECK_THAT(load_with(R"({"image_processor_type": "ViTImageProcessor", "image_std": {"r": 1}})"),
             Catch::StartsWith(file + ": image_std: must be a number"));
  CHECK_THAT(load_with(R"({"image_processor_type": "ViTImageProcessor", "rescale_factor": [1]})"),
             Catch::StartsWith(file + ": rescale_factor: must be a number"));
  CHECK_THAT(load_with(R"({"image_processor_type": 7})"), Catch::StartsWith(file + ": image_processor_type: "));
  // Values transformers accepts stay accepted: a single number for image_mean (broadcast), and
  // non-boolean flags (Python truthiness, with a note).
  CHECK(load_with(R"({"image_processor_type": "ViTImageProcessor", "image_mean": 3, "do_resize": "yes"})") ==
        "<no ConfigError>");
}

TEST_CASE("fuzz regression: a number beyond double's range is a ConfigError naming the file", "[config][load][errors][fuzz]") {
  // nlohmann raises out_of_range (not parse_error) for it; it escaped as a foreign exception.
  const std::string err = error_of([] {
    from_text(R"({"image_processor_type": "ViTImageProcessor", "crop_size": 222e222222222222224})");
  });
  CHECK_THAT(err, Catch::StartsWith("cfg.json: not a valid JSON file: ") && Catch::Contains("number overflow"));
}
