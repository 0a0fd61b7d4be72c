#include "pipelines/data_loader.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "base/errors.h"
#include "pipelines/dataset/float_dtype.h"
#include "pipelines/input_source.h"

namespace pixelflow::pipelines {

namespace {

// The call with the loader's thread count and error policy (rebuilt only when they differ).
PreparedCall adapt_call(const PreparedCall& call, const DataLoaderOptions& o) {
  CallOptions opts = call.options();
  const bool skip = o.on_error == OnError::kSkip;
  if ((o.threads <= 0 || o.threads == opts.threads) && opts.skip_failed == skip) return call;
  if (o.threads > 0) opts.threads = o.threads;
  opts.skip_failed = skip;
  return PreparedCall(call.plan(), opts);
}

std::vector<ops::InputItem> file_items(const std::vector<std::string>& files) {
  std::vector<ops::InputItem> items;
  items.reserve(files.size());
  for (const auto& f : files) items.push_back(ops::InputItem::file(f));
  return items;
}

}  // namespace

struct DataLoader::Shared {
  std::mutex mu;
  std::condition_variable cv;  // producer: room in the queue or stop; consumer: a batch or the end
  BufferPool converted{size_t(1) << 28};  // DataLoaderOptions::float_dtype's tensors
  struct Item {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  std::deque<Item> ready;
  bool stop = false;      // consumer gone
  bool finished = false;  // producer done (after its last item)
  int64_t prepared = 0;
  std::thread producer;
};

DataLoader::DataLoader(const PreparedCall& call, std::vector<ops::InputItem> inputs, DataLoaderOptions opts)
    : call_(adapt_call(call, opts)), inputs_(std::move(inputs)), opts_(opts) {
  if (opts_.batch_size <= 0) throw Error("DataLoader: batch_size must be > 0, got " + std::to_string(opts_.batch_size));
  if (opts_.prefetch <= 0) throw Error("DataLoader: prefetch must be > 0, got " + std::to_string(opts_.prefetch));
  if (opts_.epochs < 0) throw Error("DataLoader: epochs must be >= 0, got " + std::to_string(opts_.epochs));
  if (opts_.world_size <= 0 || opts_.rank < 0 || opts_.rank >= opts_.world_size)
    throw Error("DataLoader: rank must be in [0, world_size), got rank " + std::to_string(opts_.rank) +
                " of world_size " + std::to_string(opts_.world_size));
  if (inputs_.empty()) throw Error("DataLoader: no inputs");
  if (opts_.start_batch < 0) throw Error("DataLoader: start_batch must be >= 0");
  const int64_t n = static_cast<int64_t>(inputs_.size()), w = opts_.world_size;
  per_rank_ = opts_.drop_last ? n / w : (n + w - 1) / w;
  batches_per_epoch_ =
      opts_.drop_last ? per_rank_ / opts_.batch_size : (per_rank_ + opts_.batch_size - 1) / opts_.batch_size;
  start();
}

DataLoader::DataLoader(const PreparedCall& call, const std::vector<std::string>& files, DataLoaderOptions opts)
    : DataLoader(call, file_items(files), opts) {}

DataLoader::DataLoader(const PreparedCall& call, const SourceSpec& source, DataLoaderOptions opts)
    : DataLoader(call, list_inputs(source), opts) {}

DataLoader::DataLoader(const ImageProcessor& processor, const nlohmann::json& call_kwargs,
                       const std::vector<std::string>& files, DataLoaderOptions opts)
    : DataLoader(processor.prepare(call_kwargs), files, opts) {}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stop = true;
  }
  shared_->cv.notify_all();
  if (shared_->producer.joinable()) shared_->producer.join();
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  const int64_t n = static_cast<int64_t>(inputs_.size()), w = opts_.world_size;
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  if (opts_.shuffle) {
    std::mt19937_64 rng(opts_.seed + static_cast<uint64_t>(epoch));
    for (int64_t i = n - 1; i > 0; --i) {
      const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
      std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
    }
  }
  // Rank r takes positions r, r + w, ... of the order padded by wrapping (or truncated).
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(per_rank_));
  for (int64_t k = 0; k < per_rank_; ++k) mine.push_back(order[static_cast<size_t>((opts_.rank + k * w) % n)]);
  return mine;
}

int64_t DataLoader::batches_prepared() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->prepared;
}

void DataLoader::start() {
  shared_ = std::make_shared<Shared>();
  shared_->producer = std::thread([this] { produce(); });
}

void DataLoader::produce() {
  Shared& sh = *shared_;
  auto push = [&](Shared::Item item) {
    {
      std::lock_guard<std::mutex> lock(sh.mu);
      if (item.batch) ++sh.prepared;
      sh.ready.push_back(std::move(item));
    }
    sh.cv.notify_all();
  };
  std::exception_ptr error;
  try {
    bool stopped = false;
    for (int64_t epoch = 0; epoch < opts_.epochs && !stopped; ++epoch) {
      const std::vector<int64_t> order = epoch_order(epoch);
      for (int64_t b = epoch == 0 ? opts_.start_batch : 0; b < batches_per_epoch_; ++b) {
        {
          std::unique_lock<std::mutex> lock(sh.mu);
          sh.cv.wait(lock, [&] { return sh.stop || static_cast<int64_t>(sh.ready.size()) < opts_.prefetch; });
          if (sh.stop) {
            stopped = true;
            break;
          }
        }
        Batch batch;
        batch.epoch = epoch;
        batch.index = b;
        const int64_t first = b * opts_.batch_size;
        const int64_t last = std::min(per_rank_, first + opts_.batch_size);
        std::vector<ops::InputItem> items;
        items.reserve(static_cast<size_t>(last - first));
        for (int64_t k = first; k < last; ++k) {
          const int64_t pos = order[static_cast<size_t>(k)];
          const ops::InputItem& item = inputs_[static_cast<size_t>(pos)];
          items.push_back(item);
          batch.inputs.push_back(item.display_name());
          batch.positions.push_back(pos);
        }
        RunReport report;
        batch.features = call_.run(std::move(items), &report);
        if (opts_.float_dtype != DType::kFloat32)
          batch.features = cast_float32(batch.features, opts_.float_dtype, call_.options().threads, &sh.converted);
        batch.kept = std::move(report.kept);
        batch.failed = std::move(report.failed);
        push({std::move(batch), nullptr});
      }
    }
  } catch (...) {
    error = std::current_exception();
  }
  // Handed over outside the catch block, so that the producer holds no reference to the
  // exception once the consumer has it (the consumer frees it; no cross-thread release).
  if (error) push({std::nullopt, std::move(error)});
  {
    std::lock_guard<std::mutex> lock(sh.mu);
    sh.finished = true;
  }
  sh.cv.notify_all();
}

std::optional<Batch> DataLoader::next() {
  Shared& sh = *shared_;
  Shared::Item item;
  {
    std::unique_lock<std::mutex> lock(sh.mu);
    sh.cv.wait(lock, [&] { return !sh.ready.empty() || sh.finished; });
    if (sh.ready.empty()) return std::nullopt;
    item = std::move(sh.ready.front());
    sh.ready.pop_front();
  }
  sh.cv.notify_all();
  if (item.error) std::rethrow_exception(item.error);
  return std::move(item.batch);
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  batch_.reset();  // release the previous batch's buffers before the next one is taken
  batch_ = loader_->next();
  if (!batch_) loader_ = nullptr;
  return *this;
}

}  // namespace pixelflow::pipelines
