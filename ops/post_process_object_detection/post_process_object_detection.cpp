#include "ops/post_process_object_detection/post_process_object_detection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "base/errors.h"
#include "ops/post_process_object_detection/detection_math.h"

namespace pixelflow::ops {

namespace {

constexpr const char* kOp = "post_process_object_detection";

// The fused path: per query, scores first; a box is converted and scaled only when kept.
template <class S, class B>
Detections detect(const Tensor& logits, const Tensor& boxes, const std::optional<ItemBoxScale>& scale,
                  const DetectionParams& p) {
  const int64_t Q = logits.dim(0), C = logits.dim(1);
  const S* x = logits.data<S>();
  const B* bx = boxes.data<B>();
  const S thr = static_cast<S>(p.threshold);
  Detections d;
  auto keep = [&](S score, int64_t label, int64_t query) {
    d.scores.push_back(static_cast<double>(score));
    d.labels.push_back(label);
    double box[4];
    detection::corners(bx + query * 4, scale, box);
    d.boxes.insert(d.boxes.end(), box, box + 4);
  };
  if (p.scoring == DetectionScoring::kSigmoidTopK) {
    const int64_t n = Q * C;
    const int64_t k = detection::top_k_count(p.top_k, Q, n);
    if (k == 0) return d;
    thread_local std::vector<std::pair<double, int64_t>> queue;
    queue.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) queue[static_cast<size_t>(i)] = {static_cast<double>(detection::sigmoid(x[i])), i};
    detection::torch_top_k(queue, k);
    for (int64_t j = 0; j < k; ++j) {
      const auto& [v, i] = queue[static_cast<size_t>(j)];
      const S score = static_cast<S>(v);
      if (score > thr) keep(score, i % C, i / C);
    }
    return d;
  }
  thread_local std::vector<S> row;
  row.resize(static_cast<size_t>(C));
  for (int64_t q = 0; q < Q; ++q) {
    const S* xq = x + q * C;
    const S* pq = xq;
    if (p.scoring == DetectionScoring::kSoftmax) {
      detection::softmax_row(xq, C, row.data());
      pq = row.data();
    }
    const auto [score, label] = detection::max_first(pq, C - 1);
    if (score > thr) keep(score, label, q);
  }
  return d;
}

void check_item(const Tensor& logits, const Tensor& boxes, const DetectionParams& p) {
  if (logits.ndim() != 2)
    throw InputError(std::string(kOp) + ": one item's logits must be (num_queries, num_classes), got shape " +
                     shape_str(logits.shape()));
  if (logits.dtype() != DType::kFloat32 && logits.dtype() != DType::kFloat64)
    throw InputError(std::string(kOp) + ": logits must be float32 (or float64), got " + dtype_name(logits.dtype()));
  if (boxes.dtype() != DType::kFloat32 && boxes.dtype() != DType::kFloat64)
    throw InputError(std::string(kOp) + ": pred_boxes must be float32 (or float64), got " + dtype_name(boxes.dtype()));
  if (boxes.ndim() != 2 || boxes.dim(1) != 4 || boxes.dim(0) != logits.dim(0))
    throw InputError(std::string(kOp) + ": pred_boxes must be (num_queries, 4) with the logits' " +
                     std::to_string(logits.dim(0)) + " queries, got shape " + shape_str(boxes.shape()));
  const int64_t C = logits.dim(1);
  if (p.scoring != DetectionScoring::kSigmoidTopK && C < 2)
    throw InputError(std::string(kOp) + ": logits have " + std::to_string(C) +
                     " classes; with the last (\"no object\") class dropped none is left (torch: max() over an "
                     "empty dimension)");
  if (p.scoring == DetectionScoring::kSigmoidTopK && C < 1)
    throw InputError(std::string(kOp) + ": logits have no classes (torch cannot flatten them for top-k)");
  if (p.scoring == DetectionScoring::kSigmoidTopK && p.top_k && *p.top_k < 0)
    throw InputError(std::string(kOp) + ": top_k must be >= 0, got " + std::to_string(*p.top_k) +
                     " (torch.topk: selected index k out of range)");
}

// softmax over dim 0 of an (N, inner) array: PyTorch's non-last-dim kernel (sequential sum, division).
template <class S>
void softmax_dim0(const S* x, int64_t N, int64_t inner, S* out) {
  for (int64_t i = 0; i < inner; ++i) {
    S m = x[i];
    bool nan = false;
    for (int64_t b = 0; b < N; ++b) {
      const S v = x[b * inner + i];
      nan = nan || std::isnan(v);
      m = v > m ? v : m;
    }
    if (nan) m = std::numeric_limits<S>::quiet_NaN();
    S sum = 0;
    for (int64_t b = 0; b < N; ++b) {
      out[b * inner + i] = std::exp(x[b * inner + i] - m);
      sum = sum + out[b * inner + i];
    }
    for (int64_t b = 0; b < N; ++b) out[b * inner + i] = out[b * inner + i] / sum;
  }
}

template <class F>
Detections dispatch(const Tensor& logits, const Tensor& boxes, const F& f) {
  const bool s64 = logits.dtype() == DType::kFloat64, b64 = boxes.dtype() == DType::kFloat64;
  if (s64) return b64 ? f(double(), double()) : f(double(), float());
  return b64 ? f(float(), double()) : f(float(), float());
}

}  // namespace

const char* detection_scoring_name(DetectionScoring s) {
  switch (s) {
    case DetectionScoring::kSoftmax: return "softmax";
    case DetectionScoring::kMax: return "max";
    case DetectionScoring::kSigmoidTopK: return "sigmoid_top_k";
  }
  return "?";
}

Detections detect_objects(const Tensor& logits, const Tensor& boxes, const std::optional<ItemBoxScale>& scale,
                          const DetectionParams& params) {
  check_item(logits, boxes, params);
  return dispatch(logits, boxes, [&](auto s, auto b) {
    return detect<decltype(s), decltype(b)>(logits, boxes, scale, params);
  });
}

void fill_detections_table(const Detections& d, Tensor& out) {
  if (out.dtype() != DType::kFloat64 || out.shape() != Shape{d.size(), 6})
    throw std::logic_error("fill_detections_table: output must be float64 (k, 6)");
  double* o = out.data<double>();
  for (int64_t i = 0; i < d.size(); ++i) {
    const auto u = static_cast<size_t>(i);
    o[i * 6 + 0] = d.scores[u];
    o[i * 6 + 1] = static_cast<double>(d.labels[u]);
    for (size_t c = 0; c < 4; ++c) o[i * 6 + 2 + static_cast<int64_t>(c)] = d.boxes[u * 4 + c];
  }
}

Tensor softmax_over_batch(const Tensor& logits, BufferPool* pool) {
  if (logits.ndim() != 3)
    throw InputError("post_process_object_detection: logits must be (batch_size, num_queries, num_classes), got shape " +
                     shape_str(logits.shape()));
  Tensor out = Tensor::empty(logits.dtype(), logits.shape(), pool);
  const int64_t N = logits.dim(0), inner = logits.dim(1) * logits.dim(2);
  if (N == 0 || inner == 0) return out;
  if (logits.dtype() == DType::kFloat32) softmax_dim0(logits.data<float>(), N, inner, out.data<float>());
  else if (logits.dtype() == DType::kFloat64) softmax_dim0(logits.data<double>(), N, inner, out.data<double>());
  else throw InputError(std::string("post_process_object_detection: logits must be float32 (or float64), got ") +
                        dtype_name(logits.dtype()));
  return out;
}

PostProcessObjectDetectionOp::PostProcessObjectDetectionOp(const nlohmann::json& params) {
  if (!params.is_object()) throw ConfigError(kOp, "parameters must be an object");
  for (auto it = params.begin(); it != params.end(); ++it)
    if (std::find(kParamKeys.begin(), kParamKeys.end(), it.key()) == kParamKeys.end())
      throw ConfigError(it.key(), "unknown parameter of post_process_object_detection (known: scoring, threshold, "
                                  "top_k, target_size)");
  if (auto it = params.find("scoring"); it != params.end() && !it->is_null()) {
    const std::string v = it->is_string() ? it->get<std::string>() : it->dump();
    if (v == "softmax") params_.scoring = DetectionScoring::kSoftmax;
    else if (v == "max") params_.scoring = DetectionScoring::kMax;
    else if (v == "sigmoid_top_k") params_.scoring = DetectionScoring::kSigmoidTopK;
    else throw ConfigError("scoring", "must be one of softmax, max, sigmoid_top_k, got " + it->dump());
  }
  if (auto it = params.find("threshold"); it != params.end() && !it->is_null()) {
    if (!it->is_number()) throw ConfigError("threshold", "must be a number, got " + it->dump());
    params_.threshold = it->get<double>();
  }
  if (params_.scoring == DetectionScoring::kSigmoidTopK) params_.top_k = 100;
  if (auto it = params.find("top_k"); it != params.end()) {
    if (it->is_null()) params_.top_k.reset();
    else if (!it->is_number_integer() || it->get<int64_t>() < 0)
      throw ConfigError("top_k", "must be a non-negative integer or null, got " + it->dump());
    else params_.top_k = it->get<int64_t>();
  }
  if (auto it = params.find("target_size"); it != params.end() && !it->is_null()) {
    const auto& v = *it;
    auto side_ok = [](const nlohmann::json& e) { return e.is_number() && std::isfinite(e.get<double>()); };
    if (!v.is_array() || v.size() != 2 || !side_ok(v[0]) || !side_ok(v[1]))
      throw ConfigError("target_size", "must be [height, width] with numbers, got " + v.dump());
    target_size_ = ItemBoxScale{v[0].get<double>(), v[1].get<double>(), DType::kFloat32};
  }
}

TensorSpec PostProcessObjectDetectionOp::infer(const TensorSpec& in) const {
  if (in.shape.size() != 2)
    throw InputError(std::string(kOp) + ": one item's logits must be (num_queries, num_classes), got shape " +
                     shape_str(in.shape));
  if (in.dtype != DType::kFloat32 && in.dtype != DType::kFloat64)
    throw InputError(std::string(kOp) + ": logits must be float32 (or float64), got " + dtype_name(in.dtype));
  int64_t rows = in.shape[0];
  if (params_.scoring == DetectionScoring::kSigmoidTopK && params_.top_k)
    rows = std::min(*params_.top_k, in.shape[0] * in.shape[1]);
  return {DType::kFloat64, {rows, 6}};
}

void PostProcessObjectDetectionOp::run(Sample& s, const ExecContext& ctx, bool last) const {
  const auto* boxes = s.attributes.get<ItemPredBoxes>();
  if (!boxes) throw InputError(std::string(kOp) + ": the sample has no pred_boxes");
  std::optional<ItemBoxScale> scale = target_size_;
  if (!scale)
    if (const auto* item = s.attributes.get<ItemBoxScale>()) scale = *item;
  const Detections d = detect_objects(s.image, boxes->boxes, scale, params_);
  const Shape shape{d.size(), 6};
  Tensor out = last ? ctx.output_for(s, DType::kFloat64, shape) : ctx.new_tensor(DType::kFloat64, shape);
  fill_detections_table(d, out);
  s.image = std::move(out);
  s.attributes.erase<ItemPredBoxes>();
}

}  // namespace pixelflow::ops
