// A test of the TSan step (./build.sh tsan): a data race planted on purpose in a loader run by
// the flow graph. Hidden ([.]): it is run only by build.sh's TSan step, which demands that TSan
// reports it. If it ever passes under TSan, the step cannot see races in pixelflow's node
// bodies (for example because something orders them that should not), and the step fails.
//
// Without TSan it is an ordinary test that checks nothing about races, so it is never run in the
// normal suite.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "registry/builder.h"
#include "graph/pipeline.h"

using namespace pixelflow;

namespace {

// Every load() writes `counter_`, a plain member, from whatever flow-graph thread runs it: a data
// race. So that two loads really overlap on two threads (on any machine), each waits, for at most
// a second, until another load has started; the waiting uses relaxed atomics only, which give
// TSan no happens-before edge between the two plain writes.
class RacyLoader final : public Loader {
 public:
  int64_t size() const override { return 8; }
  void load(Sample& s, const ExecContext& ctx) const override {
    s.source = "racy" + std::to_string(s.index);
    const int me = started_.fetch_add(1, std::memory_order_relaxed);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (started_.load(std::memory_order_relaxed) < 2 && me < 2 &&
           std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
    counter_ = counter_ + 1;  // the planted race
    s.image = ctx.new_tensor(DType::kUInt8, {4, 4, 3});
    for (int64_t i = 0; i < s.image.numel(); ++i) s.image.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  }

 private:
  mutable std::atomic<int> started_{0};
  mutable int64_t counter_ = 0;
};

}  // namespace

TEST_CASE("a data race planted in a loader (TSan must report it)", "[.tsan_canary]") {
  Pipeline p(build_ops({{"rescale", {{"rescale_factor", 1 / 255.0}}}}));
  RacyLoader loader;
  RunOptions run;
  run.threads = 2;
  BatchFeature bf = p.run(loader, run);
  REQUIRE(bf["pixel_values"].shape() == Shape{8, 4, 4, 3});
}
