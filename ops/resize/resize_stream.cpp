// resize: ResizeStream, resize_u8 fed with the input's rows as they arrive.
//
// It runs the passes of resize_u8 with the same tables (plan_passes, horizontal_pass,
// vertical_pass in resize_passes.h): the horizontal pass once per strip of input rows, on a strip
// buffer holding only the columns the producer decoded (the kernel's x0 is made relative to them
// and its clamped reads stay inside them), into the same intermediate rows.
#include <algorithm>
#include <stdexcept>

#include "base/errors.h"
#include "graph/halide_runtime.h"
#include "ops/resize/resize.h"
#include "ops/resize/resize_passes.h"

namespace pixelflow::ops {

using namespace resize_detail;

namespace {

// Input rows per strip of the horizontal pass, a multiple of kRowMultiple. 32 rows of a
// 640-pixel RGB image are 60 KB: the strip stays in L2 between the decoder writing it and the
// kernel reading it.
constexpr int kStripRows = 32;
static_assert(kStripRows % kRowMultiple == 0);
// Strip rows start 8 bytes past a 64-byte boundary. libjpeg-turbo's SIMD colour conversion
// (jdcolext-sse2/avx2) writes a row whose start is 16- or 32-byte aligned with non-temporal
// stores, which send it to memory past the caches: the horizontal pass would then read every
// decoded row back from DRAM (measured: 8 % of W3's throughput). Misaligned rows are written
// through the cache, where the kernel finds them.
constexpr int kStripSkew = 8;

// Scratch of the streams of a thread: separate from resize_u8's so that neither evicts the
// other's cached tables; a second stream alive on the same thread gets its own.
struct StreamScratch {
  Scratch s;
  RawBuffer strip;
  bool busy = false;
};

StreamScratch& stream_scratch() {
  thread_local StreamScratch s;
  return s;
}

// resize_u8's validation, on shapes only.
bool valid_resize(int64_t in_h, int64_t in_w, int64_t c, int64_t out_h, int64_t out_w, Resample filter,
                  const Rect& window) {
  if (in_h < 1 || in_w < 1 || c < 1 || window.width < 0 || window.height < 0) return false;
  uint8_t byte = 0;  // never read: the check looks at shapes
  const Tensor in = Tensor::wrap(&byte, DType::kUInt8, {in_h, in_w, c}, nullptr);
  const Tensor out = Tensor::wrap(&byte, DType::kUInt8, {window.height, window.width, c}, nullptr);
  try {
    check_resize_args(in, out_h, out_w, filter, window, out, "resize");
  } catch (const Error&) {
    return false;
  }
  return true;
}

}  // namespace

struct ResizeStream::State {
  std::unique_ptr<StreamScratch> own;  // when the thread's scratch is taken
  StreamScratch* scratch = nullptr;
  Rect window;
  Rect region;                           // the window's part inside the resized image
  Passes passes;
  int64_t need_x0 = 0, need_x1 = 0;      // columns non-zero coefficients read
  int64_t x = 0, width = 0, stride = 0;  // columns of the rows given, bytes between strip rows
  uint8_t* strip = nullptr;              // kStripRows rows
  uint8_t* tmp = nullptr;                // the horizontal pass's output: input rows [ry0, ry1)
  int strips = 0, next = 0;              // strips of rows [ry0, ry1); the next one to run
  bool begun = false;

  int strip_first(int k) const { return passes.ry0 + k * kStripRows; }
  int strip_rows(int k) const { return std::min(kStripRows, passes.ry1 - strip_first(k)); }
  void run_strip() {
    const int k = next++;
    horizontal_pass(passes, scratch->s, strip, static_cast<int>(x), static_cast<int>(width), stride,
                    strip_first(k), strip_rows(k),
                    tmp + static_cast<int64_t>(k) * kStripRows * passes.nq_pad);
  }
  // This thread's stream scratch, or a scratch of its own when another stream holds it.
  void take_scratch() {
    StreamScratch& mine = stream_scratch();
    if (mine.busy) {
      own = std::make_unique<StreamScratch>();
      scratch = own.get();
    } else {
      scratch = &mine;
    }
    scratch->busy = true;
  }
};

bool ResizeStream::supported(int64_t in_h, int64_t in_w, int64_t c, int64_t out_h, int64_t out_w,
                             Resample filter, const Rect& window) {
  if (!valid_resize(in_h, in_w, c, out_h, out_w, filter, window)) return false;
  if (filter == Resample::kNearest || out_w == in_w) return false;  // no horizontal pass to stream
  const Rect r = window.clip(out_h, out_w);
  if (r.empty() || window.width * c >= (int64_t(1) << 31)) return false;
  // The kernels' size limits, for all input rows (at least those the vertical pass reads).
  return fits_kernels(static_cast<int>(in_h), static_cast<int>(in_w), static_cast<int>(c), r, 0,
                      static_cast<int>(in_h));
}

ResizeStream::ResizeStream(int64_t in_h, int64_t in_w, int64_t c, int64_t out_h, int64_t out_w,
                           Resample filter, const Rect& window)
    : st_(std::make_unique<State>()) {
  if (!supported(in_h, in_w, c, out_h, out_w, filter, window))
    throw InputError("resize: this resize cannot stream its input (see ResizeStream::supported)");
  install_halide_runtime_hooks();
  State& st = *st_;
  st.take_scratch();
  st.window = window;
  st.region = window.clip(out_h, out_w);
  st.passes = plan_passes(static_cast<int>(in_h), static_cast<int>(in_w), static_cast<int>(c),
                          static_cast<int>(out_h), static_cast<int>(out_w), static_cast<int>(filter),
                          st.region, st.scratch->s);
  const Passes& p = st.passes;
  st.strips = (p.src_rows() + kStripRows - 1) / kStripRows;
  st.tmp = st.scratch->s.tmp.get(static_cast<size_t>(p.nq_pad) * p.rows_pad);
  const AxisCoeffs& a = st.scratch->s.horiz.pillow;
  st.need_x0 = in_w;
  for (size_t i = 0; i < a.xmin.size(); ++i) {
    st.need_x0 = std::min<int64_t>(st.need_x0, a.xmin[i]);
    st.need_x1 = std::max<int64_t>(st.need_x1, int64_t(a.xmin[i]) + a.count[i]);
  }
}

ResizeStream::~ResizeStream() {
  if (st_ && st_->scratch) st_->scratch->busy = false;
}

void ResizeStream::begin(int64_t x, int64_t width) {
  State& st = *st_;
  if (st.begun || x > st.need_x0 || x + width < st.need_x1 || x + width > st.passes.w)
    throw std::logic_error("ResizeStream::begin: the rows must hold columns [" + std::to_string(st.need_x0) +
                           ", " + std::to_string(st.need_x1) + ") of the input, once");
  st.begun = true;
  st.x = x;
  st.width = width;
  st.stride = round_up(width * st.passes.c, 64);
  uint8_t* raw = st.scratch->strip.get(static_cast<size_t>(st.stride) * kStripRows + 64 + kStripSkew);
  st.strip = raw + (64 - reinterpret_cast<uintptr_t>(raw) % 64) % 64 + kStripSkew;  // see kStripSkew
}

uint8_t* ResizeStream::row(int64_t y) {
  State& st = *st_;
  const Passes& p = st.passes;
  if (y < p.ry0 || y >= p.ry1) return nullptr;
  const int k = static_cast<int>((y - p.ry0) / kStripRows);
  while (st.next < k) st.run_strip();  // strips of rows the producer skipped
  return st.strip + (y - st.strip_first(k)) * st.stride;
}

void ResizeStream::rows_done(int64_t y_end) {
  State& st = *st_;
  while (st.next < st.strips && st.strip_first(st.next) + st.strip_rows(st.next) <= y_end) st.run_strip();
}

void ResizeStream::finish(Tensor& out) {
  State& st = *st_;
  const Passes& p = st.passes;
  const Rect& w = st.window;
  const Shape want{w.height, w.width, p.c};
  if (!out.defined() || out.dtype() != DType::kUInt8 || out.shape() != want)
    throw InputError("resize: output must be a uint8 array of shape " + shape_str(want));
  if (!st.begun) throw std::logic_error("ResizeStream::finish before begin");
  while (st.next < st.strips) st.run_strip();
  uint8_t* base = out.data<uint8_t>();
  zero_outside(st.region, w, p.c, base);
  const int64_t dst_stride = w.width * p.c;
  vertical_pass(p, st.scratch->s, st.tmp, p.nq_pad, p.nq_pad,
                base + (st.region.y - w.y) * dst_stride + (st.region.x - w.x) * p.c, dst_stride);
}

}  // namespace pixelflow::ops
