#include "graph/pipeline.h"

#include <algorithm>

#include <tbb/flow_graph.h>
#include <tbb/info.h>
#include <tbb/task_arena.h>

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <new>

#include "base/errors.h"
#include "graph/halide_runtime.h"

namespace pixelflow {

std::string describe_error(const std::exception_ptr& e, const std::string& source) {
  std::string msg;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    msg = ex.what();
  } catch (...) {
    msg = "unknown error";
  }
  return with_source(source, msg);
}

namespace {

using SamplePtr = std::shared_ptr<Sample>;

// One oneTBB arena per thread count, created on first use and kept for the process: oneTBB
// 2021.8 keeps about 7 KB for every arena with workers that is created and destroyed, so an arena
// per call grew the resident set without bound (10,000 calls: +70 MB). Calls from several threads
// with the same setting share the arena's workers. In a child process after fork() the parent's
// arenas (whose workers did not survive) are forgotten, never touched, and new ones are made.
struct ArenaCache {
  std::mutex mu;
  std::map<int, tbb::task_arena*> arenas;  // never destroyed (no teardown order at exit)
};
ArenaCache*& arena_cache() {
  static ArenaCache* cache = [] {
    pthread_atfork(nullptr, nullptr, [] { arena_cache() = new ArenaCache; });
    return new ArenaCache;
  }();
  return cache;
}
tbb::task_arena& shared_arena(int threads) {
  ArenaCache* cache = arena_cache();
  std::lock_guard<std::mutex> lock(cache->mu);
  tbb::task_arena*& a = cache->arenas[threads];
  if (!a) a = new tbb::task_arena(threads);
  return *a;
}

// Rethrows an input's failure with the input named in front of its message (Error::add_source),
// keeping its type (DecodeError, InputError, ConfigError, KernelError, ...), so that callers
// (the Python package) can tell them apart. Other exceptions become an Error naming the input.
[[noreturn]] void throw_with_source(const std::exception_ptr& e, const std::string& source) {
  try {
    std::rethrow_exception(e);
  } catch (Error& err) {
    err.add_source(source);
    throw;
  } catch (...) {
    throw Error(describe_error(e, source));
  }
}

// Out of memory is no input's fault and no reason to try the next input: it ends the call.
bool is_out_of_memory(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const OutOfMemoryError&) {
    return true;
  } catch (const std::bad_alloc&) {
    return true;
  } catch (...) {
    return false;
  }
}

// The one-line message of an out-of-memory failure while processing `source`.
std::string describe_out_of_memory(const std::exception_ptr& e, const std::string& source) {
  try {
    std::rethrow_exception(e);
  } catch (const OutOfMemoryError&) {
    return describe_error(e, source);
  } catch (...) {
    return (source.empty() ? std::string() : source + ": ") + "out of memory while processing this input";
  }
}

// Collects final outputs into stacked batch tensors (or per-image lists). The first final
// output of each target fixes the batch's shape; ops then write straight into their slot.
class BatchAssembler final : public OutputAllocator {
 public:
  // ordered: sample i goes to row i. Otherwise rows are handed out in the order samples first
  // ask for their output (completion order), and row_inputs() says which input each row holds.
  BatchAssembler(int64_t n, const OutputOptions& out, bool ordered, BufferPool* pool)
      : n_(n), stacked_(out.stacked), ordered_(ordered), pool_(pool), row_of_(ordered ? 0 : static_cast<size_t>(n), -1) {
    slots_[static_cast<int>(Target::kImage)].key = out.image_key;
    slots_[static_cast<int>(Target::kLabels)].key = out.labels_key;
    for (auto& s : slots_) s.list.resize(static_cast<size_t>(n));
  }

  // Set when a stacked batch output could not be allocated: the call's error, no input's.
  std::string allocation_error() const {
    for (const Slot& slot : slots_) {
      std::lock_guard<std::mutex> lock(slot.mu);
      if (!slot.allocation_error.empty()) return slot.allocation_error;
    }
    return {};
  }

  int64_t row(int64_t index) {
    if (ordered_) return index;
    std::lock_guard<std::mutex> lock(row_mu_);
    int64_t& r = row_of_[static_cast<size_t>(index)];
    if (r < 0) r = next_row_++;
    return r;
  }

  // The rows of the inputs in `indices`, ascending, each with its input index.
  std::vector<std::pair<int64_t, int64_t>> rows_of(const std::vector<int64_t>& indices) {
    std::vector<std::pair<int64_t, int64_t>> rows;
    for (int64_t i : indices) rows.emplace_back(row(i), i);
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  Tensor output(int64_t index, Target target, DType dtype, const Shape& shape) override {
    if (!stacked_) return Tensor::empty(dtype, shape, pool_);
    Slot& slot = slots_[static_cast<int>(target)];
    std::lock_guard<std::mutex> lock(slot.mu);
    if (!slot.batch.defined()) allocate(slot, {dtype, shape});
    if (slot.spec == TensorSpec{dtype, shape}) return slot.batch[row(index)];
    return Tensor::empty(dtype, shape, pool_);
  }

  // Called by the serial sink (in input order when ordered).
  void accept(int64_t index, Target target, const Tensor& t, const std::string& source) {
    Slot& slot = slots_[static_cast<int>(target)];
    if (!stacked_) {
      slot.list[static_cast<size_t>(row(index))] = t;
      return;
    }
    std::lock_guard<std::mutex> lock(slot.mu);
    TensorSpec spec{t.dtype(), t.shape()};
    if (!slot.batch.defined()) allocate(slot, spec);
    // The batch's shape is the first accepted row's (in input order when ordered), so that the
    // error names the same input whichever sample happened to shape the buffer first.
    if (!slot.first) slot.first = spec;
    const auto describe = [&](const std::string& who, const TensorSpec& got, const TensorSpec& batch) {
      return who + ": output of shape " + shape_str(got.shape) + " " + dtype_name(got.dtype) +
             " cannot be stacked with the batch's " + shape_str(batch.shape) + " " + dtype_name(batch.dtype) +
             " (images of different sizes need --unbatched, like return_tensors=None)";
    };
    if (!(spec == *slot.first)) {
      if (slot.mismatch.empty()) slot.mismatch = describe(source, spec, *slot.first);
      return;
    }
    if (!(spec == slot.spec)) {
      // The buffer was shaped by a later input that does not match the first: its own accept()
      // reports it; this message stands in should that input fail before it is accepted.
      if (slot.pending_mismatch.empty()) slot.pending_mismatch = describe(source, spec, slot.spec);
      return;
    }
    Tensor dst = slot.batch[row(index)];
    if (dst.raw_data() != t.raw_data()) std::memcpy(dst.raw_data(), t.raw_data(), t.nbytes());
    slot.used = true;
  }

  const std::string& mismatch(Target target) const {
    const Slot& slot = slots_[static_cast<int>(target)];
    return slot.mismatch.empty() ? slot.pending_mismatch : slot.mismatch;
  }

  // Keeps only the rows listed in `kept` (ascending), moved to the front, in order.
  void compact(const std::vector<int64_t>& kept) {
    if (kept.size() == static_cast<size_t>(n_) && std::is_sorted(kept.begin(), kept.end()) &&
        (kept.empty() || kept.back() == n_ - 1))
      return;
    if (static_cast<int64_t>(kept.size()) == n_) return;
    for (Slot& slot : slots_) {
      if (stacked_) {
        if (!slot.batch.defined()) continue;
        for (size_t j = 0; j < kept.size(); ++j) {
          if (kept[j] == static_cast<int64_t>(j)) continue;
          Tensor dst = slot.batch[static_cast<int64_t>(j)];
          std::memmove(dst.raw_data(), slot.batch[kept[j]].raw_data(), dst.nbytes());
        }
        slot.batch = slot.batch.head(static_cast<int64_t>(kept.size()));
        if (kept.empty()) slot.used = false;
      } else {
        std::vector<Tensor> list;
        for (int64_t i : kept) list.push_back(std::move(slot.list[static_cast<size_t>(i)]));
        slot.list = std::move(list);
      }
    }
  }

  void emit(BatchFeature& bf, Target target, const std::string& key) {
    Slot& slot = slots_[static_cast<int>(target)];
    if (stacked_) {
      if (slot.used) bf.set(key, slot.batch);
    } else if (!slot.list.empty() && slot.list[0].defined()) {
      bf.set(key, std::move(slot.list));
    }
  }

 private:
  struct Slot {
    mutable std::mutex mu;
    std::string key;
    std::string allocation_error;
    Tensor batch;
    TensorSpec spec{DType::kUInt8, {}};
    std::vector<Tensor> list;
    std::string mismatch;
    std::optional<TensorSpec> first;  // the first accepted row's spec
    std::string pending_mismatch;
    bool used = false;
  };

  // Under slot.mu. The first sample's output spec fixes the batch's; a failure is recorded once
  // and repeated to every later caller without trying again.
  void allocate(Slot& slot, const TensorSpec& spec) {
    if (!slot.allocation_error.empty()) throw OutOfMemoryError(slot.allocation_error);
    Shape shape{n_};
    shape.insert(shape.end(), spec.shape.begin(), spec.shape.end());
    try {
      slot.batch = Tensor::empty(spec.dtype, shape, pool_);
    } catch (const std::exception&) {  // OutOfMemoryError (or std::bad_alloc building it)
      slot.allocation_error = "out of memory allocating the batch output " + slot.key + " " +
                              describe_array(spec.dtype, shape) +
                              " (pass fewer inputs per call, or use pixelflow run, which writes batches as it goes)";
      throw OutOfMemoryError(slot.allocation_error);
    }
    slot.spec = spec;
  }

  int64_t n_;
  bool stacked_;
  bool ordered_;
  BufferPool* pool_;
  std::mutex row_mu_;
  std::vector<int64_t> row_of_;
  int64_t next_row_ = 0;
  Slot slots_[2];
};

}  // namespace

void ExecContext::check_values(DType dtype, const Shape& shape) const {
  if (max_values <= 0) return;
  int64_t values = 1;
  for (int64_t d : shape)
    if (d > 0 && (__builtin_mul_overflow(values, d, &values) || values > max_values)) {
      values = -1;
      break;
    }
  if (values >= 0) return;
  throw InputError("an array of this input, " + describe_array(dtype, shape) + ", would hold more than " +
                   std::to_string(max_values) + " values, 4 x the pixel limit (--max-image-pixels, "
                   "PIXELFLOW_MAX_IMAGE_PIXELS or load.max_image_pixels, at least 178956970; 0: no limit)");
}

Pipeline::Pipeline(std::vector<OpPtr> image_ops, std::vector<OpPtr> label_ops)
    : image_ops_(std::move(image_ops)),
      label_ops_(std::move(label_ops)),
      pool_(std::make_shared<BufferPool>()) {
  install_halide_runtime_hooks();
}

std::string Pipeline::describe() const {
  std::string r = "load";
  for (const auto& op : image_ops_) r += " -> " + op->name();
  if (!label_ops_.empty()) {
    r += "; labels: load";
    for (const auto& op : label_ops_) r += " -> " + op->name();
  }
  return r;
}

void Pipeline::run_sample(Sample& s, const Loader& loader) const {
  ExecContext ctx{pool_.get(), nullptr, max_values_};
  loader.load(s, ctx);
  for (size_t i = 0; i < image_ops_.size(); ++i) image_ops_[i]->run(s, ctx, i + 1 == image_ops_.size());
  if (s.labels.defined())
    for (size_t i = 0; i < label_ops_.size(); ++i) label_ops_[i]->run(s, ctx, i + 1 == label_ops_.size());
}

BatchFeature Pipeline::run(const Loader& loader, const RunOptions& run, const OutputOptions& out,
                           RunReport* report) const {
  if (run.skip_failed && !report) throw std::invalid_argument("Pipeline::run: skip_failed needs a RunReport");
  if (report) *report = RunReport{};
  namespace flow = tbb::flow;
  const int64_t n = loader.size();
  const int threads = run.threads > 0 ? std::min(run.threads, kMaxThreads) : tbb::info::default_concurrency();
  const size_t in_flight = run.max_in_flight > 0 ? run.max_in_flight : 2 * threads + 2;
  // oneTBB grants an arena no more workers than the machine has threads, and warns when asked for
  // more: ask for what it grants.
  const int arena_threads = std::min(threads, std::max(1, tbb::info::default_concurrency()));

  BatchAssembler assembler(n, out, run.ordered, pool_.get());
  ExecContext ctx{pool_.get(), &assembler, max_values_};
  std::exception_ptr first_error;
  int64_t first_error_index = -1;
  std::string first_error_source;

  // Stopping early. Once an input fails (unless skip_failed) the call fails, so no new input is
  // started (`stop`); the ones in flight finish, so the first failing input in input order is
  // still the one reported (every input before it has been started). Out of memory ends the call
  // whatever skip_failed says: `stop`, and the work of the samples in flight is skipped
  // (`abandon`); the first such failure (`fatal`) is the one reported.
  std::atomic<bool> stop{false}, abandon{false};
  std::mutex fatal_mu;
  std::string fatal;
  const std::exception_ptr abandoned = std::make_exception_ptr(Error("abandoned"));
  const auto note_error = [&](const Sample& s) {
    if (is_out_of_memory(s.error)) {
      std::string message = describe_out_of_memory(s.error, s.source);
      std::lock_guard<std::mutex> lock(fatal_mu);
      if (fatal.empty()) fatal = std::move(message);
      abandon = true;
      stop = true;
    } else if (!run.skip_failed) {
      stop = true;
    }
  };
  // Runs `work` on a sample unless it failed already or the call is being abandoned.
  const auto guarded = [&](Sample& s, const auto& work) {
    if (s.error) return;
    if (abandon) {
      s.error = abandoned;
      return;
    }
    try {
      work();
    } catch (...) {
      s.error = std::current_exception();
    }
    if (s.error) note_error(s);
  };

  shared_arena(arena_threads).execute([&] {
    flow::graph g;
    int64_t next = 0;
    flow::input_node<SamplePtr> source(g, [&](tbb::flow_control& fc) -> SamplePtr {
      SamplePtr s;
      if (next >= n || stop) {
        fc.stop();
      } else {
        s = std::make_shared<Sample>();
        s->index = next++;
      }
      return s;
    });
    flow::limiter_node<SamplePtr> limiter(g, in_flight);
    const bool fuse_load = run.fuse_load && !image_ops_.empty();
    flow::function_node<SamplePtr, SamplePtr> load(g, flow::unlimited, [&](SamplePtr s) {
      guarded(*s, [&] {
        if (fuse_load)
          loader.load_through(*s, *image_ops_.front(), ctx, image_ops_.size() == 1);
        else
          loader.load(*s, ctx);
      });
      return s;
    });

    // One node per physical op; the label chain (if any) runs in the same nodes' sample.
    std::vector<std::unique_ptr<flow::function_node<SamplePtr, SamplePtr>>> nodes;
    for (size_t i = 0; i < image_ops_.size(); ++i) {
      nodes.push_back(std::make_unique<flow::function_node<SamplePtr, SamplePtr>>(
          g, flow::unlimited, [this, i, &ctx, &guarded](SamplePtr s) {
            if (i > 0 || !s->first_op_done)  // else: fused load
              guarded(*s, [&] { image_ops_[i]->run(*s, ctx, i + 1 == image_ops_.size()); });
            return s;
          }));
    }
    if (!label_ops_.empty()) {
      nodes.push_back(std::make_unique<flow::function_node<SamplePtr, SamplePtr>>(
          g, flow::unlimited, [this, &ctx, &guarded](SamplePtr s) {
            if (s->labels.defined())
              for (size_t i = 0; i < label_ops_.size(); ++i)
                guarded(*s, [&] { label_ops_[i]->run(*s, ctx, i + 1 == label_ops_.size()); });
            return s;
          }));
    }

    flow::sequencer_node<SamplePtr> order(g, [](const SamplePtr& s) { return static_cast<size_t>(s->index); });
    flow::function_node<SamplePtr, flow::continue_msg> sink(g, flow::serial, [&](SamplePtr s) {
      if (abandon) {
        // Out of memory: the call fails with that error; nothing more is assembled.
      } else if (s->error && run.skip_failed) {
        report->failed.push_back({s->index, s->source, describe_error(s->error, s->source)});
      } else if (s->error) {
        if (!first_error || s->index < first_error_index) {  // the first in input order
          first_error_index = s->index;
          first_error = s->error;
          first_error_source = s->source;
        }
      } else {
        assembler.accept(s->index, Target::kImage, s->image, s->source);
        if (s->labels.defined())
          assembler.accept(s->index, Target::kLabels, s->labels, s->source);
        if (report) report->kept.push_back(s->index);
      }
      return flow::continue_msg();
    });

    flow::make_edge(source, limiter);
    flow::make_edge(limiter, load);
    flow::sender<SamplePtr>* prev = &load;
    for (auto& node : nodes) {
      flow::make_edge(*prev, *node);
      prev = node.get();
    }
    if (run.ordered) {
      flow::make_edge(*prev, order);
      flow::make_edge(order, sink);
    } else {
      flow::make_edge(*prev, sink);
    }
    flow::make_edge(sink, limiter.decrementer());
    source.activate();
    g.wait_for_all();
  });

  if (std::string e = assembler.allocation_error(); !e.empty()) throw OutOfMemoryError(e);
  {
    std::lock_guard<std::mutex> lock(fatal_mu);
    if (!fatal.empty()) throw OutOfMemoryError(fatal);
  }
  if (first_error) throw_with_source(first_error, first_error_source);
  for (Target t : {Target::kImage, Target::kLabels})
    if (!assembler.mismatch(t).empty()) throw InputError(assembler.mismatch(t));

  if (report) {
    std::sort(report->failed.begin(), report->failed.end(),
              [](const InputFailure& a, const InputFailure& b) { return a.index < b.index; });
    // Rows in row order (input order when ordered), then compacted past failed inputs' rows.
    std::vector<int64_t> rows;
    std::vector<int64_t> kept;
    for (const auto& [r, i] : assembler.rows_of(report->kept)) {
      rows.push_back(r);
      kept.push_back(i);
    }
    report->kept = std::move(kept);
    if (run.skip_failed) assembler.compact(rows);
  }
  BatchFeature bf;
  assembler.emit(bf, Target::kImage, out.image_key);
  assembler.emit(bf, Target::kLabels, out.labels_key);
  return bf;
}

}  // namespace pixelflow
