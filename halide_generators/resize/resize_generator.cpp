// resize: the two passes of Pillow's 8-bit resampler (src/libImaging/Resample.c), bit-exact.
//
//   pass(o) = clamp((2^21 + sum_r in[start(o) + r * stride] * coeff(r, o)) >> 22, 0, 255)
//
// with int32 fixed-point coefficients (22 fractional bits) computed on the host exactly as Pillow
// computes them (ops/resize/resize_coeffs.cpp). Integer sums are exact whatever the order, so the
// kernels vectorize freely; each output depends only on its own coefficients, so any sub-window of
// the resized image can be computed alone.
//
// Both passes see images as 2-D (p, y) arrays with p = x * C + c (interleaved channels): a
// horizontal tap steps C along p, and the host expands the per-pixel coefficient table per channel.
//
// resize_horizontal: the pass along p, the axis that is contiguous in memory. Vectorizing over
//   outputs would need gathers, so the kernel vectorizes over rows instead: it interleaves
//   `rows_per_vector` input rows (dense loads and one interleaving store), accumulates each output
//   column for all those rows in one vector, then transposes blocks of results back to rows.
// resize_vertical: the pass along y; vectorized over p, one broadcast coefficient per tap.
#include <Halide.h>

namespace {

using namespace Halide;

constexpr int kPrecisionBits = 22;  // Pillow: 32 - 8 - 2

Expr clip8(Expr sum) {
  return clamp(sum >> kPrecisionBits, 0, 255);
}

class ResizeHorizontal : public Generator<ResizeHorizontal> {
 public:
  // Schedule knobs.
  GeneratorParam<int> rows_per_vector{"rows_per_vector", 16};   // J: rows accumulated together
  GeneratorParam<int> column_block{"column_block", 16};          // outputs per transposed block
  GeneratorParam<int> interleave_width{"interleave_width", 32};  // bytes per row per interleave

  Input<Buffer<uint8_t, 2>> input{"input"};    // (p, y)
  Input<Buffer<int32_t, 2>> coeffs{"coeffs"};  // (r, q): tap r of output column q
  Input<Buffer<int32_t, 1>> starts{"starts"};  // (q): p of tap 0
  Input<int> taps{"taps"};                     // taps per output (zero-padded)
  Input<int> channels{"channels"};             // tap stride along p
  Input<int> p_min{"p_min"};                   // every p read lies in [p_min, p_max]
  Input<int> p_max{"p_max"};
  Input<int> row_offset{"row_offset"};         // output row y reads input row y + row_offset
  Output<Buffer<uint8_t, 2>> output{"output"};  // (q, y)

  Var q{"q"}, y{"y"}, p{"p"}, j{"j"}, t{"t"};
  Func rows{"rows"}, acc{"acc"}, clipped{"clipped"}, block{"block"};
  RDom r;

  void generate() {
    const int J = rows_per_vector;
    r = RDom(0, taps, "r");
    // Tile t holds input rows t*J + j (+ row_offset), interleaved: rows(j, p, t).
    Expr row = min(t * J + j + row_offset, input.dim(1).max());
    rows(j, p, t) = input(p, row);
    acc(j, q, t) = cast<int32_t>(1 << (kPrecisionBits - 1));
    Expr tap_p = unsafe_promise_clamped(starts(q) + r * channels, p_min, p_max);
    acc(j, q, t) += cast<int32_t>(rows(j, tap_p, t)) * coeffs(r, q);
    clipped(j, q, t) = clip8(acc(j, q, t));
    block(q, j, t) = cast<uint8_t>(clipped(j, q, t));
    output(q, y) = block(q, y % J, y / J);
  }

  void schedule() {
    const int J = rows_per_vector;
    const int QB = column_block;
    const int IW = interleave_width;
    Var qo{"qo"}, qi{"qi"}, jj{"jj"};

    input.dim(0).set_stride(1);
    coeffs.dim(0).set_min(0).dim(0).set_stride(1);
    // The host pads: output rows a multiple of J starting at 0, columns a multiple of QB, and an
    // input p range of at least IW bytes.
    output.dim(1).set_min(0);
    output.dim(0).set_min(0);

    output.split(y, t, jj, J, TailStrategy::RoundUp)
        .split(q, qo, qi, QB, TailStrategy::ShiftInwards)
        .reorder(qi, jj, qo, t)
        .vectorize(qi)
        .unroll(jj);
    // One interleaving store per IW columns: J dense row loads, zipped.
    rows.compute_at(output, t)
        .bound(j, 0, J)
        .reorder(j, p, t)
        .vectorize(p, IW, TailStrategy::ShiftInwards)
        .unroll(j);
    // A block of QB columns x J rows, stored row-major: one J-lane column vector per output
    // column, the QB strided stores zipped into one interleaving store (a byte transpose).
    block.compute_at(output, qo)
        .bound(j, 0, J)
        .reorder(j, q)
        .vectorize(j)
        .unroll(q);
    clipped.compute_at(output, qo).bound(j, 0, J).vectorize(j);
    acc.compute_at(clipped, q).vectorize(j);
    acc.update().reorder(j, r.x, q).vectorize(j).unroll(r.x, 2);

    // Constant tap strides for the common channel counts; any other count runs the generic code.
    for (int c : {3, 1, 4}) output.specialize(channels == c);

    output.set_estimates({{0, 672}, {0, 480}});
    input.set_estimates({{0, 1920}, {0, 480}});
    coeffs.set_estimates({{0, 10}, {0, 672}});
    starts.set_estimates({{0, 672}});
  }
};

class ResizeVertical : public Generator<ResizeVertical> {
 public:
  // Schedule knobs.
  GeneratorParam<int> vector_width{"vector_width", 0};  // 0: natural int32 width of the target
  GeneratorParam<int> vectors{"vectors", 4};            // accumulators per tap loop

  Input<Buffer<uint8_t, 2>> input{"input"};    // (p, y)
  Input<Buffer<int32_t, 2>> coeffs{"coeffs"};  // (r, yo)
  Input<Buffer<int32_t, 1>> starts{"starts"};  // (yo): input row of tap 0
  Input<int> taps{"taps"};
  Output<Buffer<uint8_t, 2>> output{"output"};  // (p, yo)

  Var p{"p"}, yo{"yo"};
  Func acc{"acc"};
  RDom r;

  void generate() {
    r = RDom(0, taps, "r");
    acc(p, yo) = cast<int32_t>(1 << (kPrecisionBits - 1));
    Expr row = unsafe_promise_clamped(starts(yo) + r, input.dim(1).min(), input.dim(1).max());
    acc(p, yo) += cast<int32_t>(input(p, row)) * coeffs(r, yo);
    output(p, yo) = cast<uint8_t>(clip8(acc(p, yo)));
  }

  void schedule() {
    const int vw = vector_width > 0 ? int(vector_width) : natural_vector_size<int32_t>();
    const int block = vw * int(vectors);
    Var po{"po"}, pi{"pi"};
    input.dim(0).set_stride(1);
    coeffs.dim(0).set_min(0).dim(0).set_stride(1);
    // The host guarantees at least `block` columns.
    output.split(p, po, pi, block, TailStrategy::ShiftInwards).vectorize(pi, vw);
    acc.compute_at(output, po).vectorize(p, vw);
    acc.update().reorder(p, r.x, yo).vectorize(p, vw).unroll(r.x, 2);

    output.set_estimates({{0, 672}, {0, 224}});
    input.set_estimates({{0, 672}, {0, 480}});
    coeffs.set_estimates({{0, 10}, {0, 224}});
    starts.set_estimates({{0, 224}});
  }
};

}  // namespace

HALIDE_REGISTER_GENERATOR(ResizeHorizontal, resize_horizontal)
HALIDE_REGISTER_GENERATOR(ResizeVertical, resize_vertical)
