#include "pipelines/detection_labels.h"

#include <cmath>

#include "base/errors.h"
#include "pipelines/processors/processor.h"

namespace pixelflow::pipelines {

using nlohmann::json;

namespace {

ConfigError ann_error(const std::string& where, const std::string& problem) {
  return ConfigError("annotations", where + ": " + problem);
}

double number(const json& v, const std::string& what, const std::string& where) {
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (!v.is_number()) throw ann_error(where, what + " must be a number, got " + v.dump());
  return v.get<double>();
}

// np.asarray([v], dtype=np.int64): integers as they are, floats truncated.
int64_t as_int64(const json& v, const std::string& what, const std::string& where) {
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) throw ann_error(where, what + " cannot be cast to int64: " + v.dump());
    return static_cast<int64_t>(d);
  }
  throw ann_error(where, what + " must be a number, got " + v.dump());
}

// prepare_coco_detection_annotation's filter: `"iscrowd" not in obj or obj["iscrowd"] == 0`.
bool not_crowd(const json& obj) {
  if (!obj.contains("iscrowd")) return true;
  const json& c = obj.at("iscrowd");
  if (c.is_boolean()) return !c.get<bool>();
  if (c.is_number()) return c.get<double>() == 0.0;
  return false;
}

Tensor i64_vector(const std::vector<int64_t>& v) {
  Tensor t = Tensor::empty(DType::kInt64, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.data<int64_t>()[i] = v[i];
  return t;
}

Tensor f32_tensor(const std::vector<float>& v, Shape shape) {
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
  return t;
}

}  // namespace

bool takes_detection_annotations(const std::string& processor_class) {
  const processors::ProcessorDecl* d = processors::find_processor(processor_class);
  return d && d->detection_annotations;
}

void check_detection_annotation(const json& a, const AnnotationSpec& spec, const std::string& where) {
  if (spec.format != "coco_detection")
    throw ConfigError("format", "\"" + spec.format + "\" annotations are not supported by pixelflow (coco_detection only)");
  if (spec.segmentation_masks)
    throw ConfigError("return_segmentation_masks",
                      "segmentation masks (COCO polygons through pycocotools) are not supported by pixelflow");
  // image_utils.is_valid_annotation_coco_detection
  if (!a.is_object() || !a.contains("image_id") || !a.contains("annotations") || !a.at("annotations").is_array() ||
      (!a.at("annotations").empty() && !a.at("annotations")[0].is_object()))
    throw ConfigError("annotations",
                      where + ": Invalid COCO detection annotations. Annotations must a dict (single image) or list of "
                              "dicts (batch of images) with the following keys: `image_id` and `annotations`, with the "
                              "latter being a list of annotations in the COCO format.");
}

DetectionLabels make_detection_labels(const json& a, const AnnotationSpec& spec, std::pair<int64_t, int64_t> orig,
                                      std::pair<int64_t, int64_t> resized,
                                      std::optional<std::pair<int64_t, int64_t>> padded, const std::string& where) {
  check_detection_annotation(a, spec, where);
  const auto [image_height, image_width] = orig;
  // prepare_coco_detection_annotation
  const int64_t image_id = as_int64(a.at("image_id"), "image_id", where);
  std::vector<const json*> objs;
  for (const json& obj : a.at("annotations")) {
    if (!obj.is_object()) throw ann_error(where, "each annotation must be a dict, got " + obj.dump());
    if (not_crowd(obj)) objs.push_back(&obj);
  }
  const size_t n = objs.size();
  std::vector<int64_t> classes(n), iscrowd(n);
  std::vector<float> area(n), boxes(n * 4);
  for (size_t i = 0; i < n; ++i) {
    const json& obj = *objs[i];
    for (const char* k : {"category_id", "area", "bbox"})
      if (!obj.contains(k)) throw ann_error(where, std::string("an annotation has no \"") + k + "\" (transformers raises KeyError)");
    classes[i] = as_int64(obj.at("category_id"), "category_id", where);
    area[i] = static_cast<float>(number(obj.at("area"), "area", where));
    iscrowd[i] = obj.contains("iscrowd") ? as_int64(obj.at("iscrowd"), "iscrowd", where) : 0;
    const json& bbox = obj.at("bbox");
    if (!bbox.is_array() || bbox.size() != 4)
      throw ann_error(where, "bbox must be a list of 4 numbers [x, y, width, height], got " + bbox.dump());
    for (int k = 0; k < 4; ++k) boxes[i * 4 + k] = static_cast<float>(number(bbox[k], "bbox", where));
  }
  const float fw = static_cast<float>(image_width), fh = static_cast<float>(image_height);
  const auto clip = [](float v, float hi) { return v < 0.0f ? 0.0f : (v > hi ? hi : v); };  // NaN stays NaN
  std::vector<size_t> keep;
  for (size_t i = 0; i < n; ++i) {
    float* b = &boxes[i * 4];
    b[2] = b[2] + b[0];
    b[3] = b[3] + b[1];
    b[0] = clip(b[0], fw), b[2] = clip(b[2], fw);
    b[1] = clip(b[1], fh), b[3] = clip(b[3], fh);
    if (b[3] > b[1] && b[2] > b[0]) keep.push_back(i);
  }
  const int64_t m = static_cast<int64_t>(keep.size());
  std::vector<int64_t> k_classes, k_iscrowd;
  std::vector<float> k_boxes, k_area;
  for (size_t i : keep) {
    k_classes.push_back(classes[i]);
    k_iscrowd.push_back(iscrowd[i]);
    k_area.push_back(area[i]);
    for (int k = 0; k < 4; ++k) k_boxes.push_back(boxes[i * 4 + k]);
  }
  // keypoints: float32 (kept, K) reshaped to (-1, 3) when any is kept; resize and normalize leave them.
  std::optional<Tensor> keypoints;
  if (n > 0 && objs[0]->contains("keypoints")) {
    std::vector<std::vector<float>> kp(n);
    size_t width = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!objs[i]->contains("keypoints")) throw ann_error(where, "an annotation has no \"keypoints\" (transformers raises KeyError)");
      const json& k = objs[i]->at("keypoints");
      if (!k.is_array()) throw ann_error(where, "keypoints must be a list of numbers, got " + k.dump());
      for (const json& v : k) kp[i].push_back(static_cast<float>(number(v, "keypoints", where)));
      if (i == 0) width = kp[i].size();
      if (kp[i].size() != width) throw ann_error(where, "keypoints of different lengths (numpy cannot make an array)");
    }
    std::vector<float> flat;
    for (size_t i : keep) flat.insert(flat.end(), kp[i].begin(), kp[i].end());
    if (m > 0) {
      if ((static_cast<int64_t>(width) * m) % 3 != 0) throw ann_error(where, "keypoints cannot be reshaped to (-1, 3)");
      keypoints = f32_tensor(flat, {static_cast<int64_t>(width) * m / 3, 3});
    } else {
      keypoints = f32_tensor(flat, {0, static_cast<int64_t>(width)});
    }
  }
  std::optional<std::pair<int64_t, int64_t>> size;  // the "size" entry
  if (spec.resized) {
    // resize_annotation(annotation, orig_size, target_size)
    const double rh = static_cast<double>(resized.first) / static_cast<double>(image_height);
    const double rw = static_cast<double>(resized.second) / static_cast<double>(image_width);
    const float frw = static_cast<float>(rw), frh = static_cast<float>(rh), farea = static_cast<float>(rw * rh);
    for (int64_t i = 0; i < m; ++i) {
      float* b = &k_boxes[i * 4];
      b[0] *= frw, b[1] *= frh, b[2] *= frw, b[3] *= frh;
      k_area[i] *= farea;
    }
    size = resized;
  }
  if (spec.convert) {
    // normalize_annotation(annotation, image_size of the resized image)
    const float w = static_cast<float>(resized.second), h = static_cast<float>(resized.first);
    for (int64_t i = 0; i < m; ++i) {
      float* b = &k_boxes[i * 4];
      const float cx = (b[0] + b[2]) / 2.0f, cy = (b[1] + b[3]) / 2.0f, bw = b[2] - b[0], bh = b[3] - b[1];
      b[0] = cx / w, b[1] = cy / h, b[2] = bw / w, b[3] = bh / h;
    }
  }
  if (padded) {
    // _update_annotation_for_padded_image: boxes *= float64 ratios (computed in float64, stored float32)
    if (spec.convert) {
      const double sx = static_cast<double>(resized.second) / static_cast<double>(padded->second);
      const double sy = static_cast<double>(resized.first) / static_cast<double>(padded->first);
      for (int64_t i = 0; i < m; ++i) {
        float* b = &k_boxes[i * 4];
        b[0] = static_cast<float>(static_cast<double>(b[0]) * sx);
        b[1] = static_cast<float>(static_cast<double>(b[1]) * sy);
        b[2] = static_cast<float>(static_cast<double>(b[2]) * sx);
        b[3] = static_cast<float>(static_cast<double>(b[3]) * sy);
      }
    }
    size = padded;
  }
  DetectionLabels out;
  if (size) out.emplace_back("size", i64_vector({size->first, size->second}));
  out.emplace_back("image_id", i64_vector({image_id}));
  out.emplace_back("class_labels", i64_vector(k_classes));
  out.emplace_back("boxes", f32_tensor(k_boxes, {m, 4}));
  out.emplace_back("area", f32_tensor(k_area, {m}));
  out.emplace_back("iscrowd", i64_vector(k_iscrowd));
  out.emplace_back("orig_size", i64_vector({image_height, image_width}));
  if (keypoints) out.emplace_back("keypoints", *keypoints);
  return out;
}

void set_detection_labels(BatchFeature& bf, const std::vector<DetectionLabels>& labels) {
  if (labels.empty()) return;
  for (const auto& field : labels[0]) {
    std::vector<Tensor> list;
    for (size_t i = 0; i < labels.size(); ++i) {
      const Tensor* t = nullptr;
      for (const auto& [name, value] : labels[i])
        if (name == field.first) t = &value;
      if (!t)
        throw ConfigError("annotations", "image " + std::to_string(i) + " has no \"" + field.first +
                                             "\" label (keypoints in some images only)");
      list.push_back(*t);
    }
    bf.set(kDetectionLabelsPrefix + field.first, std::move(list));
  }
}

}  // namespace pixelflow::pipelines
