#include "pipelines/throughput.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "base/errors.h"
#include "base/file_io.h"
#include "ops/decode_image/decode_image.h"

namespace pixelflow::pipelines {

namespace {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // kB on Linux
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

std::string read_file(const std::string& path) { return read_regular_file(path); }

}  // namespace

BenchInputs load_bench_inputs(const std::string& dir, BenchSource source, const Plan& plan) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": not a directory");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());

  BenchInputs in;
  for (const auto& path : files) {
    std::string bytes = read_file(path);
    try {
      ops::probe_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
    } catch (const DecodeError&) {
      continue;  // not an image (e.g. a manifest next to the images)
    }
    in.names.push_back(path);
    in.encoded.push_back(std::move(bytes));
  }
  if (in.names.empty()) throw Error(dir + ": no image files to benchmark");
  if (source == BenchSource::kDecoded) {
    // Decode as the processor's loader would (convert_rgb and layout included).
    std::vector<ops::InputItem> items;
    for (size_t i = 0; i < in.names.size(); ++i) items.push_back(ops::InputItem::borrow_bytes(in.encoded[i], in.names[i]));
    ops::InputLoader loader(items, plan.load);
    ExecContext ctx;
    for (size_t i = 0; i < items.size(); ++i) {
      Sample s;
      s.index = static_cast<int64_t>(i);
      loader.load(s, ctx);
      in.decoded.push_back(s.image);
    }
  }
  return in;
}

ThroughputResult measure_throughput(const PreparedCall& call, const BenchInputs& inputs,
                                    const ThroughputOptions& opts) {
  const size_t n = inputs.names.size();
  size_t next = 0;
  auto run_batch = [&] {
    std::vector<ops::InputItem> items;
    items.reserve(static_cast<size_t>(opts.batch_size));
    for (int i = 0; i < opts.batch_size; ++i, next = (next + 1) % n) {
      if (opts.source == BenchSource::kDecoded)
        items.push_back(ops::InputItem::from_array(inputs.decoded[next], inputs.names[next]));
      else
        items.push_back(ops::InputItem::borrow_bytes(inputs.encoded[next], inputs.names[next]));
    }
    BatchFeature out = call.run(std::move(items));
    (void)out;
  };
  for (int i = 0; i < opts.warmup_batches; ++i) run_batch();

  using clock = std::chrono::steady_clock;
  ThroughputResult r;
  r.peak_rss_mb_after_warmup = peak_rss_mb();
  const double cpu0 = cpu_seconds();
  const auto t0 = clock::now();
  do {
    run_batch();
    ++r.batches;
    r.seconds = std::chrono::duration<double>(clock::now() - t0).count();
  } while (r.seconds < opts.seconds);
  r.images = r.batches * opts.batch_size;
  r.images_per_s = static_cast<double>(r.images) / r.seconds;
  r.cpu_seconds_per_image = (cpu_seconds() - cpu0) / static_cast<double>(r.images);
  r.peak_rss_mb = peak_rss_mb();
  return r;
}

}  // namespace pixelflow::pipelines
