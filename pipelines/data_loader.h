// DataLoader: batches of a prepared call over a list of inputs, computed ahead in the
// background, for training loops and whole-dataset runs (`pixelflow run`).
//
//   auto proc = ImageProcessor::from_pretrained("openai/clip-vit-base-patch32");
//   DataLoaderOptions o;
//   o.batch_size = 64; o.shuffle = true; o.seed = 1; o.epochs = 3; o.on_error = OnError::kSkip;
//   DataLoader loader(proc.prepare(), list_inputs(source), o);
//   while (auto batch = loader.next()) {
//     const Tensor& x = batch->features["pixel_values"];  // (ok rows, 3, 224, 224)
//     ...batch->epoch, batch->index, batch->inputs, batch->failed...
//   }                                                     // or: for (const Batch& b : loader)
//
// Order. Epoch e visits the inputs in the order epoch_order(e): the input order, or with
// `shuffle` a permutation drawn from std::mt19937_64 seeded with seed + e by the Fisher-Yates
// loop `for i = n-1 .. 1: j = rng() % (i + 1); swap(p[i], p[j])` (the same on every platform and
// on every rank). Sharding follows torch's DistributedSampler: the order is padded by wrapping
// around to a multiple of world_size (drop_last: truncated to one instead), and rank r takes
// positions r, r + world_size, r + 2 * world_size, ... so that ranks get disjoint subsets of
// equal size (padding aside). Batches are consecutive runs of batch_size of the rank's order;
// the last one is shorter unless drop_last drops it. Outputs do not depend on the number of
// threads.
//
// Work and memory. One producer thread prepares the batches in order, each with the call's
// flow graph on a oneTBB arena of `threads` workers, and blocks while `prefetch` batches wait
// for the consumer: at most prefetch + the batches the consumer holds are alive. Output tensors
// come from the pipeline's BufferPool and go back to it when the consumer drops a Batch, so a
// long run reuses the same memory. Destroying the loader stops the producer (after the batch
// it is computing, if any).
//
// Errors. on_error=fail: the first failing input ends the loader; next() delivers the batches
// before it, then throws its Error ("PATH: reason"). on_error=skip: failed inputs are left out of
// their batch and listed in Batch::failed.
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graph/batch_feature.h"
#include "graph/pipeline.h"
#include "ops/load_input/load_input.h"
#include "pipelines/image_processor.h"
#include "pipelines/pipeline_spec.h"

namespace pixelflow::pipelines {

struct DataLoaderOptions {
  int64_t batch_size = 32;
  int prefetch = 2;         // batches computed ahead of the consumer (>= 1)
  bool shuffle = false;
  uint64_t seed = 0;        // shuffle: epoch e uses std::mt19937_64(seed + e)
  int rank = 0;             // shard: this process's rank in [0, world_size)
  int world_size = 1;
  bool drop_last = false;   // truncate the shards to equal size and drop a short last batch
  int epochs = 1;
  int threads = 0;          // oneTBB workers per batch; 0: the call's own setting
  OnError on_error = OnError::kFail;
  int64_t start_batch = 0;  // epoch 0 starts at this batch (resume); earlier ones are not computed
  // kFloat16 / kBFloat16: every float32 tensor of a batch is converted to it by the producer
  // (cast_float32 in pipelines/dataset/float_dtype.h, on the batch's threads) before next()
  // hands the batch out; kFloat32: left as computed.
  DType float_dtype = DType::kFloat32;
};

struct Batch {
  int64_t epoch = 0;
  int64_t index = 0;                 // batch number within the epoch
  std::vector<std::string> inputs;   // the batch's inputs, in order, failed ones included
  std::vector<int64_t> positions;    // each input's position in DataLoader::inputs()
  BatchFeature features;             // one row per input that succeeded, in order (may be empty)
  std::vector<int64_t> kept;         // row j of `features` is inputs[kept[j]]
  std::vector<InputFailure> failed;  // on_error=skip; InputFailure::index is a position in `inputs`
  int64_t size() const { return static_cast<int64_t>(inputs.size()); }
};

class DataLoader {
 public:
  DataLoader(const PreparedCall& call, std::vector<ops::InputItem> inputs, DataLoaderOptions opts = {});
  DataLoader(const PreparedCall& call, const std::vector<std::string>& files, DataLoaderOptions opts = {});
  DataLoader(const PreparedCall& call, const SourceSpec& source, DataLoaderOptions opts = {});
  DataLoader(const ImageProcessor& processor, const nlohmann::json& call_kwargs,
             const std::vector<std::string>& files, DataLoaderOptions opts = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The next batch (blocking until it is ready), nullopt after the last one. on_error=fail:
  // throws the failing input's Error once the batches before it have been delivered.
  std::optional<Batch> next();

  const std::vector<ops::InputItem>& inputs() const { return inputs_; }
  const DataLoaderOptions& options() const { return opts_; }
  // This rank's inputs per epoch (padding included) and batches per epoch.
  int64_t samples_per_epoch() const { return per_rank_; }
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // Positions in inputs() that this rank visits in epoch `epoch`, in order.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Batches the producer has finished so far (for tests and progress reports).
  int64_t batches_prepared() const;

  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;
    Iterator() = default;
    explicit Iterator(DataLoader* loader) : loader_(loader) { ++*this; }
    reference operator*() const { return *batch_; }
    pointer operator->() const { return &*batch_; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return loader_ == o.loader_; }
    bool operator!=(const Iterator& o) const { return loader_ != o.loader_; }

   private:
    DataLoader* loader_ = nullptr;
    std::optional<Batch> batch_;
  };
  // One pass over the remaining batches (the loader is consumed as it goes).
  Iterator begin() { return Iterator(this); }
  Iterator end() { return Iterator(); }

 private:
  struct Shared;
  void start();
  void produce();

  PreparedCall call_;
  std::vector<ops::InputItem> inputs_;
  DataLoaderOptions opts_;
  int64_t per_rank_ = 0, batches_per_epoch_ = 0;
  std::shared_ptr<Shared> shared_;
};

}  // namespace pixelflow::pipelines
