// resolve_call: what preprocess(images, **call_kwargs) resolves its arguments to, per class.
#include <catch2/catch.hpp>

#include <functional>

#include "pipelines/processor_config.h"
#include "tests/common/test_config_util.h"

using namespace pixelflow;
using namespace pixelflow::pipelines;
using namespace pixelflow::test_config;
using nlohmann::json;

namespace {

ProcessorConfig bundled(const std::string& folder) { return load_processor_config(models_dir() + "/" + folder); }

}  // namespace

TEST_CASE("resolve_call with no kwargs gives the processor's values, normalized", "[config][call]") {
  const CallArgs clip = resolve_call(bundled("openai__clip-vit-base-patch32"));
  const json expected = {{"do_resize", true},
                         {"size", se(224)},
                         {"resample", 3},
                         {"do_center_crop", true},
                         {"crop_size", hw(224, 224)},
                         {"do_rescale", true},
                         {"rescale_factor", 1.0 / 255.0},
                         {"do_normalize", true},
                         {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
                         {"image_std", {0.26862954, 0.26130258, 0.27577711}},
                         {"do_convert_rgb", true},
                         {"return_tensors", nullptr},
                         {"data_format", "channels_first"},
                         {"input_data_format", nullptr}};
  CHECK(clip.params == expected);
  CHECK(clip.unused_kwargs.empty());
  CHECK(clip.warnings.empty());

  // ViT keeps do_convert_rgb=None, which preprocess treats as false.
  const CallArgs vit = resolve_call(bundled("google__vit-base-patch16-224"));
  CHECK(vit.params["do_convert_rgb"] == false);
  CHECK(vit.params["size"] == hw(224, 224));
  CHECK_FALSE(vit.params.contains("crop_size"));

  // Class-specific arguments are all there.
  const CallArgs eff = resolve_call(bundled("google__efficientnet-b0"));
  CHECK(eff.params["include_top"] == true);
  CHECK(eff.params["rescale_offset"] == false);
  CHECK(eff.params["resample"] == 0);
  const CallArgs dpt = resolve_call(bundled("LiheYoung__depth-anything-small-hf"));
  CHECK(dpt.params["keep_aspect_ratio"] == true);
  CHECK(dpt.params["ensure_multiple_of"] == 14);
  CHECK(dpt.params["do_pad"] == false);
  CHECK(dpt.params["size_divisor"].is_null());
  CHECK(dpt.params["do_reduce_labels"] == false);
  const CallArgs glpn = resolve_call(bundled("vinvino02__glpn-kitti"));
  CHECK(glpn.params == json({{"do_resize", true},
                             {"size_divisor", 32},
                             {"resample", 2},
                             {"do_rescale", true},
                             {"rescale_factor", 1.0 / 255.0},
                             {"return_tensors", nullptr},
                             {"data_format", "channels_first"},
                             {"input_data_format", nullptr}}));
  const CallArgs mvit = resolve_call(bundled("apple__mobilevit-small"));
  CHECK(mvit.params["do_flip_channel_order"] == true);
  CHECK(mvit.params["size"] == se(288));
  CHECK_FALSE(mvit.params.contains("image_mean"));
  const CallArgs conv = resolve_call(bundled("facebook__convnext-tiny-224"));
  CHECK(conv.params["crop_pct"] == 0.875);
  const CallArgs pool = resolve_call(bundled("sail__poolformer_s12"));
  CHECK(pool.params["crop_pct"] == 0.9);
  CHECK_FALSE(pool.params.contains("do_resize_and_center_crop"));
}

TEST_CASE("every bundled config resolves; ImageGPT without clusters only without quantization", "[config][call]") {
  for (const auto& e : std::filesystem::directory_iterator(models_dir())) {
    if (!e.is_directory()) continue;
    const std::string folder = e.path().filename().string();
    INFO(folder);
    const ProcessorConfig cfg = bundled(folder);
    if (folder == "openai__imagegpt-small") {
      CHECK_THAT(error_of([&] { resolve_call(cfg); }), Catch::Contains(": clusters: must be set when do_color_quantize"));
      const CallArgs no_q = resolve_call(cfg, {{"do_color_quantize", false}});
      CHECK(no_q.params["do_color_quantize"] == false);
      CHECK(no_q.params["size"] == hw(32, 32));
    } else {
      const CallArgs a = resolve_call(cfg);
      CHECK(a.params.is_object());
      CHECK(a.warnings.empty());
    }
  }
  const CallArgs synth = resolve_call(bundled("openai__imagegpt-small__SYNTHETIC-clusters"));
  CHECK(synth.params["clusters"].size() == 512);
  CHECK(synth.params["do_color_quantize"] == true);
}

TEST_CASE("call kwargs override, with that class's get_size_dict", "[config][call]") {
  const ProcessorConfig clip = bundled("openai__clip-vit-base-patch32");
  CallArgs a = resolve_call(clip, {{"size", 336}, {"crop_size", 336}, {"resample", 2}, {"do_center_crop", false}});
  CHECK(a.params["size"] == se(336));  // CLIP: int size = shortest edge
  CHECK(a.params["crop_size"] == hw(336, 336));
  CHECK(a.params["resample"] == 2);
  CHECK(a.params["do_center_crop"] == false);
  CHECK(resolve_call(clip, {{"size", {300, 200}}}).params["size"] == hw(300, 200));

  const ProcessorConfig vit = bundled("google__vit-base-patch16-224");
  CHECK(resolve_call(vit, {{"size", 384}}).params["size"] == hw(384, 384));  // ViT: int size = square

  // None in call kwargs means "use the processor's value"...
  CHECK(resolve_call(clip, {{"size", nullptr}, {"do_resize", nullptr}}).params["size"] == se(224));
  // ... except for data_format, where an explicit None is kept (and CLIP then raises).
  CHECK(error_of([&] { resolve_call(clip, {{"data_format", nullptr}}); }) ==
        "call_kwargs: data_format: null is not supported by CLIPImageProcessor (transformers raises ValueError: None "
        "is not a valid ChannelDimension); use \"channels_first\" or \"channels_last\"");
  // BEiT / Segformer / DPT guard `if data_format is not None`: null keeps the input layout.
  CHECK(resolve_call(bundled("nvidia__segformer-b0-finetuned-ade-512-512"), {{"data_format", nullptr}})
            .params["data_format"]
            .is_null());
  CHECK(resolve_call(clip, {{"data_format", "channels_last"}, {"input_data_format", "channels_first"}})
            .params["data_format"] == "channels_last");
  CHECK_THAT(error_of([&] { resolve_call(clip, {{"data_format", "NHWC"}}); }), Catch::StartsWith("call_kwargs: data_format:"));

  // Mean/std stay as given (list or single number).
  CallArgs m = resolve_call(clip, {{"image_mean", 0.5}, {"image_std", {0.1, 0.2, 0.3}}, {"rescale_factor", 0.00784313725490196}});
  CHECK(m.params["image_mean"] == 0.5);
  CHECK(m.params["image_std"] == json({0.1, 0.2, 0.3}));
  CHECK(m.params["rescale_factor"] == 0.00784313725490196);

  // Flags follow Python truthiness (with a note when not a bool).
  CallArgs t = resolve_call(vit, {{"do_resize", 0}, {"do_normalize", "yes"}});
  CHECK(t.params["do_resize"] == false);
  CHECK(t.params["do_normalize"] == true);
  CHECK(t.warnings.size() == 2);
}

TEST_CASE("unknown call kwargs are reported as each class's preprocess reports them", "[config][call]") {
  const CallArgs clip = resolve_call(bundled("openai__clip-vit-base-patch32"), {{"foo", 1}, {"crop_pct", 0.9}});
  CHECK(clip.unused_kwargs == std::vector<std::string>{"crop_pct", "foo"});
  CHECK(clip.warnings == std::vector<std::string>{"Unused or unrecognized kwargs: crop_pct, foo."});
  const CallArgs vit = resolve_call(bundled("google__vit-base-patch16-224"), {{"foo", 1}, {"do_center_crop", true}});
  CHECK(vit.unused_kwargs == std::vector<std::string>{"do_center_crop", "foo"});
  CHECK(vit.warnings == std::vector<std::string>{"The following named arguments are not valid for "
                                                 "`ViTImageProcessor.preprocess` and were ignored: 'do_center_crop', 'foo'"});
  // MobileViT does not normalize: image_mean is not one of its arguments.
  const CallArgs mvit = resolve_call(bundled("apple__mobilevit-small"), {{"image_mean", 0.5}});
  CHECK(mvit.unused_kwargs == std::vector<std::string>{"image_mean"});
  // Data arguments are not parameters: not resolved, no warning.
  const CallArgs vid = resolve_call(bundled("MCG-NJU__videomae-base"), {{"videos", 1}});
  CHECK(vid.unused_kwargs == std::vector<std::string>{"videos"});
  CHECK(vid.warnings.empty());
  const CallArgs seg = resolve_call(bundled("nvidia__segformer-b0-finetuned-ade-512-512"),
                                    {{"segmentation_maps", 1}, {"do_reduce_labels", true}});
  CHECK(seg.unused_kwargs == std::vector<std::string>{"segmentation_maps"});
  CHECK(seg.params["do_reduce_labels"] == true);
}

TEST_CASE("resolve_call raises where preprocess raises, naming key and origin", "[config][call][errors]") {
  // validate_preprocess_arguments: do_rescale with rescale_factor None.
  const ProcessorConfig nf = from_text(R"({"image_processor_type": "ViTImageProcessor", "rescale_factor": null})");
  CHECK(error_of([&] { resolve_call(nf); }) ==
        "cfg.json: rescale_factor: must be specified if do_rescale is true (transformers raises ValueError)");
  CHECK(resolve_call(nf, {{"do_rescale", false}}).params["rescale_factor"].is_null());
  CHECK_THAT(error_of([&] { resolve_call(nf, {{"rescale_factor", "x"}}); }),
             Catch::StartsWith("call_kwargs: rescale_factor: must be a number"));
  // do_resize with resample None.
  const ProcessorConfig nr = from_text(R"({"image_processor_type": "DeiTImageProcessor", "resample": null})");
  CHECK_THAT(error_of([&] { resolve_call(nr); }), Catch::StartsWith("cfg.json: resample: size and resample must be"));
  CHECK_NOTHROW(resolve_call(nr, {{"do_resize", false}}));
  // do_normalize with image_mean None (an attribute set to None after loading).
  ProcessorConfig nm = from_text(R"({"image_processor_type": "CLIPImageProcessor"})");
  nm.attributes["image_mean"] = nullptr;
  CHECK_THAT(error_of([&] { resolve_call(nm); }), Catch::StartsWith("cfg.json: image_mean: image_mean and image_std must"));

  const ProcessorConfig clip = bundled("openai__clip-vit-base-patch32");
  CHECK(error_of([&] { resolve_call(clip, {{"image_std", {0.5, 0, 0.5}}}); }) ==
        "call_kwargs: image_std[1]: must be > 0, got 0");
  CHECK_THAT(error_of([&] { resolve_call(clip, {{"resample", 9}}); }), Catch::StartsWith("call_kwargs: resample:"));
  CHECK_NOTHROW(resolve_call(clip, {{"resample", 9}, {"do_resize", false}}));  // unused by HF, not checked
  CHECK_THAT(error_of([&] { resolve_call(clip, {{"size", "big"}}); }), Catch::StartsWith("call_kwargs: size:"));
  CHECK_THAT(error_of([&] { resolve_call(clip, {{"size", {{"longest_edge", 300}}}}); }),
             Catch::StartsWith("call_kwargs: size: CLIPImageProcessor needs size with shortest_edge"));
  CHECK_THAT(error_of([&] { resolve_call(clip, {{"crop_size", {{"shortest_edge", 300}}}}); }),
             Catch::StartsWith("call_kwargs: crop_size: center_crop needs crop_size with height and width"));
  CHECK(error_of([&] { resolve_call(clip, {{"size", {{"shortest_edge", 0}}}}); }) ==
        "call_kwargs: size.shortest_edge: must be a positive integer, got 0");
  CHECK(error_of([&] { resolve_call(clip, {{"size", {{"shortest_edge", 22.5}}}}); }) ==
        "call_kwargs: size.shortest_edge: must be a positive integer, got 22.5");
  CHECK_THAT(error_of([&] { resolve_call(clip, json::array()); }), Catch::StartsWith("call_kwargs:"));

  // ViT-like classes resize to height/width only.
  CHECK_THAT(error_of([&] { resolve_call(bundled("google__vit-base-patch16-224"), {{"size", {{"shortest_edge", 100}}}}); }),
             Catch::StartsWith("call_kwargs: size: ViTImageProcessor resizes to (size[\"height\"], size[\"width\"])"));
  // Siglip keeps an int size raw; preprocess turns it into {"shortest_edge"} and then fails.
  const ProcessorConfig sig = from_text(R"({"image_processor_type": "SiglipImageProcessor", "size": 224})");
  CHECK(sig.attributes["size"] == 224);
  CHECK_THAT(error_of([&] { resolve_call(sig); }), Catch::StartsWith("cfg.json: size: SiglipImageProcessor resizes to"));
  CHECK(resolve_call(sig, {{"size", {{"height", 224}, {"width", 224}}}}).params["size"] == hw(224, 224));
  // Segformer converts size only inside resize().
  const ProcessorConfig seg = bundled("nvidia__segformer-b0-finetuned-ade-512-512");
  CHECK_NOTHROW(resolve_call(seg, {{"size", {{"foo", 1}}}, {"do_resize", false}}));
  CHECK_THROWS_AS(resolve_call(seg, {{"size", {{"foo", 1}}}}), ConfigError);
  CHECK_THROWS_AS(resolve_call(bundled("google__vit-base-patch16-224"), {{"size", {{"foo", 1}}}, {"do_resize", false}}),
                  ConfigError);
  // ConvNext needs shortest_edge and a usable crop_pct below 384.
  const ProcessorConfig conv = bundled("facebook__convnext-tiny-224");
  CHECK_THAT(error_of([&] { resolve_call(conv, {{"size", {{"height", 224}, {"width", 224}}}}); }),
             Catch::Contains("needs size[\"shortest_edge\"]"));
  CHECK_THAT(error_of([&] { resolve_call(conv, {{"crop_pct", 0}}); }), Catch::StartsWith("call_kwargs: crop_pct:"));
  CHECK_NOTHROW(resolve_call(conv, {{"crop_pct", 0}, {"size", 384}}));  // >= 384 warps; crop_pct unused
  // DPT: padding needs size_divisor; resizing needs ensure_multiple_of.
  const ProcessorConfig dpt = bundled("Intel__dpt-large");
  CHECK_THAT(error_of([&] { resolve_call(dpt, {{"do_pad", true}}); }),
             Catch::StartsWith("cfg.json: size_divisor: must be a positive integer when do_pad is true") ||
                 Catch::Contains("size_divisor: must be a positive integer when do_pad is true"));
  CHECK(resolve_call(dpt, {{"do_pad", true}, {"size_divisor", 32}, {"do_resize", false}}).params["size_divisor"] == 32);
  CHECK_THAT(error_of([&] { resolve_call(dpt, {{"ensure_multiple_of", 1.5}}); }),
             Catch::StartsWith("call_kwargs: ensure_multiple_of:"));
  // GLPN: size_divisor is its size.
  const ProcessorConfig glpn = bundled("vinvino02__glpn-kitti");
  const ProcessorConfig glpn_null = from_text(R"({"image_processor_type": "GLPNImageProcessor", "size_divisor": null})");
  CHECK_THAT(error_of([&] { resolve_call(glpn_null); }), Catch::StartsWith("cfg.json: size_divisor:"));
  CHECK_NOTHROW(resolve_call(glpn_null, {{"do_resize", false}}));
  CHECK(resolve_call(glpn, {{"size_divisor", 14}}).params["size_divisor"] == 14);
  // EfficientNet: include_top divides by image_std even when do_normalize is false.
  const ProcessorConfig eff = bundled("google__efficientnet-b0");
  CHECK_THAT(error_of([&] { resolve_call(eff, {{"do_normalize", false}, {"image_std", {1, 0, 1}}}); }),
             Catch::StartsWith("call_kwargs: image_std[1]: must be > 0"));
  CHECK_NOTHROW(resolve_call(eff, {{"do_normalize", false}, {"include_top", false}, {"image_std", {1, 0, 1}}}));
  // Perceiver's center crop uses size too.
  const ProcessorConfig per = bundled("deepmind__vision-perceiver-learned");
  CHECK(resolve_call(per, {{"crop_size", {{"height", 200}, {"width", 200}}}}).params["crop_size"] == hw(200, 200));
  // ImageGPT clusters must be (n, 3).
  const ProcessorConfig gpt = bundled("openai__imagegpt-small");
  CHECK_THAT(error_of([&] { resolve_call(gpt, {{"clusters", {{1, 2}}}}); }), Catch::StartsWith("call_kwargs: clusters:"));
  CHECK(resolve_call(gpt, {{"clusters", {{1, 2, 3}}}}).params["clusters"] == json({{1, 2, 3}}));
}
