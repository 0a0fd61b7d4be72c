// The C++ loader API: input sources (folder, glob, list file) and the DataLoader (batches equal
// one call over the same inputs, thread-count independence, shuffle, shards, drop_last, epochs,
// on_error=skip/fail with damaged files, bounded prefetch, buffer reuse, shutdown mid-epoch).
#include <catch2/catch.hpp>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PIXELFLOW_TEST_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PIXELFLOW_TEST_UNDER_SANITIZER 1
#endif
#endif
#ifndef PIXELFLOW_TEST_UNDER_SANITIZER
#define PIXELFLOW_TEST_UNDER_SANITIZER 0
#endif

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <thread>

#include "base/errors.h"
#include "pipelines/data_loader.h"
#include "pipelines/input_source.h"
#include "tests/common/temp_dir.h"

using namespace pixelflow;
using namespace pixelflow::test;
using namespace pixelflow::pipelines;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// Real images of several formats, modes and sizes (the bundled samples and test fixtures).
std::vector<std::string> real_images() {
  const std::string src = PIXELFLOW_SOURCE_DIR, data = PIXELFLOW_TEST_DATA_DIR;
  return {src + "/pipelines/samples/happy_fish.jpg",          src + "/pipelines/samples/grace_hopper.jpg",
          src + "/pipelines/samples/microaneurysms.png",      data + "/golden/images/opencv_scenetext_word01.jpg",
          data + "/golden/images/jpegdec_jpg-cmyk-2.jpg",      data + "/golden/images/mpl_Minduka_Present_Blue_Pack.png",
          data + "/decode/jpeg_rgb_420.jpg",                  data + "/golden/images/opencv_scenetext_char01.jpg"};
}

// `n` inputs cycling through the real images.
std::vector<std::string> cycle(size_t n) {
  auto imgs = real_images();
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) v.push_back(imgs[i % imgs.size()]);
  return v;
}

// CLIP's chain at 32 x 32 (fast on small images).
PreparedCall small_clip(int threads = 1) {
  static const ImageProcessor proc =
      ImageProcessor::from_pretrained(std::string(PIXELFLOW_SOURCE_DIR) + "/pipelines/models/openai__clip-vit-base-patch32");
  CallOptions opts;
  opts.threads = threads;
  return proc.prepare({{"size", {{"shortest_edge", 32}}}, {"crop_size", {{"height", 32}, {"width", 32}}}}, opts);
}

DataLoaderOptions options(int64_t batch_size) {
  DataLoaderOptions o;
  o.batch_size = batch_size;
  return o;
}

std::vector<Batch> drain(DataLoader& loader) {
  std::vector<Batch> all;
  while (auto b = loader.next()) all.push_back(std::move(*b));
  return all;
}

int64_t rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return 0;
}

}  // namespace

// -------------------------------------------------------------------------------------------
// Input sources

TEST_CASE("folder source: image files sorted by name, hidden and other files skipped, recursive on request",
          "[loader][source]") {
  TempDir d("pixelflow_loader_");
  d.file("b.jpg", "x");
  d.file("a.PNG", "x");
  d.file("c.npy", "x");
  d.file(".hidden.jpg", "x");
  d.file("notes.txt", "x");
  d.file("sub/d.webp", "x");
  d.file(".git/e.jpg", "x");
  fs::create_directories(d.path / "empty.jpg.d");
  SourceSpec s{SourceSpec::Kind::kFolder, d.path.string()};
  const std::string p = d.path.string() + "/";
  REQUIRE(list_inputs(s) == std::vector<std::string>{p + "a.PNG", p + "b.jpg", p + "c.npy"});
  s.recursive = true;
  REQUIRE(list_inputs(s) == std::vector<std::string>{p + "a.PNG", p + "b.jpg", p + "c.npy", p + "sub/d.webp"});

  REQUIRE_THROWS_WITH(list_inputs({SourceSpec::Kind::kFolder, p + "nope"}), Catch::Equals(p + "nope: folder not found"));
  fs::create_directories(d.path / "none");
  d.file("none/readme.md", "x");
  REQUIRE_THROWS_WITH(list_inputs({SourceSpec::Kind::kFolder, p + "none"}), Catch::Contains(p + "none: no image"));
}

TEST_CASE("glob source: *, ?, [...] within a component, ** for any depth, sorted", "[loader][source]") {
  TempDir d("pixelflow_loader_");
  for (const char* f : {"a1.jpg", "a2.jpg", "b1.jpg", "a1.png", ".a3.jpg", "x/a4.jpg", "x/y/a5.jpg", "x/y/z.png",
                        ".h/a6.jpg"})
    d.file(f, "x");
  const std::string p = d.path.string() + "/";
  auto glob = [&](const std::string& pat) { return list_inputs({SourceSpec::Kind::kGlob, p + pat}); };
  REQUIRE(glob("*.jpg") == std::vector<std::string>{p + "a1.jpg", p + "a2.jpg", p + "b1.jpg"});
  REQUIRE(glob("a?.*") == std::vector<std::string>{p + "a1.jpg", p + "a1.png", p + "a2.jpg"});
  REQUIRE(glob("[ab]1.jpg") == std::vector<std::string>{p + "a1.jpg", p + "b1.jpg"});
  REQUIRE(glob("[!a]*") == std::vector<std::string>{p + "b1.jpg"});
  REQUIRE(glob("**/a*.jpg") ==
          std::vector<std::string>{p + "a1.jpg", p + "a2.jpg", p + "x/a4.jpg", p + "x/y/a5.jpg"});
  REQUIRE(glob("x/**/*.png") == std::vector<std::string>{p + "x/y/z.png"});
  REQUIRE(glob("*/*/*") == std::vector<std::string>{p + "x/y/a5.jpg", p + "x/y/z.png"});
  REQUIRE(glob(".a3.jpg") == std::vector<std::string>{p + ".a3.jpg"});  // named explicitly
  REQUIRE_THROWS_WITH(glob("*.gif"), Catch::Equals(p + "*.gif: no files match this pattern"));
  REQUIRE(is_glob_pattern("a/*.jpg"));
  REQUIRE(is_glob_pattern("a/im?.jpg"));
  REQUIRE_FALSE(is_glob_pattern("a/b.jpg"));
}

TEST_CASE("list file: one path per line, relative to the list's folder, comments and blanks ignored, order kept",
          "[loader][source]") {
  TempDir d("pixelflow_loader_");
  std::string list = d.file("lists/inputs.txt", "# header\nz.jpg\n\n  sub/a.jpg  \n/abs/b.png\r\n#c.jpg\nz.jpg\n");
  const std::string base = (d.path / "lists").string() + "/";
  REQUIRE(list_inputs({SourceSpec::Kind::kList, list}) ==
          std::vector<std::string>{base + "z.jpg", base + "sub/a.jpg", "/abs/b.png", base + "z.jpg"});
  REQUIRE_THROWS_WITH(list_inputs({SourceSpec::Kind::kList, base + "missing.txt"}),
                      Catch::Equals(base + "missing.txt: list file not found"));
  std::string image = d.file("cat.jpg", "\xff\xd8");
  REQUIRE_THROWS_WITH(list_inputs({SourceSpec::Kind::kList, image}), Catch::StartsWith(image + ": is an image"));
  std::string empty = d.file("empty.txt", "# nothing\n\n");
  REQUIRE_THROWS_WITH(list_inputs({SourceSpec::Kind::kList, empty}), Catch::Equals(empty + ": list file names no input"));
}

// -------------------------------------------------------------------------------------------
// DataLoader

TEST_CASE("DataLoader batches are one call's rows, in order, with 1 or 2 threads byte-identical", "[loader]") {
  const auto inputs = cycle(19);
  PreparedCall call = small_clip();
  std::vector<ops::InputItem> items;
  for (const auto& f : inputs) items.push_back(ops::InputItem::file(f));
  const BatchFeature ref = call.run(items);
  REQUIRE(ref["pixel_values"].shape() == Shape{19, 3, 32, 32});

  std::vector<std::vector<Batch>> runs;
  for (int threads : {1, 2}) {
    DataLoaderOptions o = options(5);
    o.threads = threads;
    o.prefetch = 2;
    DataLoader loader(call, inputs, o);
    REQUIRE(loader.batches_per_epoch() == 4);
    REQUIRE(loader.samples_per_epoch() == 19);
    runs.push_back(drain(loader));
    const auto& batches = runs.back();
    REQUIRE(batches.size() == 4);
    int64_t row = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      const Batch& batch = batches[b];
      REQUIRE(batch.epoch == 0);
      REQUIRE(batch.index == static_cast<int64_t>(b));
      REQUIRE(batch.size() == (b < 3 ? 5 : 4));
      REQUIRE(batch.failed.empty());
      REQUIRE(batch.features["pixel_values"].dim(0) == batch.size());
      for (int64_t i = 0; i < batch.size(); ++i, ++row) {
        REQUIRE(batch.positions[static_cast<size_t>(i)] == row);
        REQUIRE(batch.inputs[static_cast<size_t>(i)] == inputs[static_cast<size_t>(row)]);
        REQUIRE(batch.kept[static_cast<size_t>(i)] == i);
        REQUIRE(same_bytes(batch.features["pixel_values"][i], ref["pixel_values"][row]));
      }
    }
    REQUIRE(row == 19);
  }
  for (size_t b = 0; b < runs[0].size(); ++b)
    REQUIRE(same_bytes(runs[0][b].features["pixel_values"], runs[1][b].features["pixel_values"]));

  // The iterator form gives the same batches; the processor + kwargs constructor too.
  DataLoader again(call, inputs, options(5));
  int64_t b = 0;
  for (const Batch& batch : again) REQUIRE(same_bytes(batch.features["pixel_values"], runs[0][static_cast<size_t>(b++)].features["pixel_values"]));
  REQUIRE(b == 4);
  const ImageProcessor proc =
      ImageProcessor::from_pretrained(std::string(PIXELFLOW_SOURCE_DIR) + "/pipelines/models/openai__clip-vit-base-patch32");
  DataLoader by_kwargs(proc, {{"size", {{"shortest_edge", 32}}}, {"crop_size", {{"height", 32}, {"width", 32}}}}, inputs,
                       options(19));
  auto one = by_kwargs.next();
  REQUIRE(one);
  REQUIRE(same_bytes(one->features["pixel_values"], ref["pixel_values"]));
  REQUIRE_FALSE(by_kwargs.next());
}

TEST_CASE("shuffle: a deterministic permutation per epoch (mt19937_64 seeded with seed + epoch)", "[loader]") {
  const auto inputs = cycle(23);
  PreparedCall call = small_clip();
  DataLoaderOptions o = options(4);
  o.shuffle = true;
  o.seed = 7;
  o.epochs = 3;
  DataLoader a(call, inputs, o), b(call, inputs, o);
  std::vector<int64_t> identity(23);
  std::iota(identity.begin(), identity.end(), 0);
  std::set<std::vector<int64_t>> distinct;
  for (int64_t e = 0; e < 3; ++e) {
    auto order = a.epoch_order(e);
    REQUIRE(order == b.epoch_order(e));
    distinct.insert(order);
    std::sort(order.begin(), order.end());
    REQUIRE(order == identity);  // a permutation
  }
  REQUIRE(distinct.size() == 3);
  REQUIRE(distinct.count(identity) == 0);
  o.seed = 8;
  DataLoader c(call, inputs, o);
  REQUIRE(c.epoch_order(0) != a.epoch_order(0));
  // The documented generator, spelled out.
  std::mt19937_64 rng(7 + 1);
  std::vector<int64_t> expect = identity;
  for (int64_t i = 22; i > 0; --i) std::swap(expect[static_cast<size_t>(i)], expect[static_cast<size_t>(rng() % (i + 1))]);
  REQUIRE(a.epoch_order(1) == expect);

  // Batches follow the order, epoch after epoch, and their rows are those inputs' outputs.
  std::vector<ops::InputItem> items;
  for (const auto& f : inputs) items.push_back(ops::InputItem::file(f));
  const BatchFeature ref = call.run(items);
  const auto batches = drain(a);
  REQUIRE(batches.size() == 3 * 6);
  for (size_t k = 0; k < batches.size(); ++k) {
    const Batch& batch = batches[k];
    REQUIRE(batch.epoch == static_cast<int64_t>(k / 6));
    REQUIRE(batch.index == static_cast<int64_t>(k % 6));
    const auto order = b.epoch_order(batch.epoch);
    for (int64_t i = 0; i < batch.size(); ++i) {
      const int64_t pos = order[static_cast<size_t>(batch.index * 4 + i)];
      REQUIRE(batch.positions[static_cast<size_t>(i)] == pos);
      REQUIRE(same_bytes(batch.features["pixel_values"][i], ref["pixel_values"][pos]));
    }
  }
}

TEST_CASE("shards: disjoint, equal-sized, covering (padded by wrapping like DistributedSampler)", "[loader]") {
  const auto inputs = cycle(10);
  PreparedCall call = small_clip();
  for (bool shuffle : {false, true}) {
    for (bool drop_last : {false, true}) {
      std::vector<int64_t> all;
      for (int rank = 0; rank < 3; ++rank) {
        DataLoaderOptions o = options(2);
        o.shuffle = shuffle;
        o.seed = 3;
        o.rank = rank;
        o.world_size = 3;
        o.drop_last = drop_last;
        DataLoader loader(call, inputs, o);
        REQUIRE(loader.samples_per_epoch() == (drop_last ? 3 : 4));
        REQUIRE(loader.batches_per_epoch() == (drop_last ? 1 : 2));
        std::vector<int64_t> seen;
        for (const Batch& b : loader) seen.insert(seen.end(), b.positions.begin(), b.positions.end());
        REQUIRE(static_cast<int64_t>(seen.size()) == (drop_last ? 2 : 4));  // drop_last also drops a short batch
        const auto order = loader.epoch_order(0);
        REQUIRE(std::equal(seen.begin(), seen.end(), order.begin()));
        all.insert(all.end(), order.begin(), order.end());
      }
      std::set<int64_t> unique(all.begin(), all.end());
      if (drop_last) {
        REQUIRE(all.size() == 9);
        REQUIRE(unique.size() == 9);  // disjoint
      } else {
        REQUIRE(all.size() == 12);
        REQUIRE(unique.size() == 10);  // every input, two of them twice (the wrap-around padding)
      }
    }
  }
  DataLoaderOptions bad = options(2);
  bad.rank = 3;
  bad.world_size = 3;
  REQUIRE_THROWS_WITH(DataLoader(call, inputs, bad), Catch::Contains("rank must be in [0, world_size)"));
}

TEST_CASE("drop_last, epochs and start_batch", "[loader]") {
  const auto inputs = cycle(10);
  PreparedCall call = small_clip();
  DataLoaderOptions o = options(4);
  o.epochs = 2;
  {
    DataLoader loader(call, inputs, o);
    auto batches = drain(loader);
    REQUIRE(batches.size() == 6);
    REQUIRE(batches[2].size() == 2);
    REQUIRE(batches[3].epoch == 1);
    REQUIRE(batches[3].index == 0);
    REQUIRE(same_bytes(batches[0].features["pixel_values"], batches[3].features["pixel_values"]));
  }
  o.drop_last = true;
  {
    DataLoader loader(call, inputs, o);
    auto batches = drain(loader);
    REQUIRE(batches.size() == 4);
    for (const auto& b : batches) REQUIRE(b.size() == 4);
  }
  o.drop_last = false;
  o.epochs = 1;
  o.start_batch = 2;  // resume: batches 0 and 1 are neither computed nor delivered
  DataLoader resumed(call, inputs, o);
  auto batches = drain(resumed);
  REQUIRE(batches.size() == 1);
  REQUIRE(batches[0].index == 2);
  REQUIRE(batches[0].positions == std::vector<int64_t>{8, 9});
  REQUIRE(resumed.batches_prepared() == 1);
  o.epochs = 0;
  DataLoader none(call, inputs, o);
  REQUIRE_FALSE(none.next());
}

TEST_CASE("on_error: skip leaves damaged files out of their batch and lists them; fail stops at the first", "[loader]") {
  TempDir d("pixelflow_loader_");
  const auto good = real_images();
  std::string fish = read_bytes(good[0]);
  std::vector<std::string> inputs;
  std::vector<bool> bad;
  auto add = [&](const std::string& path, bool is_bad) {
    inputs.push_back(path);
    bad.push_back(is_bad);
  };
  add(d.file("0_truncated.jpg", fish.substr(0, fish.size() / 3)), true);  // first of a batch
  add(d.file("1_ok.jpg", fish), false);
  add(d.file("2_empty.jpg", ""), true);
  add(good[1], false);
  add(d.file("4_text.png", "this is not an image\n"), true);
  add(good[2], false);
  add(good[3], false);
  add(d.file("7_noise.jpg", std::string("\xff\xd8\xff\xe0 garbage", 14)), true);
  add(good[4], false);
  add(d.path.string() + "/9_missing.jpg", true);
  add(d.file("10_ok.png", read_bytes(good[5])), false);
  add(d.file("11_empty.png", ""), true);  // a batch where every input fails: 9, 10, 11 -> 10 ok
  add(d.file("12_bad.npy", "\x93NUMPY garbage"), true);

  PreparedCall call = small_clip();
  std::vector<std::string> good_inputs;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!bad[i]) good_inputs.push_back(inputs[i]);
  std::vector<ops::InputItem> items;
  for (const auto& f : good_inputs) items.push_back(ops::InputItem::file(f));
  const BatchFeature ref = call.run(items);

  for (int threads : {1, 2}) {
    DataLoaderOptions o = options(3);
    o.on_error = OnError::kSkip;
    o.threads = threads;
    DataLoader loader(call, inputs, o);
    int64_t row = 0;
    std::vector<std::string> failed;
    for (const Batch& b : loader) {
      REQUIRE(static_cast<int64_t>(b.kept.size() + b.failed.size()) == b.size());
      const int64_t rows = b.features.contains("pixel_values") ? b.features["pixel_values"].dim(0) : 0;
      REQUIRE(rows == static_cast<int64_t>(b.kept.size()));
      for (size_t j = 0; j < b.kept.size(); ++j) {
        const int64_t pos = b.positions[static_cast<size_t>(b.kept[j])];
        REQUIRE_FALSE(bad[static_cast<size_t>(pos)]);
        REQUIRE(same_bytes(b.features["pixel_values"][static_cast<int64_t>(j)], ref["pixel_values"][row++]));
      }
      for (const auto& f : b.failed) {
        const std::string& name = b.inputs[static_cast<size_t>(f.index)];
        REQUIRE(bad[static_cast<size_t>(b.positions[static_cast<size_t>(f.index)])]);
        REQUIRE(f.message.rfind(name + ": ", 0) == 0);  // one line naming the input
        REQUIRE(f.message.find('\n') == std::string::npos);
        failed.push_back(name);
      }
    }
    REQUIRE(row == static_cast<int64_t>(good_inputs.size()));
    std::vector<std::string> expect_failed;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (bad[i]) expect_failed.push_back(inputs[i]);
    REQUIRE(failed == expect_failed);  // every damaged input, in input order
  }

  // fail: the batches before the failing one arrive, then its error, then the end.
  // Batch 0: three good images; batch 1: 1_ok.jpg, then 2_empty.jpg, the first failure.
  std::vector<std::string> tail{good[2], good[1], good[0]};
  tail.insert(tail.end(), inputs.begin() + 1, inputs.end());
  DataLoader loader(call, tail, options(3));
  auto first = loader.next();
  REQUIRE(first);
  REQUIRE(first->features["pixel_values"].dim(0) == 3);
  REQUIRE_THROWS_WITH(loader.next(), Catch::StartsWith(inputs[2] + ": "));
  REQUIRE_FALSE(loader.next());
}

TEST_CASE("prefetch bounds the batches computed ahead; a dropped loader stops at once", "[loader]") {
  const auto inputs = cycle(64);
  PreparedCall call = small_clip();
  DataLoaderOptions o = options(2);
  o.prefetch = 3;
  DataLoader loader(call, inputs, o);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (loader.batches_prepared() < 3 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(loader.batches_prepared() == 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(loader.batches_prepared() == 3);  // the producer waits for the consumer
  auto b = loader.next();
  REQUIRE(b);
  while (loader.batches_prepared() < 4 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(loader.batches_prepared() == 4);

  // Destroyed mid-epoch (with batches waiting, while one is being computed, or untouched):
  // the producer stops after at most the batch in progress.
  for (int consumed : {0, 1, 5}) {
    auto start = Clock::now();
    {
      DataLoaderOptions big = options(16);
      big.epochs = 100;
      big.threads = 2;
      DataLoader l(call, cycle(256), big);
      for (int k = 0; k < consumed; ++k) REQUIRE(l.next());
    }
    REQUIRE(Clock::now() - start < std::chrono::seconds(10));
  }
}

TEST_CASE("a long loader reuses the pool's buffers: output storage recycled, resident memory flat", "[loader]") {
  static const ImageProcessor proc =
      ImageProcessor::from_pretrained(std::string(PIXELFLOW_SOURCE_DIR) + "/pipelines/models/openai__clip-vit-base-patch32");
  CallOptions copts;
  copts.threads = 2;
  PreparedCall call = proc.prepare({}, copts);  // 224 x 224: 4.8 MB per batch of 8
  DataLoaderOptions o = options(8);
  o.prefetch = 2;
  o.epochs = 5;
  DataLoader loader(call, cycle(64), o);  // 40 batches
  std::set<const void*> storages;
  int64_t n = 0, rss_after_warmup = 0, rss_max = 0;
  for (const Batch& b : loader) {
    REQUIRE(b.features["pixel_values"].shape() == Shape{8, 3, 224, 224});
    storages.insert(b.features["pixel_values"].raw_data());
    if (++n == 6) rss_after_warmup = rss_kb();
    if (n > 6) rss_max = std::max(rss_max, rss_kb());
  }
  REQUIRE(n == 40);
  // Alive at once: at most `prefetch` waiting (the producer computes only when fewer wait) and
  // the one held here; their buffers come back to the pool and are handed out again.
  REQUIRE(storages.size() <= 4);
#if !PIXELFLOW_TEST_UNDER_SANITIZER  // ASan's quarantine keeps freed memory resident
  REQUIRE(rss_max - rss_after_warmup < 16 * 1024);  // kB; keeping every batch would add ~160 MB
#endif
}
