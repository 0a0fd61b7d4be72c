// post_process_object_detection: the DETR family's post_process_object_detection, one batch item
// at a time. Hugging Face's classes differ in how scores and labels come from the logits
// (DetectionScoring); all then convert the kept queries' boxes from (cx, cy, w, h) to
// (x0, y0, x1, y1) (image_transforms.center_to_corners_format: cx - 0.5 * w, ...), scale them by
// the target size (w, h, w, h) when there is one, and keep the detections whose score is
// > threshold, in the order the scoring produced them.
//
//   kSoftmax        DetrImageProcessor, YolosImageProcessor: softmax over the classes, the last
//                   ("no object") class dropped, max -> (score, label) per query, query order.
//   kMax            RTDetrImageProcessor(use_focal_loss=False): the same without the softmax (the
//                   caller passes probabilities: RT-DETR calls softmax(logits) without dim, which
//                   torch takes over dim 0, the batch, for a 3-D tensor: softmax_over_batch).
//   kSigmoidTopK    ConditionalDetrImageProcessor, DeformableDetrImageProcessor (top_k, default
//                   100, k = min(top_k, Q * C)), RTDetrImageProcessor(use_focal_loss=True)
//                   (k = Q): sigmoid, torch.topk over the flattened (Q * C) scores, label =
//                   index % C, box of query index / C.
//
// Exactness (float32; float64 inputs are computed in double, as torch does):
//   - softmax: m = max, e = exp(x - m), sum of e accumulated in 16 lanes then halved pairwise
//     (PyTorch's vectorized reduce_all on AVX-512), p = e * (1 / sum); softmax_over_batch:
//     p = e / sum with a sequential sum (PyTorch's non-last-dim kernel). exp is the C library's,
//     not Sleef's (torch's vectorized exp): values can differ from torch's in the last bit
//     (within 3e-7 on probabilities), so a score within an ulp or two of the threshold, or two
//     scores within an ulp of each other, may be decided differently from torch. Equal logits
//     give equal scores here as there, so exact ties are resolved as torch resolves them.
//   - sigmoid: 1 / (1 + exp(-x)).
//   - max over classes: the first maximum wins (torch.max(dim)); NaN scores are never kept.
//   - top-k: torch's CPU algorithm (aten TopKImpl.h): (value, index) pairs, std::partial_sort
//     when k * 64 <= n, else std::nth_element at k - 1 then std::sort of the first k - 1, with
//     the comparator "NaN first, then greater". Run here with the same libstdc++ algorithms, so
//     ties come out in torch's order.
//   - threshold: compared in the scores' dtype (torch casts the Python float to float32).
//   - boxes: 0.5 * w then cx - that, in the boxes' dtype; then corner * scale in the promoted
//     dtype (ItemBoxScale).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graph/op.h"
#include "graph/tensor.h"

namespace pixelflow::ops {

enum class DetectionScoring { kSoftmax, kMax, kSigmoidTopK };

// "softmax", "max", "sigmoid_top_k" (the op's `scoring` parameter).
const char* detection_scoring_name(DetectionScoring s);

struct DetectionParams {
  DetectionScoring scoring = DetectionScoring::kSoftmax;
  double threshold = 0.5;
  // kSigmoidTopK: k = min(top_k, Q * C) (top_k < 0 is an InputError, as torch.topk raises);
  // nullopt: k = Q (RT-DETR). Ignored by the other scorings.
  std::optional<int64_t> top_k;
};

// The target size of one item as torch holds it when it scales the boxes: the dtype of the
// target_sizes tensor (kFloat32 for torch.Tensor(list) or a float32 tensor, kInt64 for an
// integer tensor or RT-DETR's torch.as_tensor(list of ints), kFloat64 for a float64 tensor).
// corner * scale is computed in float64 when the boxes or the scale are float64 (torch's type
// promotion), else in float32; a kFloat32 scale's values are rounded to float32 first.
struct ItemBoxScale {
  double height = 0, width = 0;
  DType dtype = DType::kFloat32;
};

// Sample attribute: one item's predicted boxes (Q, 4), (cx, cy, w, h), float32 or float64.
struct ItemPredBoxes {
  Tensor boxes;
};

// One item's kept detections, in order.
struct Detections {
  std::vector<double> scores;   // exactly the float32 (or float64) values
  std::vector<int64_t> labels;
  std::vector<double> boxes;    // 4 per detection: x0, y0, x1, y1 (float32 values unless float64)
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// One item: logits (Q, C) and boxes (Q, 4), float32 or float64 each. Throws InputError where
// Hugging Face / torch raise (and on mismatched query counts).
Detections detect_objects(const Tensor& logits, const Tensor& boxes, const std::optional<ItemBoxScale>& scale,
                          const DetectionParams& params);
// The same, written plainly (the oracle): whole probability and box matrices first.
Detections detect_objects_reference(const Tensor& logits, const Tensor& boxes,
                                    const std::optional<ItemBoxScale>& scale, const DetectionParams& params);

// torch.nn.functional.softmax(logits) for a 3-D (N, Q, C) tensor: over dim 0 (torch's implicit
// dim for 3-D inputs), as RTDetrImageProcessor(use_focal_loss=False) calls it. Same dtype.
Tensor softmax_over_batch(const Tensor& logits, BufferPool* pool = nullptr);

// The op's output for one item (`out`: float64 (d.size(), 6)): a table, one row per kept detection:
// score, label, x0, y0, x1, y1 (all exact: scores and boxes are float32 or float64 values, labels
// integers below 2^53).
void fill_detections_table(const Detections& d, Tensor& out);

// Graph op for one item: the sample's array is that item's logits (Q, C), with its boxes in
// ItemPredBoxes and its target size (if any) in ItemBoxScale; it becomes the (k, 6) table.
class PostProcessObjectDetectionOp : public Op {
 public:
  static inline const std::vector<std::string> kParamKeys = {"scoring", "threshold", "top_k", "target_size"};
  // params: {"scoring": "softmax" | "max" | "sigmoid_top_k" (default "softmax"),
  //          "threshold": number (default 0.5), "top_k": int or null (sigmoid_top_k; default
  //          100; null: the number of queries), "target_size": [height, width] (optional, float32
  //          scale; absent: the sample's ItemBoxScale, else normalized boxes)}.
  // infer() gives the most rows the output can have (k is known only after running).
  explicit PostProcessObjectDetectionOp(const nlohmann::json& params);
  std::string name() const override { return "post_process_object_detection"; }
  TensorSpec infer(const TensorSpec& in) const override;
  void run(Sample& s, const ExecContext& ctx, bool last) const override;
  const DetectionParams& params() const { return params_; }

 private:
  DetectionParams params_;
  std::optional<ItemBoxScale> target_size_;
};

}  // namespace pixelflow::ops
