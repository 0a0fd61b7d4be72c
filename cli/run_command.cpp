// pixelflow run: a whole-dataset run, from an input source to an output folder of shards.
//
// The inputs are batched by a DataLoader (batch b + 1 is computed while batch b is written) and
// committed batch by batch through a DatasetWriter; a restart on the same folder resumes after
// the last committed batch.
#include <cstdlib>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/args.h"
#include "cli/run_command.h"
#include "base/errors.h"
#include "pipelines/data_loader.h"
#include "pipelines/dataset/float_dtype.h"
#include "pipelines/dataset_writer.h"
#include "pipelines/input_source.h"
#include "pipelines/post_processing.h"

#include "pipelines/yaml_pipeline.h"

namespace pixelflow::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kRunHelp = R"(Usage: pixelflow run --config PATH --input DIR|LIST|GLOB --out DIR [--batch-size N]
                     [--threads N] [--on-error fail|skip] [--format npy|safetensors]
                     [--dtype float32|float16|bfloat16] [--set KEY=JSON]... [--recursive]
                     [--prefetch N] [--overwrite] [--sync]
       pixelflow run PIPELINE.yaml [same options, overriding the file's]
       (--config PIPELINE.yaml, a .yaml/.yml file, is the same as PIPELINE.yaml)

Runs the processor over every input of a dataset, batch by batch, and writes the batches to DIR:
  DIR/shard-000000/<key>.npy         one folder per batch (--format npy, the default), or
  DIR/shard-000000.safetensors       one file per batch (--format safetensors)
  DIR/manifest.jsonl                 one line per input, in input order:
    {"input":PATH,"status":"ok","shard":NAME,"index":ROW}
    {"input":PATH,"status":"error","error":MESSAGE}
  DIR/run.json                       the run's settings (plan, inputs digest, batch size, format,
                                     dtype)
  DIR/shards.jsonl                   each shard's files' sizes and SHA-256, checked on resume
Batch b holds inputs [b * N, (b + 1) * N) (failed inputs left out with --on-error skip).

  --input        a folder (its .jpg .jpeg .png .webp .bmp .npy files, sorted by name; hidden
                 files skipped; --recursive: sub-folders too), a glob pattern (*, ?, [...], **)
                 or a list file (one path per line, relative to the list's folder; '#' comments);
                 a folder or glob never lists DIR (which may lie inside the input folder)
  --batch-size   inputs per batch and shard (default 32)
  --dtype        float32 (default): outputs as computed; float16 or bfloat16: every float32
                 array is written as that type, each value rounded to nearest, ties to even, from
                 the exact float32 result (as NumPy's astype(np.float16) and torch's
                 .to(torch.bfloat16); overflow to inf, NaN stays NaN). Other arrays (int64, uint8,
                 float64) are written as they are. npy has no bfloat16: use --format safetensors
  --threads N    worker threads (default: all cores; at most 256)
  --on-error     fail (default): stop at the first input that cannot be processed, keeping the
                 batches before it; skip: leave it out and record it in the manifest
  --prefetch N   batches computed ahead of the writer (default 2)
  --max-image-pixels N
                 refuse images with more pixels, from their header, before decoding
                 (default 178956970, where Pillow raises DecompressionBombError; 0: no limit;
                 also PIXELFLOW_MAX_IMAGE_PIXELS)
  --set KEY=JSON call-time override, as for pixelflow preprocess
  --overwrite    delete the files of whatever run DIR holds and start afresh; in a folder of
                 other files (no run.json), write the run next to them. Files that are not a
                 run's are never deleted
  --sync         fsync each committed batch (files, folder, manifest), so that the folder also
                 survives the machine losing power; without it (the default, or --no-sync) it
                 survives the process being killed at any point. fsync makes the disk the
                 bound: CLIP's float32 outputs are 600 KB per image

Post-processing: a PIPELINE.yaml with `post_process:` and no `ops:` runs over model outputs:
each input is one .npy file of float32/float64 logits (num_labels, h, w) or (1, num_labels, h, w)
(from a folder: its .npy files only); each batch's int64 maps go under semantic_segmentation,
(B, H, W) when they share a shape, else KEY.0, KEY.1, ... (see pipelines/PIPELINES.md).

Resume: run again with the same arguments on the same DIR to continue after the last committed
batch whose shard still matches its record; a DIR holding another run's output, or files but no
run.json, is refused (--overwrite: see above).
On a terminal, a progress line (done/total, images/s, ETA) is kept on stderr.
Prints one JSON line at the end: inputs, ok, skipped (this invocation), resumed_batches,
batches, seconds, images_per_s, out.
Exit 0 when every input was processed or skipped (a one-line count of skipped inputs on stderr);
1 with "pixelflow: PATH: reason" on stderr when an input fails with --on-error fail; 2 on a
usage error.
)";

// What fixes the bytes of the output besides the inputs, batching and format (which the run key
// holds too): the plan, whichever front end made it. Threads, prefetch and the error policy do
// not, so a run may resume with other values.
nlohmann::json plan_identity(const pipelines::PipelineSpec& spec) {
  auto ops_json = [](const std::vector<OpSpec>& ops) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const auto& op : ops) a.push_back({{"op", op.name}, {"params", op.params}});
    return a;
  };
  const LoadSpec& l = spec.plan.load;
  nlohmann::ordered_json load = {{"convert_rgb", l.convert_rgb}, {"exif_transpose", l.exif_transpose}};
  if (l.input_data_format)
    load["input_data_format"] = *l.input_data_format == Layout::kChannelsFirst ? "channels_first" : "channels_last";
  nlohmann::ordered_json id = {
      {"processor", spec.plan.processor_class},
      {"load", load},
      {"image_ops", ops_json(spec.plan.image_ops)},
      {"label_ops", ops_json(spec.plan.label_ops)},
      {"approximate", spec.options.approximate},
  };
  // Only post-processing runs carry it, so that image runs keep the run key they had.
  if (!spec.post_process.empty()) id["post_process"] = ops_json(spec.post_process);
  // Likewise only for the plans that have them (tiling, patch batches, the tile counts).
  if (!spec.plan.tile_ops.empty()) id["tile_ops"] = ops_json(spec.plan.tile_ops);
  if (spec.plan.batching == Batching::kPatches) id["batching"] = "patches";
  if (!spec.plan.tiles_key.empty()) id["tiles_key"] = spec.plan.tiles_key;
  return nlohmann::json::parse(id.dump());
}

// The progress line on a terminal: done/total, images/s, ETA.
class Progress {
 public:
  Progress(int64_t total, int64_t done) : total_(total), start_done_(done), on_(isatty(STDERR_FILENO) != 0) {}
  void update(int64_t done, double seconds) {
    if (!on_) return;
    const double rate = seconds > 0 ? static_cast<double>(done - start_done_) / seconds : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
    std::fprintf(stderr, "\r%lld/%lld inputs, %.1f images/s, ETA %s   ", static_cast<long long>(done),
                 static_cast<long long>(total_), rate, clock_text(eta).c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void finish() {
    if (shown_) std::fputs("\n", stderr);
    shown_ = false;
  }

 private:
  static std::string clock_text(double s) {
    const long long t = std::llround(s);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
    return buf;
  }
  int64_t total_, start_done_;
  bool on_, shown_ = false;
};

struct RunFlags {
  std::optional<std::string> config, input, out, format, on_error, dtype;
  std::optional<int64_t> batch_size;
  std::optional<int> threads;
  std::optional<int64_t> max_pixels;  // --max-image-pixels, else PIXELFLOW_MAX_IMAGE_PIXELS
  int prefetch = 2;
  pipelines::LoadOptions load;  // --revision and the Hub options (take_hub_option)
  bool recursive = false, overwrite = false, sync = false;
  nlohmann::json kwargs = nlohmann::json::object();
  std::string yaml;  // PIPELINE.yaml
};

RunFlags parse_flags(Args& args, bool* help) {
  RunFlags f;
  std::string v;
  if (const char* env = std::getenv("PIXELFLOW_MAX_IMAGE_PIXELS"); env && *env)
    f.max_pixels = parse_pixel_limit(env, "PIXELFLOW_MAX_IMAGE_PIXELS");
  while (!args.done()) {
    const std::string& a = args.peek();
    if (a == "-h" || a == "--help") {
      *help = true;
      return f;
    }
    if (args.take("--config", &v)) f.config = v;
    else if (take_hub_option(args, f.load)) continue;
    else if (args.take("--revision", &v)) f.load.revision = v;
    else if (args.take("--input", &v)) f.input = v;
    else if (args.take("--out", &v)) f.out = v;
    else if (args.take("--format", &v)) f.format = v;
    else if (args.take("--dtype", &v)) f.dtype = v;
    else if (args.take("--on-error", &v)) f.on_error = v;
    else if (args.take("--batch-size", &v)) f.batch_size = parse_int_option("--batch-size", v);
    else if (args.take("--threads", &v)) f.threads = parse_threads_option("--threads", v);
    else if (args.take("--prefetch", &v)) f.prefetch = parse_int_option("--prefetch", v);
    else if (args.take("--max-image-pixels", &v)) f.max_pixels = parse_pixel_limit(v, "--max-image-pixels");
    else if (args.take("--set", &v)) parse_set(v, f.kwargs);
    else if (args.take_flag("--recursive")) f.recursive = true;
    else if (args.take_flag("--overwrite")) f.overwrite = true;
    else if (args.take_flag("--no-sync")) f.sync = false;
    else if (args.take_flag("--sync")) f.sync = true;
    else if (a.size() > 1 && a[0] == '-') throw UsageError("unknown option '" + a + "'");
    else if (f.yaml.empty()) f.yaml = args.next();
    else throw UsageError("unexpected argument '" + a + "' (one PIPELINE.yaml at most)");
  }
  return f;
}

// The spec from the flags alone (--config front end).
pipelines::PipelineSpec spec_from_flags(const RunFlags& f) {
  if (!f.config) throw UsageError("run needs --config PATH (or a PIPELINE.yaml)");
  pipelines::PipelineSpec spec;
  spec.origin = *f.config;
  auto processor = pipelines::ImageProcessor::from_pretrained(*f.config, f.load);
  for (const auto& w : processor.config().warnings) std::cerr << "warning: " << w << "\n";
  spec.plan = processor.plan(f.kwargs, spec.options);
  return spec;
}

// Applies the command-line flags over a spec (from YAML or from --config).
void apply_flags(const RunFlags& f, pipelines::PipelineSpec& spec) {
  if (f.input) {
    spec.source = pipelines::source_from_argument(*f.input, f.recursive);
    std::error_code ec;
    if (spec.source->kind == pipelines::SourceSpec::Kind::kList && !fs::exists(*f.input, ec))
      throw Error(*f.input + ": no such folder or list file");
  }
  else if (spec.source && f.recursive) spec.source->recursive = true;
  if (f.out || f.format || f.dtype) {
    if (!spec.sink) spec.sink.emplace();
    if (f.out) spec.sink->out_dir = *f.out;
  }
  if (f.format) {
    if (*f.format == "npy") spec.sink->format = pipelines::SinkSpec::Format::kNpy;
    else if (*f.format == "safetensors") spec.sink->format = pipelines::SinkSpec::Format::kSafetensors;
    else throw UsageError("--format expects npy or safetensors, got '" + *f.format + "'");
  }
  if (f.dtype) {
    const auto dtype = pipelines::parse_float_dtype(*f.dtype);
    if (!dtype)
      throw UsageError("--dtype expects " + std::string(pipelines::float_dtype_choices()) + ", got '" + *f.dtype + "'");
    spec.sink->dtype = *dtype;
  }
  if (f.on_error) {
    if (*f.on_error == "fail") spec.on_error = pipelines::OnError::kFail;
    else if (*f.on_error == "skip") spec.on_error = pipelines::OnError::kSkip;
    else throw UsageError("--on-error expects fail or skip, got '" + *f.on_error + "'");
  }
  if (f.batch_size) spec.batch_size = *f.batch_size;
  if (f.threads) spec.options.threads = *f.threads;
  if (f.max_pixels) spec.plan.load.max_pixels = *f.max_pixels;  // 0: no limit
  if (!spec.source) throw UsageError("run needs --input DIR|LIST|GLOB");
  if (!spec.sink || spec.sink->out_dir.empty()) throw UsageError("run needs --out DIR");
  if (spec.batch_size <= 0) throw UsageError("batch size must be a positive integer");
  if (!pipelines::format_holds(spec.sink->format, spec.sink->dtype)) {
    const std::string why = "npy files cannot hold bfloat16 (NumPy has no bfloat16): use safetensors, or float16";
    if (f.format || f.dtype) throw UsageError("--format npy --dtype bfloat16: " + why);
    throw ConfigError(spec.origin.empty() ? "run" : spec.origin, "output: format npy, dtype bfloat16: " + why);
  }
  if (!spec.post_process.empty() && (!spec.plan.image_ops.empty() || !spec.plan.label_ops.empty()))
    throw ConfigError(spec.origin.empty() ? "run" : spec.origin,
                      "has both image ops and `post_process`: pixelflow run cannot run the model between "
                      "them; run the preprocessing and the post-processing as two pipelines");
  if (spec.plan.video)
    throw ConfigError(spec.origin.empty() ? "run" : spec.origin,
                      "video pipelines cannot be run over a dataset (each input of pixelflow run is one image)");
}

// The inputs of a run, never in its output folder. A post-processing run reads .npy logits
// files: from a folder, only those.
std::vector<std::string> run_inputs(const pipelines::PipelineSpec& spec) {
  std::vector<std::string> inputs = pipelines::list_inputs(*spec.source, spec.sink->out_dir);
  if (spec.post_process.empty() || spec.source->kind != pipelines::SourceSpec::Kind::kFolder) return inputs;
  std::erase_if(inputs, [](const std::string& p) { return lower_extension(p) != ".npy"; });
  if (inputs.empty())
    throw Error(spec.source->path + ": no .npy files (a post_process pipeline reads model outputs, one logits .npy per image)");
  return inputs;
}

// The shared part of every run: takes the batches from `next` (DataLoader or PostProcessLoader),
// commits them through `writer` with their manifest lines, keeps the progress line, and prints
// the summary. Returns the exit status.
template <class NextBatch>
int write_batches(NextBatch&& next, pipelines::DatasetWriter& writer, int64_t total, int64_t batch_size,
                  int64_t start_batch, const std::string& out) {
  const auto start = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  Progress progress(total, std::min(total, start_batch * batch_size));
  int64_t ok = 0, skipped = 0, written = 0;
  while (true) {
    std::optional<pipelines::Batch> batch;
    try {
      batch = next();
    } catch (const std::exception& e) {
      progress.finish();
      std::cerr << "pixelflow: " << one_line(e.what()) << "\n";
      return 1;
    }
    if (!batch) break;
    const std::string shard = writer.shard_name(batch->index);
    std::vector<pipelines::ManifestEntry> entries(static_cast<size_t>(batch->size()));
    for (int64_t i = 0; i < batch->size(); ++i) entries[static_cast<size_t>(i)].input = batch->inputs[static_cast<size_t>(i)];
    for (size_t row = 0; row < batch->kept.size(); ++row) {
      auto& e = entries[static_cast<size_t>(batch->kept[row])];
      e.shard = shard;
      e.index = static_cast<int64_t>(row);
    }
    for (const auto& f : batch->failed) {
      auto& e = entries[static_cast<size_t>(f.index)];
      e.ok = false;
      e.error = one_line(f.message);
    }
    writer.write_batch(batch->index, batch->features, entries);
    ok += static_cast<int64_t>(batch->kept.size());
    skipped += static_cast<int64_t>(batch->failed.size());
    ++written;
    progress.update(std::min(total, (batch->index + 1) * batch_size), seconds());
  }
  progress.finish();
  const double secs = seconds();
  nlohmann::ordered_json summary = {
      {"inputs", total},
      {"ok", ok},
      {"skipped", skipped},
      {"resumed_batches", start_batch},
      {"batches", written},
      {"seconds", std::round(secs * 1000) / 1000},
      {"images_per_s", secs > 0 ? std::round((ok + skipped) / secs * 10) / 10 : 0.0},
      {"out", out},
  };
  std::cout << summary.dump() << std::endl;
  if (skipped > 0)
    std::cerr << "pixelflow: " << skipped << " inputs skipped (see " << (fs::path(out) / "manifest.jsonl").string()
              << ")\n";
  return 0;
}

int run_spec(const pipelines::PipelineSpec& spec, const RunFlags& flags) {
  const std::vector<std::string> inputs = run_inputs(spec);
  const int64_t total = static_cast<int64_t>(inputs.size());
  const std::string& out = spec.sink->out_dir;
  pipelines::DatasetWriterOptions wo;
  wo.overwrite = flags.overwrite;
  wo.sync = flags.sync;
  if (spec.plan.batching == Batching::kPatches) wo.concatenated_keys = {spec.plan.image_key};
  pipelines::DatasetWriter writer(
      out, spec.sink->format,
      pipelines::make_run_key(plan_identity(spec), inputs, spec.batch_size, spec.sink->format, spec.sink->dtype), wo);
  const int64_t batches = (total + spec.batch_size - 1) / spec.batch_size;
  const int64_t start_batch = std::min(writer.completed_batches(), batches);

  if (!spec.post_process.empty()) {
    pipelines::PostProcessLoaderOptions po;
    po.batch_size = spec.batch_size;
    po.threads = spec.options.threads;
    po.max_in_flight = spec.options.max_in_flight;
    po.on_error = spec.on_error;
    po.start_batch = start_batch;
    pipelines::PostProcessLoader loader(spec.post_process, inputs, po);
    return write_batches([&] { return loader.next(); }, writer, total, spec.batch_size, start_batch, out);
  }

  pipelines::DataLoaderOptions lo;
  lo.batch_size = spec.batch_size;
  lo.prefetch = flags.prefetch;
  lo.threads = spec.options.threads;
  lo.on_error = spec.on_error;
  lo.start_batch = start_batch;
  lo.float_dtype = spec.sink->dtype;  // converted by the loader, ahead of the writer
  pipelines::PreparedCall call(spec.plan, spec.options);
  for (const auto& w : call.plan().warnings) std::cerr << "warning: " << w << "\n";
  pipelines::DataLoader loader(call, inputs, lo);
  return write_batches([&] { return loader.next(); }, writer, total, spec.batch_size, start_batch, out);
}

}  // namespace

int cmd_run(Args& args) {
  bool help = false;
  RunFlags flags = parse_flags(args, &help);
  if (help) {
    std::cout << kRunHelp << "\n  --revision REV          the revision of a model id given as --config (default: main)\n\n" << kHubOptionsHelp;
    return 0;
  }
  // --config PIPELINE.yaml is PIPELINE.yaml.
  if (flags.yaml.empty() && flags.config && is_yaml_file(*flags.config)) {
    flags.yaml = *flags.config;
    flags.config.reset();
  }
  pipelines::PipelineSpec spec;
  if (!flags.yaml.empty()) {
    if (flags.config) throw UsageError("give either PIPELINE.yaml or --config, not both");
    refuse_set_for_yaml(flags.kwargs, flags.yaml);
    spec = pipelines::load_pipeline_yaml(flags.yaml);
  } else {
    spec = spec_from_flags(flags);
  }
  apply_flags(flags, spec);
  return run_spec(spec, flags);
}

}  // namespace pixelflow::cli
