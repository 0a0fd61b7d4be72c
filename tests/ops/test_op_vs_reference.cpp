// Every registered op against its oracle, G-API style: one test body, instantiated per op (a
// table of {op spec, inputs it takes, oracle}) over generated sizes (1x1, odd, wide, tall),
// channel counts and dtypes. The op runs as the graph runs it (make_op + Op::run, Halide kernels
// where it has them); the oracle is the op's scalar reference where the library has one
// (resize_u8_reference, segmentation_map_reference) and otherwise the transformers formula as a
// plain loop (tests/common/hf_reference.h). A registered op missing from the table fails the
// test.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <set>

#include "ops/convert_to_rgb/convert_to_rgb.h"
#include "ops/crop_to_patches/crop_to_patches.h"
#include "ops/llava_next_patches/llava_next_patches.h"
#include "ops/post_process_object_detection/post_process_object_detection.h"
#include "ops/post_process_semantic_segmentation/post_process_semantic_segmentation.h"
#include "ops/resize/resize.h"
#include "tests/common/hf_reference.h"

using namespace pixelflow;
using namespace pixelflow::test;
using nlohmann::json;

namespace {

struct OpCase {
  std::string label;
  OpSpec spec;
  std::vector<DType> dtypes;
  std::vector<int64_t> channels;  // 0: a 2-D (H, W) array
  double lo = 0, hi = 1;          // value range of non-uint8 inputs
  std::function<Tensor(const Tensor&)> oracle;
  // Input shape for (h, w, c); default (H, W, C), or (H, W) for c == 0.
  std::function<Shape(int64_t, int64_t, int64_t)> shape = [](int64_t h, int64_t w, int64_t c) {
    return c == 0 ? Shape{h, w} : Shape{h, w, c};
  };
  bool integral = false;  // float inputs hold whole numbers (np.floor of the range)
  // Attaches what the op reads besides the array (sample attributes), if anything.
  std::function<void(Sample&)> prepare;
};

const std::vector<DType> kAllDTypes = {DType::kUInt8, DType::kUInt16, DType::kInt32, DType::kInt64,
                                       DType::kFloat32, DType::kFloat64};

// resize to (oh, ow) of a uint8 image through the library's scalar reference of Pillow.
Tensor resize_oracle(const Tensor& in, int64_t oh, int64_t ow, ops::Resample f) {
  Tensor in3 = in.ndim() == 3 ? in : in.reshape({in.dim(0), in.dim(1), 1});
  Tensor out = Tensor::empty(DType::kUInt8, {oh, ow, in3.dim(2)});
  ops::resize_u8_reference(in3, oh, ow, f, {0, 0, ow, oh}, out);
  return in.ndim() == 3 ? out : out.reshape({oh, ow});
}

// image_transforms.resize of a float image with values in [0, 1] (PIL backend): to uint8 as
// to_pil_image does (rescale by 255 in float64, float32, truncated), resized by Pillow, back with
// rescale(1 / 255) in float32.
Tensor resize_float01_oracle(const Tensor& in, int64_t oh, int64_t ow, ops::Resample f) {
  Tensor u8 = Tensor::empty(DType::kUInt8, in.shape());
  with_dtype(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < in.numel(); ++i)
      u8.data<uint8_t>()[i] =
          static_cast<uint8_t>(static_cast<float>(static_cast<double>(in.data<T>()[i]) * 255.0));
  });
  return hf_rescale(resize_oracle(u8, oh, ow, f), 1 / 255.0);
}

std::vector<OpCase> op_cases() {
  std::vector<OpCase> cases;
  for (int f = 0; f <= 5; ++f) {
    const auto filter = static_cast<ops::Resample>(f);
    for (const auto& size : {std::pair<int64_t, int64_t>{9, 14}, {1, 1}, {40, 3}}) {
      const int64_t oh = size.first, ow = size.second;  // not a structured binding: clang 14 cannot capture those
      cases.push_back({"resize uint8 " + std::string(ops::resample_name(filter)) + " to " + std::to_string(oh) + "x" +
                           std::to_string(ow),
                       {"resize", {{"size", {{"height", oh}, {"width", ow}}}, {"resample", f}}},
                       {DType::kUInt8},
                       {1, 3, 4},
                       0,
                       1,
                       [=](const Tensor& in) { return resize_oracle(in, oh, ow, filter); }});
    }
    // Whole numbers in [0, 255]: to_pil_image casts them to uint8 as they are; uint8 out.
    OpCase integral{"resize float whole numbers " + std::string(ops::resample_name(filter)),
                    {"resize", {{"size", {{"height", 5}, {"width", 13}}}, {"resample", f}}},
                    {DType::kFloat32, DType::kFloat64},
                    {1, 3},
                    0,
                    255,
                    [=](const Tensor& in) { return resize_oracle(numpy_astype(in, DType::kUInt8), 5, 13, filter); }};
    integral.integral = true;
    cases.push_back(integral);
    cases.push_back({"resize float [0, 1] " + std::string(ops::resample_name(filter)),
                     {"resize", {{"size", {{"height", 11}, {"width", 6}}}, {"resample", f}}},
                     {DType::kFloat32, DType::kFloat64},
                     {1, 3},
                     0.001,
                     0.999,
                     [=](const Tensor& in) { return resize_float01_oracle(in, 11, 6, filter); }});
  }
  for (const auto& size : {std::pair<int64_t, int64_t>{5, 6}, {1, 1}, {30, 2}}) {
    const int64_t ch = size.first, cw = size.second;
    cases.push_back({"center_crop " + std::to_string(ch) + "x" + std::to_string(cw),
                     {"center_crop", {{"crop_size", {{"height", ch}, {"width", cw}}}}},
                     kAllDTypes,
                     {0, 1, 3, 4},
                     -50,
                     50,
                     [=](const Tensor& in) { return hf_center_crop(in, ch, cw); }});
  }
  cases.push_back({"rescale 1/255", {"rescale", {{"rescale_factor", 1 / 255.0}}},
                   {DType::kUInt8, DType::kFloat32, DType::kFloat64}, {1, 3, 4}, 0, 255,
                   [](const Tensor& in) { return hf_rescale(in, 1 / 255.0); }});
  cases.push_back({"rescale 1/127.5 offset", {"rescale", {{"rescale_factor", 1 / 127.5}, {"offset", true}}},
                   {DType::kUInt8, DType::kFloat32}, {3}, 0, 255,
                   [](const Tensor& in) { return hf_rescale(in, 1 / 127.5, true); }});
  const std::vector<double> mean = {0.48145466, 0.4578275, 0.40821073}, std = {0.26862954, 0.26130258, 0.27577711};
  cases.push_back({"normalize CLIP", {"normalize", {{"image_mean", mean}, {"image_std", std}}},
                   {DType::kUInt8, DType::kFloat32, DType::kFloat64}, {3}, -1, 2,
                   [=](const Tensor& in) { return hf_normalize(in, mean, std); }});
  cases.push_back({"normalize scalar 0.5", {"normalize", {{"image_mean", 0.5}, {"image_std", 0.5}}},
                   {DType::kUInt8, DType::kFloat32, DType::kFloat64}, {1, 3, 4}, -1, 2,
                   [](const Tensor& in) { return hf_normalize(in, {0.5}, {0.5}); }});
  cases.push_back({"flip_channel_order", {"flip_channel_order", json::object()}, kAllDTypes, {1, 3, 4}, -9, 9,
                   [](const Tensor& in) { return hf_flip_channel_order(in); }});
  cases.push_back({"to_channel_dimension_format channels_first",
                   {"to_channel_dimension_format", {{"data_format", "channels_first"}}}, kAllDTypes, {0, 1, 3, 4},
                   -9, 9, [](const Tensor& in) { return hf_channels_first(in); }});
  cases.push_back({"to_channel_dimension_format channels_last",
                   {"to_channel_dimension_format", {{"data_format", "channels_last"}}}, {DType::kUInt8, DType::kFloat32},
                   {1, 3}, -9, 9, [](const Tensor& in) { return in; }});
  for (int64_t d : {1, 4, 32}) {
    cases.push_back({"pad size_divisor " + std::to_string(d), {"pad", {{"size_divisor", d}}}, kAllDTypes,
                     {0, 1, 3}, -9, 9, [=](const Tensor& in) { return hf_pad(in, d); }});
  }
  cases.push_back({"reduce_label", {"reduce_label", json::object(), Target::kLabels}, kAllDTypes, {0}, 0, 255,
                   [](const Tensor& in) { return hf_reduce_label(in); }});
  for (const char* to : {"int64", "float32", "uint8"}) {
    cases.push_back({std::string("astype ") + to, {"astype", {{"dtype", to}}},
                     {DType::kUInt8, DType::kInt64, DType::kFloat32, DType::kFloat64}, {0, 3}, 0, 250,
                     [=](const Tensor& in) {
                       return numpy_astype(in, make_op({"astype", {{"dtype", to}}})->infer({in.dtype(), in.shape()}).dtype);
                     }});
  }
  {
    std::mt19937 rng(4);
    std::uniform_real_distribution<double> u(-1, 1);
    Clusters clusters(64);
    json c = json::array();
    for (auto& k : clusters) {
      for (double& v : k) v = u(rng);
      c.push_back({k[0], k[1], k[2]});
    }
    cases.push_back({"color_quantize", {"color_quantize", {{"clusters", c}}}, {DType::kFloat32, DType::kFloat64}, {3},
                     -1, 1, [=](const Tensor& in) { return imagegpt_color_quantize(in, clusters); }});
  }
  // patchify: a (C, 2h, 2w) image; the oracle cuts patches as transformers' reshape/transpose does.
  for (int64_t p : {1, 2}) {
    const int64_t m = 3 - p, t = p + 1;  // (P, M, T) = (1, 2, 2) and (2, 1, 3): blocks of 2 pixels
    OpCase c{"patchify P" + std::to_string(p), {"patchify", {{"patch_size", p}, {"temporal_patch_size", t}, {"merge_size", m}}},
             kAllDTypes, {1, 3}, -9, 9,
             [=](const Tensor& in) {
               const int64_t ch = in.dim(0), h = in.dim(1), w = in.dim(2);
               Tensor out = Tensor::empty(in.dtype(), {1, h / (m * p), w / (m * p), m, m, ch, t, p, p});
               const size_t es = dtype_size(in.dtype());
               size_t k = 0;
               for (int64_t a = 0; a < h / (m * p); ++a)
                 for (int64_t b = 0; b < w / (m * p); ++b)
                   for (int64_t mh = 0; mh < m; ++mh)
                     for (int64_t mw = 0; mw < m; ++mw)
                       for (int64_t cc = 0; cc < ch; ++cc)
                         for (int64_t ti = 0; ti < t; ++ti)
                           for (int64_t py = 0; py < p; ++py)
                             for (int64_t px = 0; px < p; ++px, ++k)
                               std::memcpy(static_cast<char*>(out.raw_data()) + k * es,
                                           static_cast<const char*>(in.raw_data()) +
                                               static_cast<size_t>((cc * h + (a * m + mh) * p + py) * w + (b * m + mw) * p + px) * es,
                                           es);
               return out;
             }};
    c.shape = [](int64_t h, int64_t w, int64_t ch) { return Shape{ch, 2 * h, 2 * w}; };
    cases.push_back(c);
  }
  // crop_to_patches: exactly 2 tiles of 5 x 4 (a 2 x 1 or 1 x 2 grid, after the image's aspect
  // ratio) and the thumbnail, each as Pillow resizes it.
  {
    OpCase c{"crop_to_patches", {"crop_to_patches", {{"min_patches", 2}, {"max_patches", 2},
                                                     {"patch_size", {{"height", 5}, {"width", 4}}}, {"resample", 3}}},
             {DType::kUInt8}, {1, 3}, 0, 1,
             [](const Tensor& in) {
               const auto grid = ops::optimal_tiled_canvas(in.dim(0), in.dim(1), 5, 4, 2, 2);
               const int64_t columns = grid.first, rows = grid.second, ch = in.dim(2);
               const Tensor canvas = resize_oracle(in, 5 * rows, 4 * columns, ops::Resample::kBicubic);
               const Tensor thumb = resize_oracle(in, 5, 4, ops::Resample::kBicubic);
               Tensor out = Tensor::empty(DType::kUInt8, {columns * rows + 1, 5, 4, ch});
               for (int64_t i = 0; i < columns * rows; ++i)
                 for (int64_t y = 0; y < 5; ++y)
                   std::memcpy(static_cast<uint8_t*>(out[i].raw_data()) + y * 4 * ch,
                               canvas.data<uint8_t>() + (((i / columns) * 5 + y) * 4 * columns + (i % columns) * 4) * ch,
                               static_cast<size_t>(4 * ch));
               std::memcpy(out[columns * rows].raw_data(), thumb.raw_data(), thumb.nbytes());
               return out;
             }};
    cases.push_back(c);
  }
  // pan_and_scan passes the image through (its crops are cut by PreparedCall; tests/ops/test_pan_and_scan.cpp).
  cases.push_back({"pan_and_scan",
                   {"pan_and_scan", {{"pan_and_scan_min_crop_size", 2}, {"pan_and_scan_max_num_crops", 3},
                                     {"pan_and_scan_min_ratio_to_activate", 1.2}}},
                   kAllDTypes, {0, 1, 3}, -9, 9, [](const Tensor& in) { return in; }});
  // llava_next_patches: the grid image (resized into the best pinpoint, centred on zeros) and the
  // base image, each as Pillow resizes them. The canvas geometry is patch_canvas's (checked against
  // transformers in tests/ops/test_llava_next_patches.cpp: a resized height of 1 or 3 is padded
  // along the width).
  {
    const std::vector<std::pair<int64_t, int64_t>> pins = {{4, 8}, {8, 4}, {6, 6}};
    OpCase c{"llava_next_patches",
             {"llava_next_patches", {{"image_grid_pinpoints", {{4, 8}, {8, 4}, {6, 6}}}, {"patch_size", 3},
                                     {"base_size", 3}, {"resample", 3}}},
             {DType::kUInt8}, {1, 3}, 0, 1,
             [=](const Tensor& in) {
               const int64_t h = in.dim(0), w = in.dim(1), ch = in.dim(2);
               const ops::PatchCanvas cv = ops::patch_canvas(h, w, ch, false, pins, "");
               const Tensor grid = resize_oracle(in, cv.image_h, cv.image_w, ops::Resample::kBicubic);
               const Tensor base = resize_oracle(in, 3, 3, ops::Resample::kBicubic);
               Tensor out = Tensor::zeros(DType::kUInt8, {cv.h + 3, cv.w + 3, ch});
               for (int64_t y = 0; y < cv.image_h; ++y)
                 std::memcpy(out.data<uint8_t>() + ((cv.top + y) * (cv.w + 3) + cv.left) * ch,
                             grid.data<uint8_t>() + y * cv.image_w * ch, static_cast<size_t>(cv.image_w * ch));
               for (int64_t y = 0; y < 3; ++y)
                 std::memcpy(out.data<uint8_t>() + ((cv.h + y) * (cv.w + 3) + cv.w) * ch,
                             base.data<uint8_t>() + y * 3 * ch, static_cast<size_t>(3 * ch));
               return out;
             }};
    cases.push_back(c);
  }
  // convert_to_rgb (Idefics3): one channel replicated, three kept, RGBA composited onto white
  // (ops::composite_over_white, Pillow's alpha_composite formula; tests/ops/test_split_image.cpp
  // checks it against Pillow).
  cases.push_back({"convert_to_rgb", {"convert_to_rgb", json::object()}, {DType::kUInt8}, {1, 3, 4}, 0, 1,
                   [](const Tensor& in) {
                     const int64_t n = in.dim(0) * in.dim(1), c = in.dim(2);
                     Tensor out = Tensor::empty(DType::kUInt8, {in.dim(0), in.dim(1), 3});
                     const uint8_t* p = in.data<uint8_t>();
                     uint8_t* o = out.data<uint8_t>();
                     for (int64_t i = 0; i < n; ++i)
                       for (int64_t k = 0; k < 3; ++k)
                         o[i * 3 + k] = c == 1   ? p[i]
                                        : c == 3 ? p[i * 3 + k]
                                                 : ops::composite_over_white(p[i * 4 + k], p[i * 4 + 3]);
                     return out;
                   }});
  // split_image (Idefics3): sides multiples of M = 3; larger than 3 x 3, the image on top and the
  // global image (resized to 3 x 3 as Pillow does: LANCZOS, or NEAREST for a one-channel "P"
  // image) below it at the left, zeros right of it; a 3 x 3 image as it is.
  {
    OpCase c{"split_image", {"split_image", {{"max_image_size", {{"longest_edge", 3}}}, {"resample", 1}}},
             {DType::kUInt8}, {1, 3}, 0, 1,
             [](const Tensor& in) {
               const int64_t h = in.dim(0), w = in.dim(1), ch = in.dim(2);
               if (h <= 3 && w <= 3) return in;
               const Tensor global =
                   resize_oracle(in, 3, 3, ch == 1 ? ops::Resample::kNearest : ops::Resample::kLanczos);
               Tensor out = Tensor::zeros(DType::kUInt8, {h + 3, w, ch});
               std::memcpy(out.raw_data(), in.raw_data(), in.nbytes());
               for (int64_t y = 0; y < 3; ++y)
                 std::memcpy(out.data<uint8_t>() + (h + y) * w * ch, global.data<uint8_t>() + y * 3 * ch,
                             static_cast<size_t>(3 * ch));
               return out;
             }};
    c.shape = [](int64_t h, int64_t w, int64_t ch) { return Shape{3 * h, 3 * w, ch}; };
    cases.push_back(c);
  }
  // post_process_semantic_segmentation: the array is one item's logits (C, h, w).
  auto logits_shape = [](int64_t h, int64_t w, int64_t c) { return Shape{c, h, w}; };
  for (auto target : {std::optional<ops::TargetSize>{}, std::optional<ops::TargetSize>{{37, 70}},
                      std::optional<ops::TargetSize>{{3, 2}}, std::optional<ops::TargetSize>{{130, 9}}}) {
    json params = json::object();
    if (target) params["target_size"] = {target->first, target->second};
    OpCase c{"post_process_semantic_segmentation " + params.dump(),
             {"post_process_semantic_segmentation", params},
             {DType::kFloat32, DType::kFloat64},
             {1, 3, 19},
             -4,
             4,
             [=](const Tensor& logits) {
               Shape shape = target ? Shape{target->first, target->second} : Shape{logits.dim(1), logits.dim(2)};
               Tensor out = Tensor::empty(DType::kInt64, shape);
               ops::segmentation_map_reference(logits, target, out);
               return out;
             }};
    c.shape = logits_shape;
    cases.push_back(c);
  }
  // post_process_object_detection: the array is one item's logits (Q, C) (Q = h, C = w + 1); its
  // boxes (Q, 4) follow from Q (ItemPredBoxes). threshold -1e30 keeps every candidate, so that the
  // output has the rows infer() announces; the selection is tested in
  // test_post_process_object_detection.cpp.
  auto boxes_for = [](const Tensor& logits) {
    std::mt19937 box_rng(static_cast<uint32_t>(logits.dim(0)));
    return random_tensor(box_rng, DType::kFloat32, Shape{logits.dim(0), 4}, 0, 1);
  };
  for (const char* scoring : {"softmax", "max", "sigmoid_top_k"}) {
    for (bool scaled : {false, true}) {
      json params = {{"scoring", scoring}, {"threshold", -1e30}};
      if (scaled) params["target_size"] = {480, 641};
      ops::DetectionParams p;
      p.scoring = std::string(scoring) == "softmax" ? ops::DetectionScoring::kSoftmax
                  : std::string(scoring) == "max"   ? ops::DetectionScoring::kMax
                                                    : ops::DetectionScoring::kSigmoidTopK;
      p.threshold = -1e30;
      if (p.scoring == ops::DetectionScoring::kSigmoidTopK) p.top_k = 100;
      std::optional<ops::ItemBoxScale> scale;
      if (scaled) scale = ops::ItemBoxScale{480, 641, DType::kFloat32};
      OpCase c{"post_process_object_detection " + params.dump(),
               {"post_process_object_detection", params},
               {DType::kFloat32, DType::kFloat64},
               {0},
               -6,
               6,
               [=](const Tensor& logits) {
                 const ops::Detections d = ops::detect_objects_reference(logits, boxes_for(logits), scale, p);
                 Tensor out = Tensor::empty(DType::kFloat64, {d.size(), 6});
                 ops::fill_detections_table(d, out);
                 return out;
               }};
      c.shape = [](int64_t h, int64_t w, int64_t) { return Shape{h, w + 1}; };
      c.prepare = [=](Sample& s) { s.attributes.set(ops::ItemPredBoxes{boxes_for(s.image)}); };
      cases.push_back(c);
    }
  }
  return cases;
}

}  // namespace

TEST_CASE("every op equals its oracle over sizes, channel counts and dtypes", "[ops][reference]") {
  static const std::vector<OpCase> cases = op_cases();
  const size_t i = GENERATE(range(size_t{0}, op_cases().size()));
  const OpCase& c = cases[i];
  std::mt19937 rng(static_cast<uint32_t>(1000 + i));
  OpPtr op = make_op(c.spec);
  int checked = 0;
  for (DType dtype : c.dtypes) {
    for (int64_t ch : c.channels) {
      for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {1, 2}, {2, 1}, {3, 5}, {7, 7}, {2, 131}, {131, 2},
                          {33, 65}, {64, 64}}) {
        const Shape shape = c.shape(h, w, ch);
        Tensor in = random_tensor(rng, dtype, shape, c.lo, c.hi);
        if (c.integral && dtype == DType::kFloat32)
          for (int64_t k = 0; k < in.numel(); ++k) in.data<float>()[k] = std::floor(in.data<float>()[k]);
        if (c.integral && dtype == DType::kFloat64)
          for (int64_t k = 0; k < in.numel(); ++k) in.data<double>()[k] = std::floor(in.data<double>()[k]);
        INFO(c.label << ": " << dtype_name(dtype) << " " << shape_str(shape));
        Tensor want = c.oracle(in);
        Tensor got = run_ops({op}, in, c.spec.target, c.prepare);
        REQUIRE(std::string(dtype_name(got.dtype())) == dtype_name(want.dtype()));
        REQUIRE(shape_str(got.shape()) == shape_str(want.shape()));
        // infer() sees no values: for float images of whole numbers resize's output is uint8
        // (transformers' to_pil_image), which only run() can tell.
        if (!c.integral) REQUIRE(op->infer({dtype, shape}) == TensorSpec{got.dtype(), got.shape()});
        REQUIRE(same_bytes(got, want));
        ++checked;
      }
    }
  }
  REQUIRE(checked > 0);
}

TEST_CASE("the table above covers every registered op", "[ops][reference]") {
  std::set<std::string> covered;
  for (const auto& c : op_cases()) covered.insert(c.spec.name);
  for (const auto& name : registered_ops()) {
    INFO(name);
    CHECK(covered.count(name) == 1);
  }
}
