// COCO-detection annotations -> DETR-family `labels`, exactly as transformers' DETR image processors
// build them (prepare_coco_detection_annotation, resize_annotation, normalize_annotation and the
// pad() update of the boxes), in float32 / int64 with numpy's promotions.
//
// How labels appear in a BatchFeature: one key per field, "labels.<field>" (e.g. "labels.boxes"),
// each a list with one tensor per image, in transformers' field order (size, image_id,
// class_labels, boxes, area, iscrowd, orig_size[, keypoints]); "labels.size" is int64 (2,) (a
// tuple in transformers with return_tensors=None). The CLI writes them as
// labels_<i>_<field>.npy, Python rebuilds transformers' list of per-image BatchFeatures.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/batch_feature.h"
#include "graph/tensor.h"
#include "registry/plan.h"

namespace pixelflow::pipelines {

inline constexpr const char* kDetectionLabelsPrefix = "labels.";

// One image's labels: (field, array) in transformers' order.
using DetectionLabels = std::vector<std::pair<std::string, Tensor>>;

// Whether the class's preprocess takes `annotations` (the DETR family).
bool takes_detection_annotations(const std::string& processor_class);

// Throws ConfigError (key "annotations") unless `annotation` is what transformers'
// validate_annotations accepts for the spec's format, or what pixelflow cannot do
// (panoptic annotations, segmentation masks). `where` names the image in messages.
void check_detection_annotation(const nlohmann::json& annotation, const AnnotationSpec& spec, const std::string& where);

// The labels of one image: `orig` its (height, width) as loaded, `resized` after resize (the
// size of its pixel_values before padding), `padded` the padded size (do_pad).
DetectionLabels make_detection_labels(const nlohmann::json& annotation, const AnnotationSpec& spec,
                                      std::pair<int64_t, int64_t> orig, std::pair<int64_t, int64_t> resized,
                                      std::optional<std::pair<int64_t, int64_t>> padded, const std::string& where);

// Adds the per-image labels to `bf` as "labels.<field>" lists (fields from the first image's).
void set_detection_labels(BatchFeature& bf, const std::vector<DetectionLabels>& labels);

}  // namespace pixelflow::pipelines
