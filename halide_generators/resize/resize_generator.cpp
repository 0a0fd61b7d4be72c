// resize: the two passes of Pillow's 8-bit resampler (src/libImaging/Resample.c), bit-exact.
//
//   pass(o) = clamp((2^21 + sum_r in[start(o) + r] * coeff(r, o)) >> 22, 0, 255)
//
// with int32 fixed-point coefficients (22 fractional bits) computed on the host exactly as Pillow
// computes them (ops/resize/resize_coeffs.cpp). Integer sums are exact whatever the order, so the
// kernels vectorize freely; each output depends only on its own coefficients, so any sub-window of
// the resized image can be computed alone. Pillow's sums never overflow int32 (255 * sum |k| stays
// below 2^31 for its normalized filters), so no formulation below differs from its int32 loop.
//
// resize_horizontal: the pass along x, the axis that is contiguous in memory. Vectorizing over
//   outputs would need gathers, so the kernel vectorizes over rows instead: per block of 16 input
//   rows it builds a tile with the rows interleaved (tile(j, p): byte j of tile column p is input
//   byte p of row j, so the taps of one output are 16-byte vectors `channels` columns apart),
//   accumulates each output column for the 16 rows in one int32 vector, then transposes blocks of
//   `column_block` results back to rows. Filters of up to `max_unrolled_taps` taps run without a
//   tap loop (one specialization per tap count). Two formulations of the sum:
//    - int32 (default): each tap widens 16 pixels to int32 and multiplies by the coefficient.
//    - byte-digit dot products (dot_product=true, on targets with AVX512-VNNI; elsewhere the
//      int32 formulation): every coefficient is split into three signed bytes,
//      k = d0 + 2^8 d1 + 2^16 d2 (each in [-128, 127]), and one vpdpbusd sums 4 taps of one byte
//      plane for 16 rows (u8 pixels x s8 digits, exact int32 sums):
//          sum_r p_r k_r = A0 + 2^8 A1 + 2^16 A2,   A_d = sum_r p_r d_{d,r}
//      (an identity modulo 2^32 too). The 4 taps of a group are 4 consecutive pixels of one
//      channel: the tile is regrouped per channel plane and transposed into quads
//      (tile4(e, j, g, c) = pixel 4 g + e of plane c, row j). Groups start at multiples of 4, so
//      a filter of n taps takes up to ceil((n + 3) / 4) groups. The host checks that every
//      coefficient has a split (|k| < ~2^23; always for Pillow's filters) and otherwise passes
//      use_digits = false, which runs the int32 formulation.
//   The host passes both tables (int32 `coeffs` from `starts`, digits from `starts4`).
// resize_vertical: the pass along y; vectorized over the row, one broadcast coefficient per tap.
//   (A byte-digit version needs the 4 rows of each group interleaved; on the reference machine
//   the interleaving costs more than the multiplies it saves.)
#include <Halide.h>

namespace {

using namespace Halide;
using namespace Halide::ConciseCasts;

constexpr int kPrecisionBits = 22;  // Pillow: 32 - 8 - 2
constexpr int kBias = 1 << (kPrecisionBits - 1);
constexpr int kDigitsPerGroup = 12;  // 4 taps x 3 byte planes, per output and group
constexpr int kTileRows = 16;        // rows per horizontal tile (16 int32 lanes)

// Pillow's clip8 of an int32 sum (the bias included).
Expr clip8(Expr sum) { return u8_sat(sum >> kPrecisionBits); }

// The int32 sum from the three byte-plane partial sums (wrapping like Pillow's int32).
Expr combine_digits(Expr a0, Expr a1, Expr a2) {
  return (kBias + a0) + (a1 << 8) + (a2 << 16);
}

bool has_vnni(const Target& t) { return t.has_feature(Target::AVX512_SapphireRapids); }

class ResizeHorizontal : public Generator<ResizeHorizontal> {
 public:
  // Schedule knobs.
  GeneratorParam<int> column_block{"column_block", 32};   // outputs per transposed block
  GeneratorParam<int> tile_vector{"tile_vector", 32};     // bytes per tile-building vector
  GeneratorParam<int> tap_unroll{"tap_unroll", 2};        // taps per loop iteration
  GeneratorParam<int> max_unrolled_taps{"max_unrolled_taps", 12};  // no tap loop up to this
  GeneratorParam<bool> dot_product{"dot_product", false};  // VNNI formulation where available

  Input<Buffer<uint8_t, 2>> input{"input"};    // (p, y), p = x * channels + c
  Input<Buffer<int32_t, 2>> coeffs{"coeffs"};  // (r, q): tap r of output column q
  Input<Buffer<int32_t, 1>> starts{"starts"};  // (q): tile column of tap 0 (taps step channels)
  Input<Buffer<int8_t, 3>> digits{"digits"};   // (e + 4 d, g, q): digit d of tap 4 g + e
  Input<Buffer<int32_t, 1>> starts4{"starts4"};  // (q): 4 * (plane group of digit tap 0) + c
  Input<int> taps{"taps"};                     // int32 taps per output (zero-padded)
  Input<int> groups{"groups"};                 // digit taps per output / 4
  Input<bool> use_digits{"use_digits"};        // every coefficient has a byte split
  Input<int> channels{"channels"};             // 1, 3 or 4
  Input<int> x0{"x0"};                         // tile pixel 0 is input pixel x0
  Input<int> tile_width{"tile_width"};         // pixels, a multiple of 4; taps lie inside
  Input<int> row_offset{"row_offset"};         // output row y reads input row y + row_offset
  Output<Buffer<uint8_t, 2>> output{"output"};  // (q, y), q = x * channels + c

  Var q{"q"}, y{"y"}, p{"p"}, x{"x"}, c{"c"}, g{"g"}, e{"e"}, j{"j"}, t{"t"}, d{"d"};
  Func tile{"tile"}, tile_v{"tile_v"}, planes{"planes"}, tile4{"tile4"}, acc{"acc"},
      part{"part"}, sum_digits{"sum_digits"}, clipped{"clipped"}, block{"block"};
  RDom r, rd;
  bool vnni = false;

  void generate() {
    vnni = dot_product && has_vnni(get_target());
    // Row block t: rows t * 16 + j (+ row_offset).
    Expr row = min(t * kTileRows + j + row_offset, input.dim(1).max());
    // Input bytes [x0 * channels, (x0 + tile_width) * channels) of the rows. Taps past the
    // input's end (zero coefficients) read its last byte: the clamp is `likely` a no-op, so the
    // loops get a clamp-free main part.
    auto in_byte = [&](Expr b) {
      return input(clamp(likely(x0 * channels + b), 0, input.dim(0).max()), row);
    };
    // The tile: row j in byte j of each 16-byte tile column; the taps of output column q are
    // the tile columns starts(q) + r * channels.
    tile(j, p, t) = in_byte(p);
    r = RDom(0, taps, "r");
    Expr tp = unsafe_promise_clamped(starts(q) + r * channels, 0, tile_width * channels - 1);
    acc(j, q, t) = i32(kBias);
    acc(j, q, t) += i32(tile(j, tp, t)) * coeffs(r, q);
    Expr sum = acc(j, q, t);
    if (vnni) {
      // The tile again, per channel plane (moving 16-byte columns), then quads:
      // tile4(e, j, g, c) = planes(j, 4 g + e, c), 64 bytes per group of 4 pixels of a plane.
      tile_v(j, p, t) = in_byte(p);
      planes(j, x, c, t) = tile_v(j, x * channels + c, t);
      tile4(e, j, g, c, t) = planes(j, 4 * g + e, c, t);
      rd = RDom(0, 4, 0, groups, "rd");
      Expr s4 = starts4(q);
      Expr g4 = unsafe_promise_clamped((s4 >> 2) + rd.y, 0, tile_width / 4 - 1);
      Expr c4 = unsafe_promise_clamped(s4 & 3, 0, channels - 1);
      part(j, d, q, t) = 0;
      part(j, d, q, t) += i32(tile4(rd.x, j, g4, c4, t)) * i32(digits(rd.x + 4 * d, rd.y, q));
      sum_digits(j, q, t) = combine_digits(part(j, 0, q, t), part(j, 1, q, t), part(j, 2, q, t));
      sum = select(use_digits, sum_digits(j, q, t), sum);
    }
    clipped(j, q, t) = clip8(sum);
    block(q, j, t) = clipped(j, q, t);
    output(q, y) = block(q, y % kTileRows, y / kTileRows);
  }

  void schedule() {
    const int QB = column_block;
    const int TV = tile_vector;
    Var qo{"qo"}, qi{"qi"}, jj{"jj"};

    input.dim(0).set_stride(1);
    coeffs.dim(0).set_min(0).dim(0).set_stride(1);
    digits.dim(0).set_bounds(0, kDigitsPerGroup).dim(0).set_stride(1);
    digits.dim(1).set_min(0);
    // The host pads: output rows a multiple of 16 starting at 0, columns a multiple of 16 and
    // at least QB.
    output.dim(0).set_min(0).dim(1).set_min(0);

    output.split(y, t, jj, kTileRows, TailStrategy::RoundUp)
        .split(q, qo, qi, QB, TailStrategy::ShiftInwards)
        .reorder(qi, jj, qo, t)
        .vectorize(qi, 16)
        .unroll(jj);
    // A block of QB columns x 16 rows, stored row-major: one 16-lane column vector per output
    // column, the strided stores zipped into one interleaving store (a byte transpose).
    block.compute_at(output, qo).bound(j, 0, kTileRows).reorder(j, q).vectorize(j).unroll(q);
    clipped.compute_at(output, qo).bound(j, 0, kTileRows).vectorize(j);
    acc.compute_at(clipped, q).vectorize(j);
    acc.update().reorder(j, r.x).vectorize(j).unroll(r.x, tap_unroll);
    // Short filters (up to max_unrolled_taps taps: downscales up to ~2.7x bicubic, ~5x bilinear
    // at the default) run without a tap loop.
    for (int n = 2; n <= max_unrolled_taps; ++n) acc.update().specialize(taps == n).unroll(r.x);
    // The tile: TV bytes of the 16 rows per vector, zipped.
    tile.compute_at(output, t)
        .bound(j, 0, kTileRows)
        .reorder(j, p, t)
        .vectorize(p, TV, TailStrategy::ShiftInwards)
        .unroll(j);
    if (vnni) {
      // Planes: 4 columns (64 bytes) per vector; quads: 4 groups (256 bytes) per permutation.
      tile_v.compute_at(output, t)
          .bound(j, 0, kTileRows)
          .reorder(j, p, t)
          .vectorize(p, TV, TailStrategy::ShiftInwards)
          .unroll(j);
      planes.compute_at(output, t)
          .bound(j, 0, kTileRows)
          .reorder(j, x, c, t)
          .vectorize(j)
          .vectorize(x, 4, TailStrategy::RoundUp);
      tile4.compute_at(output, t)
          .bound(e, 0, 4)
          .bound(j, 0, kTileRows)
          .reorder(e, j, g, c, t)
          .vectorize(e)
          .vectorize(j)
          .vectorize(g, 4, TailStrategy::RoundUp);
      sum_digits.compute_at(clipped, q).vectorize(j);
      part.compute_at(clipped, q).bound(d, 0, 3).vectorize(j).unroll(d);
      part.update().reorder(rd.x, j, d, rd.y).atomic().vectorize(rd.x).vectorize(j).unroll(d);
      for (int n : {3, 2}) part.update().specialize(groups == n).unroll(rd.y);
      output.specialize(use_digits);
    }

    // Constant tap strides for the channel counts the op allows.
    for (int ch : {3, 1, 4}) output.specialize(channels == ch);
    output.specialize_fail("resize_horizontal: channels must be 1, 3 or 4");

    output.set_estimates({{0, 672}, {0, 480}});
    input.set_estimates({{0, 1920}, {0, 480}});
    coeffs.set_estimates({{0, 10}, {0, 672}});
    starts.set_estimates({{0, 672}});
    digits.set_estimates({{0, 12}, {0, 3}, {0, 672}});
    starts4.set_estimates({{0, 672}});
  }
};

class ResizeVertical : public Generator<ResizeVertical> {
 public:
  // Schedule knobs.
  GeneratorParam<int> vector_width{"vector_width", 0};  // 0: natural int32 width of the target
  GeneratorParam<int> vectors{"vectors", 4};            // accumulators per tap loop
  GeneratorParam<int> tap_unroll{"tap_unroll", 2};      // taps per loop iteration

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
    acc(p, yo) = i32(kBias);
    Expr row = unsafe_promise_clamped(starts(yo) + r, input.dim(1).min(), input.dim(1).max());
    acc(p, yo) += i32(input(p, row)) * coeffs(r, yo);
    output(p, yo) = clip8(acc(p, yo));
  }

  void schedule() {
    const int vw = vector_width > 0 ? int(vector_width) : natural_vector_size<int32_t>();
    const int block = vw * int(vectors);
    Var po{"po"}, pi{"pi"};
    input.dim(0).set_stride(1);
    coeffs.dim(0).set_min(0).dim(0).set_stride(1);
    if (auto_schedule) {  // a Halide autoscheduler's choice, for comparison (bench_kernels)
      output.set_estimates({{0, 672}, {0, 224}});
      input.set_estimates({{0, 672}, {0, 480}});
      coeffs.set_estimates({{0, 10}, {0, 224}});
      starts.set_estimates({{0, 224}});
      taps.set_estimate(10);
      return;
    }
    // The host guarantees at least `block` columns.
    output.split(p, po, pi, block, TailStrategy::ShiftInwards).vectorize(pi, vw);
    acc.compute_at(output, po).vectorize(p, vw);
    acc.update().reorder(p, r.x, yo).vectorize(p, vw).unroll(r.x, tap_unroll);

    output.set_estimates({{0, 672}, {0, 224}});
    input.set_estimates({{0, 672}, {0, 480}});
    coeffs.set_estimates({{0, 10}, {0, 224}});
    starts.set_estimates({{0, 224}});
  }
};

}  // namespace

HALIDE_REGISTER_GENERATOR(ResizeHorizontal, resize_horizontal)
HALIDE_REGISTER_GENERATOR(ResizeVertical, resize_vertical)
