// Scalar reference of post_process_object_detection, written as Hugging Face's code reads: the
// whole score matrix, the whole (scaled) box matrix, then the selection (the oracle for the op's
// fused path, which converts only the kept boxes). Built with -ffp-contract=off.
#include <string>
#include <vector>

#include "base/errors.h"
#include "ops/post_process_object_detection/detection_math.h"
#include "ops/post_process_object_detection/post_process_object_detection.h"

namespace pixelflow::ops {

namespace {

template <class S, class B>
Detections reference(const Tensor& logits, const Tensor& pred_boxes, const std::optional<ItemBoxScale>& scale,
                     const DetectionParams& p) {
  const int64_t Q = logits.dim(0), C = logits.dim(1);
  const S* x = logits.data<S>();
  // prob = softmax(logits, -1) / sigmoid(logits) / logits as given.
  std::vector<S> prob(static_cast<size_t>(Q * C));
  for (int64_t q = 0; q < Q; ++q) {
    if (p.scoring == DetectionScoring::kSoftmax) detection::softmax_row(x + q * C, C, prob.data() + q * C);
    for (int64_t c = 0; c < C; ++c) {
      const auto i = static_cast<size_t>(q * C + c);
      if (p.scoring == DetectionScoring::kSigmoidTopK) prob[i] = detection::sigmoid(x[i]);
      if (p.scoring == DetectionScoring::kMax) prob[i] = x[i];
    }
  }
  // boxes = center_to_corners_format(out_bbox) * scale_fct.
  std::vector<double> boxes(static_cast<size_t>(Q * 4));
  for (int64_t q = 0; q < Q; ++q) detection::corners(pred_boxes.data<B>() + q * 4, scale, boxes.data() + q * 4);
  // scores, labels, query per candidate, in order.
  std::vector<S> scores;
  std::vector<int64_t> labels, queries;
  if (p.scoring == DetectionScoring::kSigmoidTopK) {
    std::vector<std::pair<double, int64_t>> queue;
    for (int64_t i = 0; i < Q * C; ++i) queue.emplace_back(prob[static_cast<size_t>(i)], i);
    const int64_t k = detection::top_k_count(p.top_k, Q, Q * C);
    detection::torch_top_k(queue, k);
    for (int64_t j = 0; j < k; ++j) {
      scores.push_back(static_cast<S>(queue[static_cast<size_t>(j)].first));
      labels.push_back(queue[static_cast<size_t>(j)].second % C);
      queries.push_back(queue[static_cast<size_t>(j)].second / C);
    }
  } else {
    for (int64_t q = 0; q < Q; ++q) {
      const auto best = detection::max_first(prob.data() + q * C, C - 1);
      scores.push_back(best.first);
      labels.push_back(best.second);
      queries.push_back(q);
    }
  }
  // score > threshold.
  Detections d;
  const S thr = static_cast<S>(p.threshold);
  for (size_t j = 0; j < scores.size(); ++j) {
    if (!(scores[j] > thr)) continue;
    d.scores.push_back(static_cast<double>(scores[j]));
    d.labels.push_back(labels[j]);
    for (int64_t c = 0; c < 4; ++c) d.boxes.push_back(boxes[static_cast<size_t>(queries[j] * 4 + c)]);
  }
  return d;
}

}  // namespace

Detections detect_objects_reference(const Tensor& logits, const Tensor& boxes,
                                    const std::optional<ItemBoxScale>& scale, const DetectionParams& params) {
  // Same checks as detect_objects (that function validates; run it on an empty selection).
  if (logits.ndim() != 2 || boxes.ndim() != 2) return detect_objects(logits, boxes, scale, params);
  const bool s64 = logits.dtype() == DType::kFloat64, b64 = boxes.dtype() == DType::kFloat64;
  if ((logits.dtype() != DType::kFloat32 && !s64) || (boxes.dtype() != DType::kFloat32 && !b64) ||
      boxes.dim(1) != 4 || boxes.dim(0) != logits.dim(0) ||
      logits.dim(1) < (params.scoring == DetectionScoring::kSigmoidTopK ? 1 : 2) ||
      (params.top_k && *params.top_k < 0 && params.scoring == DetectionScoring::kSigmoidTopK))
    return detect_objects(logits, boxes, scale, params);  // throws the same InputError
  if (s64) return b64 ? reference<double, double>(logits, boxes, scale, params)
                      : reference<double, float>(logits, boxes, scale, params);
  return b64 ? reference<float, double>(logits, boxes, scale, params)
             : reference<float, float>(logits, boxes, scale, params);
}

}  // namespace pixelflow::ops
