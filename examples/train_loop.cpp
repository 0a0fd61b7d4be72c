// train_loop: a training-style loop fed by pixelflow's DataLoader.
//
//   train_loop CONFIG INPUT [--epochs N] [--batch-size N] [--threads N] [--prefetch N]
//              [--seed N] [--skip]
//
// CONFIG: a model id or preprocessor_config.json folder/file; INPUT: a folder, a glob pattern
// or a list file. Each process takes its shard of every (shuffled) epoch from the RANK and
// WORLD_SIZE environment variables, as torchrun sets them. The "training step" only reads the
// batch (a mean over pixel_values) so that the loop measures the loader; prints one line per
// epoch with images/s.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "pipelines/data_loader.h"
#include "pipelines/input_source.h"

using namespace pixelflow;
using namespace pixelflow::pipelines;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Stand-in for a forward/backward pass: reads every value of the batch.
double train_step(const Tensor& x) {
  const float* p = x.data<float>();
  double sum = 0;
  for (int64_t i = 0; i < x.numel(); ++i) sum += p[i];
  return x.numel() ? sum / static_cast<double>(x.numel()) : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: train_loop CONFIG INPUT [--epochs N] [--batch-size N] [--threads N] [--prefetch N] "
                 "[--seed N] [--skip]\n";
    return 2;
  }
  try {
    DataLoaderOptions opts;
    opts.epochs = 2;
    opts.shuffle = true;
    opts.drop_last = true;  // equal batch counts on every rank
    opts.rank = env_int("RANK", 0);
    opts.world_size = env_int("WORLD_SIZE", 1);
    for (int i = 3; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> long long {
        if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
        return std::stoll(argv[++i]);
      };
      if (a == "--epochs") opts.epochs = static_cast<int>(value());
      else if (a == "--batch-size") opts.batch_size = value();
      else if (a == "--threads") opts.threads = static_cast<int>(value());
      else if (a == "--prefetch") opts.prefetch = static_cast<int>(value());
      else if (a == "--seed") opts.seed = static_cast<uint64_t>(value());
      else if (a == "--skip") opts.on_error = OnError::kSkip;
      else throw std::runtime_error("unknown option " + a);
    }
    const auto processor = ImageProcessor::from_pretrained(argv[1]);
    DataLoader loader(processor.prepare(), source_from_argument(argv[2]), opts);
    std::printf("rank %d/%d: %lld inputs, %lld per epoch on this rank, %lld batches of %lld\n", opts.rank,
                opts.world_size, static_cast<long long>(loader.inputs().size()),
                static_cast<long long>(loader.samples_per_epoch()), static_cast<long long>(loader.batches_per_epoch()),
                static_cast<long long>(opts.batch_size));

    using Clock = std::chrono::steady_clock;
    int64_t epoch = -1, images = 0, skipped = 0;
    double loss = 0;
    // An epoch's time runs from the end of the previous one (the loader's start for the first)
    // to the end of its last training step.
    Clock::time_point start = Clock::now(), last_done = start;
    auto report = [&] {
      const double s = std::chrono::duration<double>(last_done - start).count();
      std::printf("epoch %lld: %lld images in %.2f s, %.1f images/s, %lld skipped, mean %.4f\n",
                  static_cast<long long>(epoch), static_cast<long long>(images), s, images / s,
                  static_cast<long long>(skipped), loss);
      std::fflush(stdout);
    };
    for (const Batch& batch : loader) {
      if (batch.epoch != epoch) {
        if (epoch >= 0) report();
        epoch = batch.epoch;
        images = skipped = 0;
        start = last_done;
      }
      if (batch.features.contains("pixel_values")) loss = train_step(batch.features["pixel_values"]);
      images += static_cast<int64_t>(batch.kept.size());
      skipped += static_cast<int64_t>(batch.failed.size());
      last_done = Clock::now();
    }
    if (epoch >= 0) report();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "train_loop: " << e.what() << "\n";
    return 1;
  }
}
