// bench_preprocess: pixelflow against a plain OpenCV C++ pipeline (cv::resize + crop + rescale/
// normalize into an NCHW float32 batch), from decoded pixels and from JPEG bytes, at 1 and 2
// threads, in images per second. One run measures everything, interleaved: every repeat runs
// each measurement once for at least --seconds, and the median over --repeats is reported.
//
// Workloads (the targets of the issue notes):
//   W1  CLIP (openai/clip-vit-base-patch32: shortest edge 224 bicubic, crop 224, rescale,
//       normalize, NCHW float32) from decoded RGB uint8 pixels.
//   W2  ViT (google/vit-base-patch16-224: 224x224 bilinear, rescale, normalize) from pixels.
//   W3  CLIP from JPEG bytes in memory, with libjpeg-turbo's decode alone as the floor.
//
// Implementations:
//   pixelflow          a PreparedCall held across batches (CallOptions::threads), inputs as
//                      InputItem::from_array (W1, W2) or InputItem::borrow_bytes (W3); each
//                      BatchFeature is dropped before the next call so its buffers are recycled.
//   pixelflow_oneshot  (W1) ImageProcessor::operator() per batch: plan, graph and buffer pool are
//                      new every call, so outputs land in fresh memory.
//   opencv_{linear,cubic,area}
//                      cv::resize (no antialiasing) to the processor's size, crop as a ROI,
//                      cv::split + convertTo(CV_32F, 1/(255 std), -mean/std) straight into the
//                      planes of a reused batch buffer; W3 decodes with TurboJPEG into reused
//                      per-thread buffers. Parallel over images with tbb::parallel_for in a
//                      task_arena of the thread count; OpenCV's own threading is off.
//   turbojpeg_decode   (W3) tjDecompress2 to RGB (default accurate IDCT, fancy upsampling) into
//                      a reused per-thread buffer, nothing else: the floor of any JPEG pipeline.
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <turbojpeg.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "bench/bench_util.h"
#include "ops/decode_image/decode_image.h"
#include "pipelines/image_processor.h"

namespace pixelflow::bench {
namespace {

namespace fs = std::filesystem;
using pipelines::CallOptions;
using pipelines::ImageProcessor;
using pipelines::PreparedCall;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Command line

struct Options {
  std::string images_dir;
  std::string models_dir;
  int batch = 32;
  double seconds = 0.5;
  int repeats = 5;
  std::vector<int> threads{1, 2};
  std::string only;  // substring filter on "W1/pixelflow/1t"-style labels
  bool check = true;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "bench_preprocess: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

void print_help() {
  std::printf(
      "usage: pixelflow_bench_preprocess [options]\n"
      "  --images DIR     JPEGs to process (default: <source>/../shared/bench/images,\n"
      "                   else <source>/pipelines/samples)\n"
      "  --models DIR     bundled configs (default: <source>/pipelines/models)\n"
      "  --batch N        images per call (default 32)\n"
      "  --seconds S      minimum time of each measurement in each repeat (default 0.5)\n"
      "  --repeats R      interleaved repeats; the median is reported (default 5)\n"
      "  --threads LIST   comma-separated thread counts (default 1,2)\n"
      "  --only TEXT      run only measurements whose label (e.g. W1/pixelflow/1t) contains TEXT\n"
      "  --no-check       skip the output comparison of the OpenCV variants with pixelflow\n");
}

Options parse_args(int argc, char** argv) {
  Options o;
  o.models_dir = std::string(PIXELFLOW_SOURCE_DIR) + "/pipelines/models";
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) usage_error(std::string(argv[i]) + " expects a value");
    return argv[++i];
  };
  auto number = [&](const std::string& flag, const std::string& v) -> double {
    try {
      size_t used = 0;
      double d = std::stod(v, &used);
      if (used != v.size()) throw std::invalid_argument(v);
      return d;
    } catch (const std::exception&) {
      usage_error(flag + " expects a number, got '" + v + "'");
    }
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      print_help();
      std::exit(0);
    } else if (a == "--images") {
      o.images_dir = value(i);
    } else if (a == "--models") {
      o.models_dir = value(i);
    } else if (a == "--batch") {
      o.batch = static_cast<int>(number(a, value(i)));
      if (o.batch < 1) usage_error("--batch must be >= 1");
    } else if (a == "--seconds") {
      o.seconds = number(a, value(i));
      if (!(o.seconds >= 0)) usage_error("--seconds must be >= 0");
    } else if (a == "--repeats") {
      o.repeats = static_cast<int>(number(a, value(i)));
      if (o.repeats < 1) usage_error("--repeats must be >= 1");
    } else if (a == "--threads") {
      o.threads.clear();
      std::stringstream ss(value(i));
      for (std::string t; std::getline(ss, t, ',');) {
        int n = static_cast<int>(number("--threads", t));
        if (n < 1) usage_error("--threads: counts must be >= 1");
        o.threads.push_back(n);
      }
      if (o.threads.empty()) usage_error("--threads: empty list");
    } else if (a == "--only") {
      o.only = value(i);
    } else if (a == "--no-check") {
      o.check = false;
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Inputs

struct Image {
  std::string name;
  std::string jpeg;  // encoded bytes
  Tensor pixels;     // (H, W, 3) uint8, as pixelflow (= Pillow) decodes it
};

std::vector<Image> load_images(std::string dir) {
  if (dir.empty()) {
    dir = std::string(PIXELFLOW_SOURCE_DIR) + "/../shared/bench/images";
    if (!fs::is_directory(dir)) {
      std::string fallback = std::string(PIXELFLOW_SOURCE_DIR) + "/pipelines/samples";
      std::fprintf(stderr, "note: %s not found, using %s\n", dir.c_str(), fallback.c_str());
      dir = fallback;
    }
  }
  if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": not a directory");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::runtime_error(dir + ": no .jpg/.jpeg files");
  std::vector<Image> images;
  for (const auto& p : files) {
    Image im;
    im.name = p.filename().string();
    im.jpeg = read_file(p);
    ops::DecodedImage d = ops::decode_image(reinterpret_cast<const uint8_t*>(im.jpeg.data()),
                                            im.jpeg.size(), im.name);
    if (d.mode != "RGB") {
      std::fprintf(stderr, "note: skipping %s (mode %s, the benchmark wants RGB JPEGs)\n",
                   im.name.c_str(), d.mode.c_str());
      continue;
    }
    im.pixels = d.pixels;
    images.push_back(std::move(im));
  }
  if (images.empty()) throw std::runtime_error(dir + ": no RGB JPEGs");
  std::printf("images: %zu RGB JPEGs from %s (first: %s, %lldx%lld)\n", images.size(),
              fs::canonical(dir).c_str(), images[0].name.c_str(),
              static_cast<long long>(images[0].pixels.dim(1)),
              static_cast<long long>(images[0].pixels.dim(0)));
  return images;
}

// Batch k holds images (k*B + i) mod N: batches cycle through the set.
std::vector<int> batch_indices(int64_t k, int batch, int n) {
  std::vector<int> idx(static_cast<size_t>(batch));
  for (int i = 0; i < batch; ++i) idx[static_cast<size_t>(i)] = static_cast<int>((k * batch + i) % n);
  return idx;
}

// ---------------------------------------------------------------------------------------------
// The processor's geometry and constants, read from the resolved call arguments so that the
// baseline follows the same config as pixelflow.

struct Geometry {
  bool shortest_edge = false;  // else exact (height, width)
  int size = 0, height = 0, width = 0;
  bool crop = false;
  int crop_h = 0, crop_w = 0;
  float alpha[3], beta[3];  // out = x * alpha + beta  (rescale then normalize, fused)
  double std_dev[3];
  int out_h = 0, out_w = 0;

  // Hugging Face's get_resize_output_image_size(default_to_square=False) for shortest_edge.
  std::pair<int, int> resized(int h, int w) const {
    if (!shortest_edge) return {height, width};
    int s = std::min(h, w), l = std::max(h, w);
    int nl = static_cast<int>(static_cast<double>(size) * l / s);
    return h <= w ? std::pair{size, nl} : std::pair{nl, size};
  }
};

Geometry geometry_from(const pipelines::CallArgs& args) {
  const nlohmann::json& p = args.params;
  Geometry g;
  const auto& size = p.at("size");
  if (size.contains("shortest_edge")) {
    g.shortest_edge = true;
    g.size = size.at("shortest_edge").get<int>();
  } else {
    g.height = size.at("height").get<int>();
    g.width = size.at("width").get<int>();
  }
  g.crop = p.value("do_center_crop", false);
  if (g.crop) {
    g.crop_h = p.at("crop_size").at("height").get<int>();
    g.crop_w = p.at("crop_size").at("width").get<int>();
  }
  double scale = p.value("do_rescale", true) ? p.at("rescale_factor").get<double>() : 1.0;
  for (int c = 0; c < 3; ++c) {
    double mean = 0, sd = 1;
    if (p.value("do_normalize", true)) {
      const auto& m = p.at("image_mean");
      const auto& s = p.at("image_std");
      mean = m.is_array() ? m.at(c).get<double>() : m.get<double>();
      sd = s.is_array() ? s.at(c).get<double>() : s.get<double>();
    }
    g.alpha[c] = static_cast<float>(scale / sd);
    g.beta[c] = static_cast<float>(-mean / sd);
    g.std_dev[c] = sd;
  }
  g.out_h = g.crop ? g.crop_h : (g.shortest_edge ? g.size : g.height);
  g.out_w = g.crop ? g.crop_w : (g.shortest_edge ? g.size : g.width);
  return g;
}

// ---------------------------------------------------------------------------------------------
// The OpenCV baseline

struct CvScratch {
  cv::Mat resized;               // uint8 HWC, reused
  std::vector<cv::Mat> planes;   // 3 x uint8, reused
  std::vector<uint8_t> decoded;  // TurboJPEG output, reused
  tjhandle tj = nullptr;
  CvScratch() : planes(3) {}
  CvScratch(const CvScratch&) = delete;
  ~CvScratch() {
    if (tj) tjDestroy(tj);
  }
  tjhandle handle() {
    if (!tj) tj = tjInitDecompress();
    if (!tj) throw std::runtime_error("tjInitDecompress failed");
    return tj;
  }
};

// Decodes to RGB into s.decoded; returns the image as a Mat over that buffer.
cv::Mat tj_decode(CvScratch& s, const Image& im) {
  tjhandle h = s.handle();
  int w = 0, ht = 0, subsamp = 0, colorspace = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(im.jpeg.data());
  auto size = static_cast<unsigned long>(im.jpeg.size());
  if (tjDecompressHeader3(h, data, size, &w, &ht, &subsamp, &colorspace) != 0)
    throw std::runtime_error(im.name + ": " + tjGetErrorStr2(h));
  size_t need = static_cast<size_t>(w) * ht * 3;
  if (s.decoded.size() < need) s.decoded.resize(need);
  if (tjDecompress2(h, data, size, s.decoded.data(), w, 0, ht, TJPF_RGB, 0) != 0)
    throw std::runtime_error(im.name + ": " + tjGetErrorStr2(h));
  return cv::Mat(ht, w, CV_8UC3, s.decoded.data());
}

// One image: resize, crop (a ROI, no copy), then rescale+normalize+HWC->CHW into `out`
// (3 planes of out_h x out_w float32).
void cv_preprocess(CvScratch& s, const cv::Mat& src, const Geometry& g, int interp, float* out) {
  auto [rh, rw] = g.resized(src.rows, src.cols);
  cv::resize(src, s.resized, cv::Size(rw, rh), 0, 0, interp);
  cv::Mat view = s.resized;
  if (g.crop) {
    // Hugging Face's center_crop offsets (the crop is never larger than the image here).
    int top = (rh - g.crop_h) / 2, left = (rw - g.crop_w) / 2;
    if (top < 0 || left < 0) throw std::runtime_error("crop larger than the resized image");
    view = s.resized(cv::Rect(left, top, g.crop_w, g.crop_h));
  }
  cv::split(view, s.planes);
  const size_t plane = static_cast<size_t>(g.out_h) * g.out_w;
  for (int c = 0; c < 3; ++c) {
    cv::Mat dst(g.out_h, g.out_w, CV_32F, out + c * plane);
    s.planes[static_cast<size_t>(c)].convertTo(dst, CV_32F, g.alpha[c], g.beta[c]);
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements

struct Measurement {
  std::string workload, model, impl, from;
  int threads = 1;
  std::function<void(int64_t)> run_batch;  // runs batch k
  std::vector<double> rates;               // images/s (wall clock), one per repeat
  std::vector<double> cpu_rates;           // images per CPU-second of the whole process
  std::string label() const { return workload + "/" + impl + "/" + std::to_string(threads) + "t"; }
};

struct Workload {
  std::string id, model, from;
  ImageProcessor proc;
  nlohmann::json kwargs;
  Geometry geom;
};

const char* interp_name(int interp) {
  switch (interp) {
    case cv::INTER_LINEAR: return "opencv_linear";
    case cv::INTER_CUBIC: return "opencv_cubic";
    case cv::INTER_AREA: return "opencv_area";
  }
  return "opencv_?";
}

Measurement new_measurement(const Workload& w, std::string impl, int threads) {
  Measurement m;
  m.workload = w.id;
  m.model = w.model;
  m.impl = std::move(impl);
  m.from = w.from;
  m.threads = threads;
  return m;
}

std::vector<ops::InputItem> make_items(const std::vector<Image>& images, const std::vector<int>& idx,
                                       bool bytes) {
  std::vector<ops::InputItem> items;
  items.reserve(idx.size());
  for (int j : idx) {
    const Image& im = images[static_cast<size_t>(j)];
    if (bytes) {
      items.push_back(ops::InputItem::borrow_bytes(im.jpeg, im.name));  // no copy
    } else {
      items.push_back(ops::InputItem::from_array(im.pixels, im.name));
    }
  }
  return items;
}

void check_output(const BatchFeature& bf, int batch, const Geometry& g) {
  const Tensor& t = bf["pixel_values"];
  Shape want{batch, 3, g.out_h, g.out_w};
  if (t.dtype() != DType::kFloat32 || t.shape() != want)
    throw std::runtime_error("pixelflow returned " + shape_str(t.shape()) + " " + dtype_name(t.dtype()) +
                             ", expected " + shape_str(want) + " float32");
}

Measurement pixelflow_measurement(const Workload& w, const std::vector<Image>& images, int batch,
                                  int threads) {
  CallOptions opts;
  opts.threads = threads;
  auto call = std::make_shared<PreparedCall>(w.proc.prepare(w.kwargs, opts));
  bool bytes = w.from == "jpeg";
  Geometry g = w.geom;
  Measurement m = new_measurement(w, "pixelflow", threads);
  m.run_batch = [call, &images, batch, bytes, g](int64_t k) {
    BatchFeature bf = call->run(make_items(images, batch_indices(k, batch, static_cast<int>(images.size())), bytes));
    if (k == 0) check_output(bf, batch, g);
  };  // bf dies here: its batch buffer goes back to the call's pool before the next call
  return m;
}

Measurement pixelflow_oneshot_measurement(const Workload& w, const std::vector<Image>& images, int batch,
                                          int threads) {
  CallOptions opts;
  opts.threads = threads;
  bool bytes = w.from == "jpeg";
  Measurement m = new_measurement(w, "pixelflow_oneshot", threads);
  const ImageProcessor* proc = &w.proc;
  nlohmann::json kwargs = w.kwargs;
  m.run_batch = [proc, kwargs, opts, &images, batch, bytes](int64_t k) {
    BatchFeature bf = (*proc)(make_items(images, batch_indices(k, batch, static_cast<int>(images.size())), bytes),
                              kwargs, opts);
  };
  return m;
}

struct CvState {
  tbb::task_arena arena;
  tbb::enumerable_thread_specific<CvScratch> scratch;
  std::vector<float> out;
  explicit CvState(int threads) : arena(threads) {}
};

// Runs `body(scratch, i)` for i in [0, batch) on `threads` threads.
template <class F>
void parallel_images(CvState& st, int batch, F body) {
  st.arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<int>(0, batch, 1), [&](const tbb::blocked_range<int>& r) {
      CvScratch& s = st.scratch.local();
      for (int i = r.begin(); i < r.end(); ++i) body(s, i);
    });
  });
}

Measurement opencv_measurement(const Workload& w, const std::vector<Image>& images, int batch, int threads,
                               int interp) {
  auto st = std::make_shared<CvState>(threads);
  const Geometry g = w.geom;
  const size_t per_image = size_t(3) * g.out_h * g.out_w;
  st->out.assign(per_image * batch, 0.0f);  // touched once here, reused by every batch
  bool bytes = w.from == "jpeg";
  Measurement m = new_measurement(w, interp_name(interp), threads);
  m.run_batch = [st, &images, batch, bytes, g, interp, per_image](int64_t k) {
    std::vector<int> idx = batch_indices(k, batch, static_cast<int>(images.size()));
    parallel_images(*st, batch, [&](CvScratch& s, int i) {
      const Image& im = images[static_cast<size_t>(idx[static_cast<size_t>(i)])];
      cv::Mat src = bytes ? tj_decode(s, im)
                          : cv::Mat(static_cast<int>(im.pixels.dim(0)), static_cast<int>(im.pixels.dim(1)),
                                    CV_8UC3, const_cast<void*>(im.pixels.raw_data()));
      cv_preprocess(s, src, g, interp, st->out.data() + per_image * i);
    });
  };
  return m;
}

Measurement turbojpeg_measurement(const Workload& w, const std::vector<Image>& images, int batch, int threads) {
  auto st = std::make_shared<CvState>(threads);
  Measurement m = new_measurement(w, "turbojpeg_decode", threads);
  m.run_batch = [st, &images, batch](int64_t k) {
    std::vector<int> idx = batch_indices(k, batch, static_cast<int>(images.size()));
    parallel_images(*st, batch, [&](CvScratch& s, int i) {
      tj_decode(s, images[static_cast<size_t>(idx[static_cast<size_t>(i)])]);
    });
  };
  return m;
}

// Runs batches for at least `seconds` (and at least one batch); records images/s by the wall
// clock and per CPU-second of the process (all threads, spinning workers included).
void time_measurement(Measurement& m, int batch, double seconds, int64_t& next_batch) {
  auto t0 = Clock::now();
  double c0 = cpu_seconds();
  int64_t images = 0;
  double elapsed = 0;
  do {
    m.run_batch(next_batch++);
    images += batch;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (elapsed < seconds);
  double cpu = cpu_seconds() - c0;
  m.rates.push_back(static_cast<double>(images) / elapsed);
  m.cpu_rates.push_back(cpu > 0 ? static_cast<double>(images) / cpu : 0.0);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// ---------------------------------------------------------------------------------------------
// Output comparison: each OpenCV variant vs pixelflow, over every image of the set.

struct Diff {
  double max_norm = 0;    // max |a - b| in normalized units
  double max_levels = 0;  // the same in 8-bit levels: |a - b| * std * 255, max over channels
};

Diff compare(const float* a, const float* b, int n, const Geometry& g) {
  Diff d;
  const size_t plane = static_cast<size_t>(g.out_h) * g.out_w;
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) {
      double mc = 0;
      const float* pa = a + (static_cast<size_t>(i) * 3 + c) * plane;
      const float* pb = b + (static_cast<size_t>(i) * 3 + c) * plane;
      for (size_t j = 0; j < plane; ++j) mc = std::max(mc, std::abs(static_cast<double>(pa[j]) - pb[j]));
      d.max_norm = std::max(d.max_norm, mc);
      d.max_levels = std::max(d.max_levels, mc * g.std_dev[c] * 255.0);
    }
  return d;
}

void check_outputs(const std::vector<Workload>& workloads, const std::vector<Image>& images) {
  const int n = static_cast<int>(images.size());
  std::vector<int> all(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;

  // TurboJPEG's pixels vs pixelflow's (Pillow's) decode of the same files.
  {
    CvScratch s;
    int max_diff = 0;
    for (const Image& im : images) {
      cv::Mat tj = tj_decode(s, im);
      const auto* p = static_cast<const uint8_t*>(im.pixels.raw_data());
      if (tj.rows != im.pixels.dim(0) || tj.cols != im.pixels.dim(1)) {
        max_diff = 255;
        continue;
      }
      for (size_t j = 0; j < tj.total() * 3; ++j) max_diff = std::max(max_diff, std::abs(int(tj.data[j]) - int(p[j])));
    }
    std::printf("decode check: TurboJPEG RGB vs pixelflow decode_image (Pillow-exact): max |diff| = %d levels%s\n",
                max_diff, max_diff == 0 ? " (identical)" : "");
  }

  std::printf("\nOutput check (all %d images): max |OpenCV - pixelflow|; pixelflow is bit-exact vs Hugging Face\n", n);
  std::printf("  %-4s %-6s %-6s %-16s %14s %14s\n", "", "model", "from", "impl", "normalized", "8-bit levels");
  std::map<std::string, Tensor> pf_pixels_out;  // model -> pixelflow output from pixels
  for (const Workload& w : workloads) {
    CallOptions opts;
    opts.threads = 1;
    BatchFeature bf = w.proc(make_items(images, all, w.from == "jpeg"), w.kwargs, opts);
    check_output(bf, n, w.geom);
    const Tensor pf = bf["pixel_values"];
    const auto* pfd = pf.data<float>();
    if (w.from == "pixels") {
      pf_pixels_out[w.model] = pf;
    } else if (pf_pixels_out.count(w.model)) {
      const Tensor& ref = pf_pixels_out[w.model];
      bool same = ref.nbytes() == pf.nbytes() && std::memcmp(ref.raw_data(), pf.raw_data(), pf.nbytes()) == 0;
      std::printf("  %-4s %-6s %-6s %-16s %s\n", w.id.c_str(), w.model.c_str(), w.from.c_str(), "pixelflow",
                  same ? "identical bytes to pixelflow from pixels" : "DIFFERS from pixelflow from pixels");
    }
    for (int interp : {cv::INTER_LINEAR, cv::INTER_CUBIC, cv::INTER_AREA}) {
      std::vector<float> out(static_cast<size_t>(n) * 3 * w.geom.out_h * w.geom.out_w);
      CvScratch s;
      for (int i = 0; i < n; ++i) {
        const Image& im = images[static_cast<size_t>(i)];
        cv::Mat src = w.from == "jpeg" ? tj_decode(s, im)
                                       : cv::Mat(static_cast<int>(im.pixels.dim(0)), static_cast<int>(im.pixels.dim(1)),
                                                 CV_8UC3, const_cast<void*>(im.pixels.raw_data()));
        cv_preprocess(s, src, w.geom, interp, out.data() + static_cast<size_t>(i) * 3 * w.geom.out_h * w.geom.out_w);
      }
      Diff d = compare(out.data(), pfd, n, w.geom);
      std::printf("  %-4s %-6s %-6s %-16s %14.4f %14.1f\n", w.id.c_str(), w.model.c_str(), w.from.c_str(),
                  interp_name(interp), d.max_norm, d.max_levels);
    }
  }
  std::printf("\n");
}

// ---------------------------------------------------------------------------------------------
// Report

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 100 ? "%.0f" : "%.1f", v);
  return buf;
}

struct HfFigure {
  double lo, hi;
};

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  if (!(f >> a >> b >> c)) return "unknown";
  return a + " " + b + " " + c;
}

int run(int argc, char** argv) {
  Options opt = parse_args(argc, argv);
  std::printf("load average at start: %s (%u hardware threads)\n", load_average().c_str(),
              std::thread::hardware_concurrency());
  cv::setNumThreads(0);  // OpenCV runs single-threaded inside our own parallel loop

  std::vector<Image> images = load_images(opt.images_dir);

  auto load = [&](const std::string& dir) { return ImageProcessor::from_pretrained(opt.models_dir + "/" + dir); };
  ImageProcessor clip = load("openai__clip-vit-base-patch32");
  ImageProcessor vit = load("google__vit-base-patch16-224");

  std::vector<Workload> workloads;
  workloads.reserve(3);  // measurements keep pointers into it
  auto add = [&](std::string id, std::string model, std::string from, const ImageProcessor& proc) {
    pipelines::CallArgs args;
    nlohmann::json kwargs = nlohmann::json::object();
    proc.plan(kwargs, {}, &args);
    workloads.push_back({std::move(id), std::move(model), std::move(from), proc, kwargs, geometry_from(args)});
  };
  add("W1", "clip", "pixels", clip);
  add("W2", "vit", "pixels", vit);
  add("W3", "clip", "jpeg", clip);

  std::printf("pixelflow graphs: clip: %s\n                  vit:  %s\n",
              clip.prepare().describe().c_str(), vit.prepare().describe().c_str());
  std::printf("OpenCV %s (IPP %s), TBB arenas for the baseline, batch %d, %d repeats x >= %.2f s each\n",
              CV_VERSION, cv::ipp::useIPP() ? "on" : "off", opt.batch, opt.repeats, opt.seconds);

  // Measurements are built only when selected: each holds its own warmed-up buffers.
  std::vector<Measurement> ms;
  auto wanted = [&](const Workload& w, const std::string& impl, int t) {
    return opt.only.empty() || (w.id + "/" + impl + "/" + std::to_string(t) + "t").find(opt.only) != std::string::npos;
  };
  for (int t : opt.threads) {
    for (const Workload& w : workloads) {
      if (wanted(w, "pixelflow", t)) ms.push_back(pixelflow_measurement(w, images, opt.batch, t));
      if (w.id == "W1" && wanted(w, "pixelflow_oneshot", t))
        ms.push_back(pixelflow_oneshot_measurement(w, images, opt.batch, t));
      if (w.from == "jpeg" && wanted(w, "turbojpeg_decode", t))
        ms.push_back(turbojpeg_measurement(w, images, opt.batch, t));
      for (int interp : {cv::INTER_LINEAR, cv::INTER_CUBIC, cv::INTER_AREA})
        if (wanted(w, interp_name(interp), t)) ms.push_back(opencv_measurement(w, images, opt.batch, t, interp));
    }
  }
  if (ms.empty()) usage_error("--only '" + opt.only + "' matches no measurement");

  if (opt.check) check_outputs(workloads, images);

  // Warm-up: fills pools and scratch buffers, touches every output page once.
  std::vector<int64_t> next(ms.size(), 0);
  for (size_t i = 0; i < ms.size(); ++i)
    for (int k = 0; k < 2; ++k) ms[i].run_batch(next[i]++);

  // Interleaved repeats; the starting measurement rotates so none is always first.
  for (int r = 0; r < opt.repeats; ++r) {
    for (size_t j = 0; j < ms.size(); ++j) {
      size_t i = (j + static_cast<size_t>(r)) % ms.size();
      time_measurement(ms[i], opt.batch, opt.seconds, next[i]);
    }
    std::fprintf(stderr, "repeat %d/%d done\n", r + 1, opt.repeats);
  }

  // Table.
  std::map<std::string, double> med;  // label -> median
  std::map<std::string, double> best;  // label -> fastest repeat
  for (const auto& m : ms) {
    med[m.label()] = median(m.rates);
    best[m.label()] = *std::max_element(m.rates.begin(), m.rates.end());
  }
  auto get = [&](const std::string& w, const std::string& impl, int t) -> std::optional<double> {
    auto it = med.find(w + "/" + impl + "/" + std::to_string(t) + "t");
    if (it == med.end()) return std::nullopt;
    return it->second;
  };

  std::printf("\nImages per second: median of %d repeats; best = fastest repeat (other load only slows a\n"
              "run down, so on a busy machine it is the closer estimate of a quiet one); spread = (max - min)\n"
              "/ median; img/cpu-s = images per CPU-second of the process (less sensitive to other load at\n"
              "1 thread; includes spinning workers at 2)\n", opt.repeats);
  std::printf("%-4s %-6s %-6s %-18s %7s %10s %10s %7s %10s\n", "", "model", "from", "impl", "threads", "images/s",
              "best", "spread", "img/cpu-s");
  for (const auto& m : ms) {
    double md = med[m.label()];
    auto [lo, hi] = std::minmax_element(m.rates.begin(), m.rates.end());
    std::printf("%-4s %-6s %-6s %-18s %7d %10s %10s %6.0f%% %10s\n", m.workload.c_str(), m.model.c_str(),
                m.from.c_str(), m.impl.c_str(), m.threads, fmt(md).c_str(), fmt(*hi).c_str(),
                100.0 * (*hi - *lo) / md, fmt(median(m.cpu_rates)).c_str());
  }

  // Ratios and the targets of the follow-up issue.
  const std::map<std::string, HfFigure> hf{{"W1", {230, 300}}, {"W2", {470, 470}}, {"W3", {175, 220}}};
  std::printf("\nRatios (medians)\n");
  for (const auto& w : workloads) {
    for (int t : opt.threads) {
      auto pf = get(w.id, "pixelflow", t);
      if (!pf) continue;
      std::string line = w.id + " " + std::to_string(t) + "t: pixelflow " + fmt(*pf) + " img/s";
      if (auto lin = get(w.id, "opencv_linear", t)) line += ", /opencv_linear " + fmt(*pf / *lin) + "x";
      if (auto cub = get(w.id, "opencv_cubic", t)) line += ", /opencv_cubic " + fmt(*pf / *cub) + "x";
      const HfFigure& h = hf.at(w.id);
      if (h.lo == h.hi)
        line += ", /HF(" + fmt(h.lo) + ") " + fmt(*pf / h.lo) + "x";
      else
        line += ", /HF(" + fmt(h.lo) + "-" + fmt(h.hi) + ") " + fmt(*pf / h.hi) + "-" + fmt(*pf / h.lo) + "x";
      if (auto tj = get(w.id, "turbojpeg_decode", t)) line += ", /turbojpeg_decode " + fmt(100.0 * *pf / *tj) + "%";
      std::printf("  %s\n", line.c_str());
    }
  }
  std::printf("  2-thread / 1-thread scaling (medians; best repeats):\n");
  for (const auto& m : ms) {
    if (m.threads != 1) continue;
    auto one = get(m.workload, m.impl, 1), two = get(m.workload, m.impl, 2);
    auto one_b = best.find(m.workload + "/" + m.impl + "/1t"), two_b = best.find(m.workload + "/" + m.impl + "/2t");
    if (one && two && one_b != best.end() && two_b != best.end())
      std::printf("    %-4s %-18s %.2fx; %.2fx\n", m.workload.c_str(), m.impl.c_str(), *two / *one,
                  two_b->second / one_b->second);
  }

  std::printf("\nTargets (follow-up issue; HF at the top of its PEERS.md range)\n");
  auto target = [](const std::string& what, std::optional<double> have, std::optional<double> need) {
    if (!have || !need) return;
    std::printf("  %-58s %10s vs %10s  %s\n", what.c_str(), fmt(*have).c_str(), fmt(*need).c_str(),
                *have >= *need ? "met" : "NOT met");
  };
  auto times = [](std::optional<double> v, double f) -> std::optional<double> {
    if (!v) return std::nullopt;
    return *v * f;
  };
  target("W1 pixelflow 1t >= 10 x HF (3000)", get("W1", "pixelflow", 1), 10 * hf.at("W1").hi);
  target("W1 pixelflow 1t > opencv_linear 1t", get("W1", "pixelflow", 1), get("W1", "opencv_linear", 1));
  target("W2 pixelflow 1t >= 10 x HF (4700)", get("W2", "pixelflow", 1), 10 * hf.at("W2").hi);
  target("W2 pixelflow 1t > opencv_linear 1t", get("W2", "pixelflow", 1), get("W2", "opencv_linear", 1));
  for (int t : opt.threads)
    target("W3 pixelflow " + std::to_string(t) + "t >= 85% turbojpeg_decode " + std::to_string(t) + "t",
           get("W3", "pixelflow", t), times(get("W3", "turbojpeg_decode", t), 0.85));
  for (const char* w : {"W1", "W2", "W3"})
    target(std::string(w) + " pixelflow 2t >= 1.8 x 1t", get(w, "pixelflow", 2), times(get(w, "pixelflow", 1), 1.8));

  std::printf("\nload average at end: %s\n", load_average().c_str());
  // One JSON line per measurement.
  std::printf("\n");
  for (const auto& m : ms) {
    auto [lo, hi] = std::minmax_element(m.rates.begin(), m.rates.end());
    nlohmann::ordered_json j;
    j["workload"] = m.workload;
    j["impl"] = m.impl;
    j["threads"] = m.threads;
    j["from"] = m.from;
    j["batch_size"] = opt.batch;
    j["images_per_s"] = std::round(med[m.label()] * 10) / 10;
    j["model"] = m.model;
    j["repeats"] = opt.repeats;
    j["min"] = std::round(*lo * 10) / 10;
    j["max"] = std::round(*hi * 10) / 10;
    j["images_per_cpu_s"] = std::round(median(m.cpu_rates) * 10) / 10;
    std::printf("%s\n", j.dump().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace pixelflow::bench

int main(int argc, char** argv) {
  return pixelflow::bench::bench_main("bench_preprocess", pixelflow::bench::run, argc, argv);
}
