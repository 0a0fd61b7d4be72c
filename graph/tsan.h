// ThreadSanitizer annotations for the happens-before edges oneTBB creates inside libtbb.so.
// Debian's libtbb is not instrumented, so TSan cannot see that a flow-graph node's body runs
// after the body that produced its message, that serial nodes run one call at a time, or that
// wait_for_all / parallel_for return after their tasks: every hand-off of a Sample between
// threads would be reported as a race. The places where pixelflow relies on such an edge say so
// explicitly with tsan_release (before the hand-off) and tsan_acquire (after it), on the object
// handed over. Without -fsanitize=thread these compile to nothing. See tests/tsan.supp for the
// races inside oneTBB's own header code (task objects recycled by its allocator).
#pragma once

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PIXELFLOW_TSAN 1
#endif
#endif
#if !defined(PIXELFLOW_TSAN) && defined(__SANITIZE_THREAD__)
#define PIXELFLOW_TSAN 1
#endif

#ifdef PIXELFLOW_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace pixelflow {

inline void tsan_release([[maybe_unused]] const void* sync) {
#ifdef PIXELFLOW_TSAN
  __tsan_release(const_cast<void*>(sync));
#endif
}
inline void tsan_acquire([[maybe_unused]] const void* sync) {
#ifdef PIXELFLOW_TSAN
  __tsan_acquire(const_cast<void*>(sync));
#endif
}

}  // namespace pixelflow
