// Idefics3ImageProcessor and SmolVLMImageProcessor (SmolVLM's file is a copy of Idefics3's under
// another name: the same code, the same bytes). Every image is resized as the processor's own
// resize does (to_pil_image then Image.resize, uint8 out: one channel is a "P" image, so NEAREST;
// RGBA goes through premultiplied alpha): its longest edge to size["longest_edge"] (the other side
// made even, both kept under 4096) with do_resize; then, with do_image_splitting, both sides up to
// multiples of M = max_image_size["longest_edge"] (resize_for_vision_encoder) and cut into M x M
// tiles followed by the whole image resized to M x M (split_image; an M x M image stays whole),
// without it to M x M. Only then convert_to_rgb (alpha composited onto white), rescale, normalize,
// layout. rows / cols (return_row_col_info): each image's tile grid, 0 when not split.
#include "pipelines/processors/declare.h"
#include "pipelines/processors/py_semantics.h"

namespace pixelflow::pipelines::processors {

namespace {

inline constexpr int kLanczos = 1;

json resize_spec(json rule, int64_t resample, bool channels_first) {
  rule["resample"] = resample;
  rule["pil_image"] = true;
  rule["channels_first"] = channels_first;
  return rule;
}

Plan idefics3_plan(PlanBuilder& b) {
  // convert_to_rgb comes after the resizes (as an op of the chain), not at loading.
  b.plan.load.convert_rgb = false;
  // infer_channel_dimension_format(first image, num_channels=(1, 3, 4)).
  b.plan.load.infer_layout_4_channels = true;
  const int64_t resample = ops::param_int(b.p, "resample");
  // Whether a one-channel image is a "P" image (NEAREST) depends on the layout transformers holds
  // the arrays in (the Python package passes the layout it infers; otherwise channels last).
  const bool cf = b.plan.load.input_data_format == Layout::kChannelsFirst;
  const int64_t m = ops::param_side(size_of(b.p, "max_image_size"), "longest_edge", "max_image_size");
  if (b.on("do_resize")) {
    const json size = size_of(b.p, "size");
    if (size.contains("longest_edge"))
      b.plan.tile_ops.push_back({"resize", resize_spec({{"resolution_max_side", size.at("longest_edge")}}, resample, cf)});
    else if (size.contains("height") && size.contains("width"))
      b.plan.tile_ops.push_back({"resize", resize_spec({{"size", {{"height", size.at("height")},
                                                                   {"width", size.at("width")}}}}, resample, cf)});
    else
      throw ConfigError("size", "size must be a dictionary with key 'longest_edge' or 'height' and 'width', got " +
                                    size.dump());
  }
  if (b.on("do_image_splitting"))
    b.plan.tile_ops.push_back({"resize", resize_spec({{"vision_encoder_max_size", m}}, resample, cf)});
  else
    b.plan.tile_ops.push_back({"resize", resize_spec({{"size", {{"height", m}, {"width", m}}}}, resample, cf)});
  b.plan.tile_ops.push_back({"split_image", {{"max_image_size", {{"longest_edge", m}}}, {"resample", resample}, {"channels_first", cf}}});
  if (b.on("do_convert_rgb")) b.op("convert_to_rgb", json::object());
  b.rescale_normalize_layout();
  // Each sample's frames (its images' tiles and global images) as one (frames, ...) array, with
  // do_pad zero frames up to the batch's most and pixel_attention_mask (pipelines/PROCESSORS.md).
  b.plan.batching = Batching::kFramesPerSample;
  b.plan.pad_tiles = b.on("do_pad");
  if (flag(b.p, "return_row_col_info")) b.plan.grid_keys = {"rows", "cols"};
  return b.plan;
}

// resize() reads size["longest_edge"] or size["height"] and size["width"]; every call reads
// max_image_size["longest_edge"] (KeyError otherwise).
void idefics3_check(const CallContext& c) {
  const json& mis = c.val("max_image_size");
  if (!mis.is_object() || !mis.contains("longest_edge"))
    throw c.err("max_image_size", "must be a dict with longest_edge, got " + detail::show(mis));
  c.positive_int_entry("max_image_size", mis, "longest_edge");
  if (!c.flag("do_resize")) return;
  const json& size = c.val("size");
  if (size.is_null()) throw c.err("size", "size and resample must be specified if do_resize is true (transformers raises ValueError)");
  if (!size.is_object())
    throw c.err("size", "must be a dict with longest_edge, or height and width, got " + detail::show(size));
  if (size.contains("longest_edge")) {
    // Any integer: one of 0 or less makes the image 1 x 1 (both sides clamped to min_len = 1).
    const json& le = size.at("longest_edge");
    if (!detail::is_integer(le)) throw c.err("size", "size.longest_edge must be an integer, got " + detail::show(le));
  } else if (size.contains("height") && size.contains("width")) {
    c.positive_int_entry("size", size, "height");
    c.positive_int_entry("size", size, "width");
  } else {
    throw c.err("size", "size must be a dictionary with key 'longest_edge' or 'height' and 'width' (transformers "
                        "raises ValueError), got " + keys_of(size));
  }
}

ProcessorDecl idefics3_family(std::string name, std::vector<std::string> model_types) {
  return {
      .name = std::move(name),
      .model_types = std::move(model_types),
      .init = params({{raw("do_convert_rgb", true), raw("do_resize", true),
                       or_default("size", json{{"longest_edge", 4 * 364}}), raw("resample", kLanczos),
                       raw("do_image_splitting", true), or_default("max_image_size", json{{"longest_edge", 364}})},
                      rescale_params(), normalize_params(kImagenetStandardMean, kImagenetStandardStd),
                      {raw("do_pad", true)}}),
      .preprocess_params = args({{"do_convert_rgb", "do_resize", "size", "resample", "do_image_splitting",
                                  "do_rescale", "max_image_size", "rescale_factor", "do_normalize", "image_mean",
                                  "image_std", "do_pad", "return_tensors", "return_row_col_info", "data_format",
                                  "input_data_format"}}),
      .strict_kwargs = true,
      .call = {.size_norm = SizeNorm::kNone, .resize_needs = ResizeNeeds::kNone, .data_format_nullable = true,
               .check_extra = idefics3_check},
      .plan = idefics3_plan,
  };
}

}  // namespace

// models/idefics3/image_processing_idefics3.py
ProcessorDecl idefics3() { return idefics3_family("Idefics3ImageProcessor", {"idefics3"}); }

// models/smolvlm/image_processing_smolvlm.py (generated from Idefics3's)
ProcessorDecl smolvlm() { return idefics3_family("SmolVLMImageProcessor", {"smolvlm"}); }

}  // namespace pixelflow::pipelines::processors
