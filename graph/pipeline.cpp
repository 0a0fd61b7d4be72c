#include "graph/pipeline.h"

#include <algorithm>

#include <tbb/flow_graph.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <new>

#include "base/errors.h"
#include "graph/batch_assembler.h"
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

// A sample on its way through the graph, and whether the load node applied the first image op
// (a fused load: Loader::load_through), so that the first op's node passes it on.
struct Work {
  Sample sample;
  bool first_op_done = false;
};
using WorkPtr = std::shared_ptr<Work>;

// What the nodes of one run share: the inputs, the context ops run with, when to stop, the
// first error and the outputs. The node bodies below hold a pointer to it.
//
// Stopping early. Once an input fails (unless skip_failed) the call fails, so no new input is
// started (`stop_`); the ones in flight finish, so the first failing input in input order is
// still the one reported (every input before it has been started). Out of memory ends the call
// whatever skip_failed says: `stop_`, and the work of the samples in flight is skipped
// (`abandon_`); the first such failure (`fatal_`) is the one reported.
class RunState {
 public:
  RunState(const Pipeline& pipeline, const Loader& loader, const RunOptions& run, const OutputOptions& out,
           RunReport* report, BufferPool* pool)
      : pipeline(pipeline),
        loader(loader),
        run(run),
        assembler_(loader.size(), out, run.ordered, pool),
        ctx(ExecContext{pool, &assembler_, pipeline.max_sample_values()}),
        report_(report),
        out_(out) {}

  const Pipeline& pipeline;
  const Loader& loader;
  const RunOptions& run;

 private:
  detail::BatchAssembler assembler_;  // before ctx, which points to it

 public:
  const ExecContext ctx;

  // The next input to start, or null once all are started or the call is stopping.
  WorkPtr next_input() {
    if (next_ >= loader.size() || stop_) return nullptr;
    auto w = std::make_shared<Work>();
    w->sample.index = next_++;
    return w;
  }

  // Runs `work` on a sample unless it failed already or the call is being abandoned; an
  // exception becomes the sample's error.
  template <class F>
  void guarded(Sample& s, const F& work) {
    if (s.error) return;
    if (abandon_) {
      s.error = abandoned_;
      return;
    }
    try {
      work();
    } catch (...) {
      s.error = std::current_exception();
    }
    if (s.error) note_error(s);
  }

  // The serial sink: the sample's outputs into the batch, or its failure recorded.
  void finish(const Sample& s) {
    if (abandon_) return;  // out of memory: the call fails with that error; nothing more is assembled
    if (s.error && run.skip_failed) {
      report_->failed.push_back({s.index, s.source, describe_error(s.error, s.source)});
    } else if (s.error) {
      if (!first_error_ || s.index < first_error_index_) {  // the first in input order
        first_error_index_ = s.index;
        first_error_ = s.error;
        first_error_source_ = s.source;
      }
    } else {
      assembler_.accept(s.index, Target::kImage, s.image, s.source);
      if (s.labels.defined()) assembler_.accept(s.index, Target::kLabels, s.labels, s.source);
      if (report_) report_->kept.push_back(s.index);
    }
  }

  // After the graph has finished: the call's error, or its batch.
  BatchFeature result() {
    if (std::string e = assembler_.allocation_error(); !e.empty()) throw OutOfMemoryError(e);
    {
      std::lock_guard<std::mutex> lock(fatal_mu_);
      if (!fatal_.empty()) throw OutOfMemoryError(fatal_);
    }
    if (first_error_) throw_with_source(first_error_, first_error_source_);
    for (Target t : {Target::kImage, Target::kLabels})
      if (!assembler_.mismatch(t).empty()) throw InputError(assembler_.mismatch(t));
    if (report_) compact_report();
    BatchFeature bf;
    assembler_.emit(bf, Target::kImage, out_.image_key);
    assembler_.emit(bf, Target::kLabels, out_.labels_key);
    return bf;
  }

 private:
  void note_error(const Sample& s) {
    if (is_out_of_memory(s.error)) {
      std::string message = describe_out_of_memory(s.error, s.source);
      std::lock_guard<std::mutex> lock(fatal_mu_);
      if (fatal_.empty()) fatal_ = std::move(message);
      abandon_ = true;
      stop_ = true;
    } else if (!run.skip_failed) {
      stop_ = true;
    }
  }

  // Failures in input order; rows in row order (input order when ordered), then compacted past
  // failed inputs' rows.
  void compact_report() {
    std::sort(report_->failed.begin(), report_->failed.end(),
              [](const InputFailure& a, const InputFailure& b) { return a.index < b.index; });
    std::vector<int64_t> rows, kept;
    for (const auto& [r, i] : assembler_.rows_of(report_->kept)) {
      rows.push_back(r);
      kept.push_back(i);
    }
    report_->kept = std::move(kept);
    if (run.skip_failed) assembler_.compact(rows);
  }

  RunReport* report_;
  const OutputOptions& out_;
  int64_t next_ = 0;  // read by the source node only (oneTBB runs it serially)
  std::atomic<bool> stop_{false}, abandon_{false};
  std::mutex fatal_mu_;
  std::string fatal_;
  const std::exception_ptr abandoned_ = std::make_exception_ptr(Error("abandoned"));
  std::exception_ptr first_error_;  // the sink's (serial)
  int64_t first_error_index_ = -1;
  std::string first_error_source_;
};

// Runs one op on a sample; its errors gain the op's name (Error::op), keeping their type.
void run_op(const Op& op, Sample& s, const ExecContext& ctx, bool last) {
  try {
    op.run(s, ctx, last);
  } catch (Error& e) {
    e.add_op(op.name());
    throw;
  }
}

// The flow graph's node bodies: small copyable function objects over the run's state, as in
// oneTBB's examples.
struct SourceBody {
  RunState* st;
  WorkPtr operator()(tbb::flow_control& fc) const {
    WorkPtr w = st->next_input();
    if (!w) fc.stop();
    return w;
  }
};

struct LoadBody {
  RunState* st;
  bool fuse;  // offer the first image op to the loader (RunOptions::fuse_load)
  WorkPtr operator()(WorkPtr w) const {
    st->guarded(w->sample, [&] {
      const auto& ops = st->pipeline.image_ops();
      if (fuse)
        w->first_op_done = st->loader.load_through(w->sample, *ops.front(), st->ctx, ops.size() == 1);
      else
        st->loader.load(w->sample, st->ctx);
    });
    return w;
  }
};

// One physical image op.
struct OpBody {
  RunState* st;
  size_t i;  // position in the image chain
  WorkPtr operator()(WorkPtr w) const {
    const auto& ops = st->pipeline.image_ops();
    if (i > 0 || !w->first_op_done)  // else: applied by a fused load
      st->guarded(w->sample, [&] { run_op(*ops[i], w->sample, st->ctx, i + 1 == ops.size()); });
    return w;
  }
};

// The whole label chain, in one node (labels are small).
struct LabelsBody {
  RunState* st;
  WorkPtr operator()(WorkPtr w) const {
    const auto& ops = st->pipeline.label_ops();
    if (w->sample.labels.defined())
      for (size_t i = 0; i < ops.size(); ++i)
        st->guarded(w->sample, [&] { run_op(*ops[i], w->sample, st->ctx, i + 1 == ops.size()); });
    return w;
  }
};

struct SinkBody {
  RunState* st;
  tbb::flow::continue_msg operator()(const WorkPtr& w) const {
    st->finish(w->sample);
    return {};
  }
};

struct InputOrder {
  size_t operator()(const WorkPtr& w) const { return static_cast<size_t>(w->sample.index); }
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
  for (size_t i = 0; i < image_ops_.size(); ++i) run_op(*image_ops_[i], s, ctx, i + 1 == image_ops_.size());
  if (s.labels.defined())
    for (size_t i = 0; i < label_ops_.size(); ++i) run_op(*label_ops_[i], s, ctx, i + 1 == label_ops_.size());
}

void parallel_chunks(int threads, int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  const int t = threads > 0 ? std::min(threads, kMaxThreads) : tbb::info::default_concurrency();
  const int arena_threads = std::min(t, std::max(1, tbb::info::default_concurrency()));
  if (arena_threads == 1 || n <= grain) return body(0, n);
  shared_arena(arena_threads).execute([&] {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, static_cast<size_t>(std::max<int64_t>(grain, 1))),
                      [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); });
  });
}

BatchFeature Pipeline::run(const Loader& loader, const RunOptions& run, const OutputOptions& out,
                           RunReport* report) const {
  if (run.skip_failed && !report) throw std::invalid_argument("Pipeline::run: skip_failed needs a RunReport");
  if (report) *report = RunReport{};
  const int threads = run.threads > 0 ? std::min(run.threads, kMaxThreads) : tbb::info::default_concurrency();
  const size_t in_flight = run.max_in_flight > 0 ? run.max_in_flight : 2 * threads + 2;
  // oneTBB grants an arena no more workers than the machine has threads, and warns when asked for
  // more: ask for what it grants.
  const int arena_threads = std::min(threads, std::max(1, tbb::info::default_concurrency()));
  RunState st(*this, loader, run, out, report, pool_.get());

  shared_arena(arena_threads).execute([&] {
    namespace flow = tbb::flow;
    using Node = flow::function_node<WorkPtr, WorkPtr>;
    flow::graph g;
    flow::input_node<WorkPtr> source(g, SourceBody{&st});
    flow::limiter_node<WorkPtr> limiter(g, in_flight);
    Node load(g, flow::unlimited, LoadBody{&st, run.fuse_load && !image_ops_.empty()});
    std::vector<std::unique_ptr<Node>> chain;  // one node per image op, then the label chain's
    for (size_t i = 0; i < image_ops_.size(); ++i)
      chain.push_back(std::make_unique<Node>(g, flow::unlimited, OpBody{&st, i}));
    if (!label_ops_.empty()) chain.push_back(std::make_unique<Node>(g, flow::unlimited, LabelsBody{&st}));
    flow::sequencer_node<WorkPtr> order(g, InputOrder{});
    flow::function_node<WorkPtr, flow::continue_msg> sink(g, flow::serial, SinkBody{&st});

    flow::make_edge(source, limiter);
    flow::make_edge(limiter, load);
    flow::sender<WorkPtr>* prev = &load;
    for (auto& node : chain) {
      flow::make_edge(*prev, *node);
      prev = node.get();
    }
    if (run.ordered) {
      flow::make_edge(*prev, order);
      prev = &order;
    }
    flow::make_edge(*prev, sink);
    flow::make_edge(sink, limiter.decrementer());
    source.activate();
    g.wait_for_all();
  });
  return st.result();
}

}  // namespace pixelflow
