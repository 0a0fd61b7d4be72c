// The DETR family (models/{detr,conditional_detr,deformable_detr,yolos,rt_detr}/image_processing_*.py):
// resize by DETR's own size rules (get_size_with_aspect_ratio with round(), {max_height, max_width},
// {height, width}), rescale, normalize, then pad() every image at the bottom / right to the batch's
// largest size (or pad_size) with a pixel_mask (Batching::kPad), and COCO-detection annotations
// turned into `labels` (AnnotationSpec, pipelines/detection_labels.h).
//
// The five classes share everything but:
//   DETR, ConditionalDetr, DeformableDetr: identical (`max_size` and `pad_and_return_pixel_mask`
//     legacy kwargs of __init__; preprocess uses validate_kwargs: unknown kwargs are a warning).
//   Yolos: its own get_size_with_aspect_ratio (width < height tested first, both sides floored to
//     a multiple of 16) and pad() without pixel_mask.
//   RTDetr: size {"height": 640, "width": 640}, do_normalize False, do_pad False,
//     do_convert_annotations True, get_size_dict(default_to_square=True) in preprocess, no
//     legacy kwargs, @filter_out_non_signature_kwargs on preprocess, coco_detection only.
#include "pipelines/processors/declare.h"
#include "pipelines/processors/py_semantics.h"

namespace pixelflow::pipelines::processors {

namespace {

const char* const kSizeKeysError =
    "Size must contain 'height' and 'width' keys or 'shortest_edge' and 'longest_edge' keys.";

bool is_yolos(const std::string& cls) { return cls == "YolosImageProcessor"; }
bool is_rt_detr(const std::string& cls) { return cls == "RTDetrImageProcessor"; }

// DETR's __init__: `max_size` (legacy) caps an int size; pad_and_return_pixel_mask (legacy)
// replaces do_pad; do_convert_annotations defaults to do_normalize.
void detr_init(InitContext& init) {
  json& a = init.attrs;
  json size = a.contains("size") ? a["size"] : json();
  if (size.is_null()) {
    size = {{"shortest_edge", 800}, {"longest_edge", 1333}};  // max_size stays an attribute
  } else {
    json max_size = 1333;
    if (a.contains("max_size")) {
      max_size = a["max_size"];
      a.erase("max_size");
    }
    if (detail::is_py_int(size) && !size.is_boolean())
      size = json{{"shortest_edge", size}, {"longest_edge", max_size}};
    else
      size = detail::get_size_dict(size, false, "size", init.source_of("size"));
  }
  a["size"] = size;
  if (a["do_convert_annotations"].is_null()) a["do_convert_annotations"] = a["do_normalize"];
  if (a.contains("pad_and_return_pixel_mask")) {
    a["do_pad"] = a["pad_and_return_pixel_mask"];
    a.erase("pad_and_return_pixel_mask");
  }
}

void rt_detr_init(InitContext& init) {
  json& a = init.attrs;
  if (a["do_convert_annotations"].is_null()) a["do_convert_annotations"] = a["do_normalize"];
}

// resize(): which rule the size dict selects (the order transformers tests them in).
void detr_check_size(const CallContext& c, const json& size) {
  if (size.contains("shortest_edge") && size.contains("longest_edge")) {
    c.positive_int_entry("size", size, "shortest_edge");
    if (!size.at("longest_edge").is_null()) c.positive_int_entry("size", size, "longest_edge");
  } else if (size.contains("max_height") && size.contains("max_width")) {
    c.positive_int_entry("size", size, "max_height");
    c.positive_int_entry("size", size, "max_width");
  } else if (size.contains("height") && size.contains("width")) {
    c.positive_int_entry("size", size, "height");
    c.positive_int_entry("size", size, "width");
  } else {
    throw c.err("size", std::string(kSizeKeysError) + " Got " + keys_of(size) + ".");
  }
}

// AnnotationFormat(format), pad_size (read only by pad()), data_format=None (pad() keeps the
// layout; to_channel_dimension_format raises on None), masks / panoptic (not supported).
void detr_check_extra(const CallContext& c) {
  const json& format = c.val("format");
  if (!format.is_string() || (format != "coco_detection" && format != "coco_panoptic"))
    throw c.err("format", detail::show(format) + " is not a valid AnnotationFormat (\"coco_detection\" or \"coco_panoptic\")");
  if (c.flag("do_pad")) {
    const json& ps = c.val("pad_size");
    if (!ps.is_null()) {
      if (!ps.is_object() || !ps.contains("height") || !ps.contains("width"))
        throw c.err("pad_size", "must be a dict with height and width, got " + detail::show(ps));
      c.positive_int_entry("pad_size", ps, "height");
      c.positive_int_entry("pad_size", ps, "width");
    }
  } else if (c.val("data_format").is_null()) {
    throw c.err("data_format", "null is only supported with do_pad (transformers raises ValueError: None is not a "
                               "valid ChannelDimension); use \"channels_first\" or \"channels_last\"");
  }
}

Plan detr_plan(PlanBuilder& b) {
  const std::string& cls = b.plan.processor_class;
  if (b.on("do_resize")) {
    const json size = size_of(b.p, "size");
    const int64_t resample = ops::param_int(b.p, "resample");
    if (size.contains("shortest_edge") && size.contains("longest_edge")) {
      json d = {{"shortest_edge", size.at("shortest_edge")}, {"longest_edge", size.at("longest_edge")}};
      if (is_yolos(cls)) d["yolos"] = true;
      b.op("resize", {{"detr_resize", d}, {"resample", resample}});
    } else if (size.contains("max_height") && size.contains("max_width")) {
      b.op("resize", {{"size", {{"max_height", size.at("max_height")}, {"max_width", size.at("max_width")}}},
                      {"resample", resample}});
    } else {
      b.resize_exact();
    }
  }
  b.rescale_normalize_layout();
  if (b.on("do_pad")) {
    b.plan.batching = Batching::kPad;
    b.plan.pad.pixel_mask = !is_yolos(cls);
    const json& ps = b.p.at("pad_size");
    if (!ps.is_null()) b.plan.pad.size = std::make_pair(ops::param_side(ps, "height", "pad_size"), ops::param_side(ps, "width", "pad_size"));
  }
  AnnotationSpec& a = b.plan.annotations;
  a.accepted = true;
  a.resized = b.on("do_resize");
  a.convert = b.on("do_convert_annotations");
  a.padded = b.on("do_pad");
  a.format = b.p.at("format").get<std::string>();
  const json& masks = b.p.contains("return_segmentation_masks") ? b.p.at("return_segmentation_masks") : json();
  // prepare_annotation: None means False for coco_detection, True for coco_panoptic.
  a.segmentation_masks = masks.is_null() ? a.format == "coco_panoptic" : detail::py_truthy(masks);
  if (is_rt_detr(cls) && a.format == "coco_panoptic") a.segmentation_masks = false;
  return b.plan;
}

std::vector<InitParam> detr_init_params(bool rt_detr) {
  return params({{raw("format", "coco_detection"), raw("do_resize", true),
                  rt_detr ? nonsquare_size("size", hw(640, 640)) : raw("size", nullptr), raw("resample", kBilinear)},
                 rescale_params(),
                 {raw("do_normalize", !rt_detr), or_default("image_mean", kImagenetDefaultMean),
                  or_default("image_std", kImagenetDefaultStd), raw("do_convert_annotations", rt_detr ? json(true) : json()),
                  raw("do_pad", !rt_detr), raw("pad_size", nullptr)}});
}

std::vector<std::string> detr_preprocess_params(bool yolos) {
  std::vector<std::string> p = {"return_segmentation_masks", "masks_path"};
  p = cat<std::string>({p, kResizeArgs, kRescaleArgs});
  if (yolos) {
    p = cat<std::string>({p, kNormalizeArgs, {"do_convert_annotations"}});
  } else {
    p = cat<std::string>({p, {"do_normalize", "do_convert_annotations", "image_mean", "image_std"}});
  }
  return cat<std::string>({p, {"do_pad", "format"}, kFormatArgs, {"pad_size"}});
}

ProcessorDecl detr_like(std::string name, std::vector<std::string> model_types) {
  const bool rt = is_rt_detr(name), yolos = is_yolos(name);
  return {
      .name = std::move(name),
      .model_types = std::move(model_types),
      .init = detr_init_params(rt),
      .after_init = rt ? rt_detr_init : detr_init,
      .preprocess_params = detr_preprocess_params(yolos),
      .detection_annotations = true,
      .validate_kwargs_style = !rt,
      .call = {.size_norm = rt ? SizeNorm::kSquare : SizeNorm::kNonSquare,
               .resize_needs = ResizeNeeds::kNone,
               .data_format_nullable = true,
               .check_resize = detr_check_size,
               .check_extra = detr_check_extra},
      .plan = detr_plan,
  };
}

}  // namespace

// models/detr/image_processing_detr.py
ProcessorDecl detr() { return detr_like("DetrImageProcessor", {"detr", "omdet-turbo", "table-transformer"}); }
// models/conditional_detr/image_processing_conditional_detr.py
ProcessorDecl conditional_detr() { return detr_like("ConditionalDetrImageProcessor", {"conditional_detr"}); }
// models/deformable_detr/image_processing_deformable_detr.py
ProcessorDecl deformable_detr() { return detr_like("DeformableDetrImageProcessor", {"deformable_detr", "lw_detr"}); }
// models/yolos/image_processing_yolos.py
ProcessorDecl yolos() { return detr_like("YolosImageProcessor", {"yolos"}); }
// models/rt_detr/image_processing_rt_detr.py
ProcessorDecl rt_detr() { return detr_like("RTDetrImageProcessor", {"rt_detr"}); }

}  // namespace pixelflow::pipelines::processors
