// pixelflow bench and pixelflow tune.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <tbb/info.h>

#include "cli/args.h"
#include "graph/kernels.h"
#include "pipelines/throughput.h"

namespace pixelflow::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kBenchHelp = R"(Usage: pixelflow bench --config PATH --images DIR [--threads N] [--from decoded|jpeg]
                       [--batch-size N] [--seconds S] [--set KEY=JSON]... [--tuning FILE|none]

Measures the throughput of the processor on the images in DIR (cycled through in batches):
from decoded pixels (the default: images are decoded once up front, as the processor would) or
from the encoded files' bytes in memory (--from jpeg). Prints one JSON line with images_per_s,
threads, from, batch_size, seconds, images, cpu_us_per_image, peak_rss_mb_after_warmup and
peak_rss_mb (equal when the steady state allocates nothing: buffers are reused), processor,
graph, cpu, tuning.

  --threads N      worker threads (default: all cores; at most 256)
  --batch-size N   images per call (default 32)
  --seconds S      timed duration after two warm-up batches (default 3)
  --no-fuse        one graph node per transform
  --tuning FILE    kernel selection to use (default: the tuning file for this CPU if there is
                   one, see pixelflow tune); "none": the built-in defaults
)";

constexpr const char* kTuneHelp = R"(Usage: pixelflow tune --config PATH [--images DIR] [--from decoded|jpeg] [--threads N]
                      [--batch-size N] [--seconds S] [--set KEY=JSON]... [--out FILE]

Times every compiled variant of each kernel the processor's pipeline uses, on this CPU, on the
images in DIR (default: the bundled samples) at the sizes the config produces, and records the
fastest in the tuning file under this CPU's model and instruction-set features. Later runs of
pixelflow (preprocess, bench, the C++ API) load it. Prints one JSON line per measurement and a
summary line.

  --out FILE       tuning file to write (default: $PIXELFLOW_TUNING_FILE, else
                   $XDG_CACHE_HOME/pixelflow/tuning.json, else ~/.cache/pixelflow/tuning.json)
  --seconds S      time per measurement (default 1); each variant is measured 3 times,
                   interleaved, and the median kept
)";

struct CommonOptions {
  std::string config, images, tuning, from = "decoded";
  json kwargs = json::object();
  pipelines::CallOptions call;
  pipelines::ThroughputOptions tp;
};

// Options shared by bench and tune; returns false for an option it does not know.
bool take_common(Args& args, CommonOptions& o) {
  std::string v;
  if (args.take("--config", &o.config) || args.take("--images", &o.images) || args.take("--from", &o.from))
    return true;
  if (args.take("--set", &v)) return parse_set(v, o.kwargs), true;
  if (args.take("--threads", &v)) return o.call.threads = parse_threads_option("--threads", v), true;
  if (args.take("--batch-size", &v)) return o.tp.batch_size = parse_int_option("--batch-size", v), true;
  if (args.take("--seconds", &v)) return o.tp.seconds = parse_seconds_option("--seconds", v), true;
  if (args.take_flag("--no-fuse")) return o.call.fuse = false, true;
  return false;
}

void finish_common(CommonOptions& o) {
  if (o.config.empty()) throw UsageError("needs --config PATH");
  if (o.from == "decoded")
    o.tp.source = pipelines::BenchSource::kDecoded;
  else if (o.from == "jpeg" || o.from == "encoded")
    o.tp.source = pipelines::BenchSource::kEncoded;
  else
    throw UsageError("--from expects decoded or jpeg, got '" + o.from + "'");
}

std::string default_images_dir() {
  // The bundled samples, next to the bundled model configs.
  return (fs::path(pipelines::bundled_models_dir()).parent_path() / "samples").string();
}

int threads_used(const pipelines::CallOptions& call) {
  return call.threads > 0 ? call.threads : tbb::info::default_concurrency();
}

}  // namespace

void apply_tuning(const std::string& path) {
  if (path == "none") return use_default_kernels();
  if (!path.empty()) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw ConfigError(path, "tuning file not found");
    load_tuning(path);
    return;
  }
  load_tuning();  // default location, if any
}

int cmd_bench(Args& args) {
  CommonOptions o;
  while (!args.done()) {
    const std::string& a = args.peek();
    if (a == "-h" || a == "--help") {
      std::cout << kBenchHelp;
      return 0;
    }
    if (take_common(args, o) || args.take("--tuning", &o.tuning)) continue;
    throw UsageError("unknown argument '" + a + "'");
  }
  finish_common(o);
  if (o.images.empty()) throw UsageError("bench needs --images DIR");
  apply_tuning(o.tuning);
  auto proc = pipelines::ImageProcessor::from_pretrained(o.config);
  pipelines::PreparedCall call = proc.prepare(o.kwargs, o.call);
  pipelines::BenchInputs inputs = pipelines::load_bench_inputs(o.images, o.tp.source, call.plan());
  pipelines::ThroughputResult r = pipelines::measure_throughput(call, inputs, o.tp);
  nlohmann::ordered_json line = {
      {"images_per_s", r.images_per_s},
      {"threads", threads_used(o.call)},
      {"from", o.from},
      {"batch_size", o.tp.batch_size},
      {"seconds", r.seconds},
      {"images", r.images},
      {"cpu_us_per_image", r.cpu_seconds_per_image * 1e6},
      {"peak_rss_mb_after_warmup", r.peak_rss_mb_after_warmup},
      {"peak_rss_mb", r.peak_rss_mb},
      {"processor", proc.class_name()},
      {"graph", call.describe()},
      {"cpu", cpu_key()},
      {"tuning", current_selection()},
  };
  std::cout << line.dump() << std::endl;
  return 0;
}

int cmd_tune(Args& args) {
  CommonOptions o;
  std::string out;
  o.tp.seconds = 1.0;
  while (!args.done()) {
    const std::string& a = args.peek();
    if (a == "-h" || a == "--help") {
      std::cout << kTuneHelp;
      return 0;
    }
    if (take_common(args, o) || args.take("--out", &out)) continue;
    throw UsageError("unknown argument '" + a + "'");
  }
  finish_common(o);
  if (o.images.empty()) o.images = default_images_dir();
  if (out.empty()) out = default_tuning_path();

  auto proc = pipelines::ImageProcessor::from_pretrained(o.config);
  pipelines::PreparedCall call = proc.prepare(o.kwargs, o.call);
  pipelines::BenchInputs inputs = pipelines::load_bench_inputs(o.images, o.tp.source, call.plan());

  // Which families does this pipeline call? Run once and look at the call counters.
  std::map<std::string, uint64_t> before;
  for (auto* f : kernel_families()) before[f->name()] = f->calls();
  pipelines::ThroughputOptions once = o.tp;
  once.seconds = 0;
  once.warmup_batches = 1;
  pipelines::measure_throughput(call, inputs, once);
  std::vector<KernelFamily*> used;
  for (auto* f : kernel_families())
    if (f->calls() > before[f->name()] && f->size() > 1) used.push_back(f);

  const KernelSelection defaults = current_selection();
  auto measure = [&] { return pipelines::measure_throughput(call, inputs, o.tp).images_per_s; };
  json details = {{"config", o.config}, {"processor", proc.class_name()}, {"from", o.from},
                  {"threads", threads_used(o.call)}, {"batch_size", o.tp.batch_size},
                  {"images", o.images}, {"families", json::object()}};
  // Coordinate descent: each used family in turn, the others at their current choice.
  for (KernelFamily* f : used) {
    std::vector<std::vector<double>> rounds(f->size());
    for (int round = 0; round < 3; ++round)
      for (size_t v = 0; v < f->size(); ++v) {
        f->select(v);
        rounds[v].push_back(measure());
      }
    size_t best = 0;
    std::vector<double> medians;
    for (size_t v = 0; v < f->size(); ++v) {
      std::sort(rounds[v].begin(), rounds[v].end());
      medians.push_back(rounds[v][1]);
      if (medians[v] > medians[best]) best = v;
      nlohmann::ordered_json m = {{"family", f->name()}, {"variant", f->variant(v).variant}, {"knobs", f->variant(v).knobs},
                {"images_per_s", medians[v]}};
      std::cout << m.dump() << std::endl;
      details["families"][f->name()][f->variant(v).variant] = medians[v];
    }
    // Keep the default unless another variant is clearly faster (noise is a few percent).
    if (medians[best] < medians[0] * 1.02) best = 0;
    f->select(best);
  }
  const KernelSelection tuned = current_selection();
  save_tuning(out, tuned, details.dump());
  nlohmann::ordered_json summary = {{"tuning_file", out}, {"cpu", cpu_key()}, {"selected", tuned}, {"defaults", defaults},
                  {"families_measured", used.size()}};
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace pixelflow::cli
