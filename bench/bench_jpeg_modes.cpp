// bench_jpeg_modes: CLIP from JPEG bytes with the three ways pixelflow can decode a JPEG, against
// libjpeg-turbo's decode alone, and the error of the approximate mode.
//
//   turbojpeg_decode   tjDecompress2 to RGB (default accurate IDCT, fancy upsampling) into a
//                      reused buffer: the floor of any exact JPEG pipeline (W3's reference).
//   full_decode        pixelflow, CallOptions::decode_region = false: every pixel decoded.
//   region_decode      pixelflow default: only the source window of the fused resize+crop is
//                      decoded (same bytes as full_decode, checked here).
//   approximate        CallOptions::approximate: DCT-domain reduced decode (1/2, 1/4, 1/8 as
//                      PIL's draft picks it), then the same resize; NOT bit-exact.
//
// Two sets: the W3 images (640x480) and one large image repeated (default the corpus'
// jpegdec_large_image.jpg, 2268x1512). 1 thread, batches held in memory (InputItem::
// borrow_bytes), interleaved repeats with a rotating start, medians. The error section compares
// approximate with exact outputs: max |diff| in normalized units and in 8-bit levels (|diff| x
// std x 255), mean |diff|.
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
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "pipelines/image_processor.h"

namespace pixelflow::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string images_dir = std::string(PIXELFLOW_SOURCE_DIR) + "/../shared/bench/images";
  std::string large = std::string(PIXELFLOW_SOURCE_DIR) + "/../shared/corpus/jpegdec_large_image.jpg";
  std::string model = std::string(PIXELFLOW_SOURCE_DIR) + "/pipelines/models/openai__clip-vit-base-patch32";
  std::vector<std::string> error_files;  // extra JPEGs for the error section
  int batch = 32;
  double seconds = 0.5;
  int repeats = 5;
};

[[noreturn]] void usage(const std::string& msg) {
  std::fprintf(stderr, "bench_jpeg_modes: %s\n", msg.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " expects a value");
      return argv[++i];
    };
    if (a == "--images") o.images_dir = value();
    else if (a == "--large") o.large = value();
    else if (a == "--model") o.model = value();
    else if (a == "--batch") o.batch = std::stoi(value());
    else if (a == "--seconds") o.seconds = std::stod(value());
    else if (a == "--repeats") o.repeats = std::stoi(value());
    else if (a == "--error-file") o.error_files.push_back(value());
    else if (a == "-h" || a == "--help") {
      std::printf("usage: pixelflow_bench_jpeg_modes [--images DIR] [--large FILE] [--model DIR] [--batch N]\n"
                  "       [--seconds S] [--repeats R] [--error-file JPEG]...\n");
      std::exit(0);
    } else usage("unknown option " + a);
  }
  return o;
}

struct Set {
  std::string name;
  std::vector<std::string> names, jpegs;
};

struct Measurement {
  std::string set, impl;
  std::function<void(int64_t)> run_batch;  // batch number -> process one batch
  std::vector<double> rates, cpu_rates;      // images per second, per CPU-second
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct ErrorStats {
  double max_norm = 0, max_levels = 0, sum = 0;
  int64_t n = 0;
};

void accumulate(ErrorStats& e, const Tensor& exact, const Tensor& approx, const std::vector<double>& std_dev) {
  if (exact.shape() != approx.shape()) throw std::runtime_error("approximate output has another shape");
  const float* a = exact.data<float>();
  const float* b = approx.data<float>();
  const int64_t c = exact.dim(1), plane = exact.dim(2) * exact.dim(3);
  for (int64_t i = 0; i < exact.numel(); ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    e.max_norm = std::max(e.max_norm, d);
    e.max_levels = std::max(e.max_levels, d * std_dev[size_t((i / plane) % c)] * 255);
    e.sum += d;
    ++e.n;
  }
}

int run(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  const auto proc = pipelines::ImageProcessor::from_pretrained(opt.model);
  pipelines::CallArgs args;
  proc.plan({}, {}, &args);
  std::vector<double> std_dev;
  for (const auto& s : args.params.at("image_std")) std_dev.push_back(s.get<double>());

  std::vector<Set> sets(2);
  sets[0].name = "w3";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(opt.images_dir))
    if (e.path().extension() == ".jpg") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    sets[0].names.push_back(f.filename().string());
    sets[0].jpegs.push_back(read_file(f.string()));
  }
  sets[1].name = "large";
  sets[1].names.push_back(fs::path(opt.large).filename().string());
  sets[1].jpegs.push_back(read_file(opt.large));
  if (sets[0].jpegs.empty()) throw std::runtime_error(opt.images_dir + ": no .jpg files");

  tjhandle tj = tjInitDecompress();
  std::vector<unsigned char> tj_buffer;
  int w = 0, h = 0, ss = 0, cs = 0;
  auto& big = sets[1].jpegs[0];
  tjDecompressHeader3(tj, reinterpret_cast<const unsigned char*>(big.data()), big.size(), &w, &h, &ss, &cs);
  std::printf("model %s; w3: %zu JPEGs from %s; large: %s %dx%d; batch %d (large: %d), 1 thread, %d repeats x >= %.2f s\n",
              fs::path(opt.model).filename().c_str(), sets[0].jpegs.size(), opt.images_dir.c_str(),
              sets[1].names[0].c_str(), w, h, opt.batch, std::max(1, opt.batch / 4), opt.repeats, opt.seconds);

  pipelines::CallOptions full, region, approximate;
  full.threads = region.threads = approximate.threads = 1;
  full.decode_region = false;
  approximate.approximate = true;
  const pipelines::PreparedCall call_full = proc.prepare({}, full);
  const pipelines::PreparedCall call_region = proc.prepare({}, region);
  const pipelines::PreparedCall call_approx = proc.prepare({}, approximate);

  auto items = [](const Set& s, int64_t k, int batch) {
    std::vector<ops::InputItem> v;
    for (int i = 0; i < batch; ++i) {
      const size_t j = size_t((k * batch + i) % int64_t(s.jpegs.size()));
      v.push_back(ops::InputItem::borrow_bytes(s.jpegs[j], s.names[j]));
    }
    return v;
  };

  std::vector<Measurement> ms;
  for (const Set& s : sets) {
    const int batch = s.name == "large" ? std::max(1, opt.batch / 4) : opt.batch;
    const Set* sp = &s;
    ms.push_back({s.name, "turbojpeg_decode", [&, sp, batch](int64_t k) {
                    for (int i = 0; i < batch; ++i) {
                      const std::string& j = sp->jpegs[size_t((k * batch + i) % int64_t(sp->jpegs.size()))];
                      const auto* d = reinterpret_cast<const unsigned char*>(j.data());
                      int iw = 0, ih = 0, iss = 0, ics = 0;
                      if (tjDecompressHeader3(tj, d, j.size(), &iw, &ih, &iss, &ics) != 0)
                        throw std::runtime_error(tjGetErrorStr2(tj));
                      if (tj_buffer.size() < size_t(iw) * ih * 3) tj_buffer.resize(size_t(iw) * ih * 3);
                      if (tjDecompress2(tj, d, j.size(), tj_buffer.data(), iw, 0, ih, TJPF_RGB, 0) != 0)
                        throw std::runtime_error(tjGetErrorStr2(tj));
                    }
                  }, {}, {}});
    for (const auto& mode : {std::pair{"full_decode", &call_full}, std::pair{"region_decode", &call_region},
                             std::pair{"approximate", &call_approx}})
      ms.push_back({s.name, mode.first, [&items, sp, batch, call = mode.second](int64_t k) {
                      BatchFeature out = call->run(items(*sp, k, batch));
                      (void)out;
                    }, {}, {}});
  }

  // Exactness of region decoding and the approximate mode's error, on every image.
  std::printf("\nOutputs\n");
  for (const Set& s : sets) {
    ErrorStats e;
    bool identical = true;
    std::vector<std::pair<std::string, std::string>> extra;
    for (size_t i = 0; i < s.jpegs.size(); ++i) {
      const std::vector<ops::InputItem> one{ops::InputItem::borrow_bytes(s.jpegs[i], s.names[i])};
      const Tensor a = call_full.run(one)["pixel_values"];
      const Tensor b = call_region.run(one)["pixel_values"];
      const Tensor c = call_approx.run(one)["pixel_values"];
      identical = identical && a.nbytes() == b.nbytes() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
      accumulate(e, a, c, std_dev);
    }
    std::printf("  %-6s region_decode %s full_decode; approximate vs exact: max %.4f normalized (%.2f levels), "
                "mean %.5f\n", s.name.c_str(), identical ? "== (same bytes)" : "DIFFERS FROM", e.max_norm,
                e.max_levels, e.sum / double(e.n));
  }
  if (!opt.error_files.empty()) {
    ErrorStats e;
    for (const auto& f : opt.error_files) {
      const std::string j = read_file(f);
      const std::vector<ops::InputItem> one{ops::InputItem::borrow_bytes(j, f)};
      ErrorStats one_e;
      accumulate(one_e, call_full.run(one)["pixel_values"], call_approx.run(one)["pixel_values"], std_dev);
      accumulate(e, call_full.run(one)["pixel_values"], call_approx.run(one)["pixel_values"], std_dev);
      std::printf("  %-40s max %.4f (%.2f levels), mean %.5f\n", fs::path(f).filename().c_str(), one_e.max_norm,
                  one_e.max_levels, one_e.sum / double(one_e.n));
    }
    std::printf("  all %zu error files: max %.4f normalized (%.2f levels), mean %.5f\n", opt.error_files.size(),
                e.max_norm, e.max_levels, e.sum / double(e.n));
  }

  // Warm-up, then interleaved repeats.
  std::vector<int64_t> next(ms.size(), 0);
  for (size_t i = 0; i < ms.size(); ++i)
    for (int k = 0; k < 2; ++k) ms[i].run_batch(next[i]++);
  for (int r = 0; r < opt.repeats; ++r) {
    for (size_t j = 0; j < ms.size(); ++j) {
      Measurement& m = ms[(j + size_t(r)) % ms.size()];
      const int batch = m.set == "large" ? std::max(1, opt.batch / 4) : opt.batch;
      int64_t images = 0;
      const double c0 = cpu_seconds();
      const auto t0 = Clock::now();
      double dt = 0;
      do {
        m.run_batch(next[size_t(&m - ms.data())]++);
        images += batch;
        dt = std::chrono::duration<double>(Clock::now() - t0).count();
      } while (dt < opt.seconds);
      m.rates.push_back(double(images) / dt);
      m.cpu_rates.push_back(double(images) / (cpu_seconds() - c0));
    }
  }
  std::printf("\nImages per second: median of %d repeats (min - max); images per CPU-second of the process\n"
              "(median; less sensitive to other load); both as %% of turbojpeg_decode\n", opt.repeats);
  for (const Set& s : sets) {
    double tj_rate = 0, tj_cpu = 0;
    for (const auto& m : ms)
      if (m.set == s.name && m.impl == "turbojpeg_decode") tj_rate = median(m.rates), tj_cpu = median(m.cpu_rates);
    for (const auto& m : ms) {
      if (m.set != s.name) continue;
      const auto [lo, hi] = std::minmax_element(m.rates.begin(), m.rates.end());
      std::printf("  %-6s %-17s %8.1f (%7.1f - %7.1f) %6.1f%%   cpu %8.1f %6.1f%%\n", m.set.c_str(), m.impl.c_str(),
                  median(m.rates), *lo, *hi, 100.0 * median(m.rates) / tj_rate, median(m.cpu_rates),
                  100.0 * median(m.cpu_rates) / tj_cpu);
    }
  }
  tjDestroy(tj);
  return 0;
}

}  // namespace
}  // namespace pixelflow::bench

int main(int argc, char** argv) {
  return pixelflow::bench::bench_main("bench_jpeg_modes", pixelflow::bench::run, argc, argv);
}
