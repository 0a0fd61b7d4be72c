// post_process_semantic_segmentation: Hugging Face's semantic-segmentation post-processing,
// torch.nn.functional.interpolate(logits, size=(H, W), mode="bilinear", align_corners=False)
// followed by argmax over classes, fused so that the (classes, H, W) upsampled logits never exist.
//
// PyTorch's CPU kernel (the non-separable "generic" path used for NCHW float32 input) computes
// every output value as
//   t0  = in[c][iy0][ix0] * wx0 + in[c][iy0][ix1] * wx1     (row iy0 along x)
//   t1  = in[c][iy1][ix0] * wx0 + in[c][iy1][ix1] * wx1     (row iy1 along x)
//   out = t0 * wy0 + t1 * wy1
// in float32 with every product and sum rounded separately (strict_float here: no FMA, no
// reassociation). t0 depends on (source row, output column, class) only, so the work splits
// exactly, without changing a single rounding, into stages run per (band of output rows, tile
// of output columns) by the caller (ops/post_process_semantic_segmentation), which computes the
// index/weight tables with PyTorch's formulas and owns the small scratch buffers:
//   transpose        source(c, xs, k) = logits(xs, row(k), c): the band's source rows over the
//                    tile's source columns, classes innermost (so that the next stage never
//                    gathers);
//   horizontal       rows(x, k, c) = source(c, ix0(x), k) * wx0(x) + source(c, ix1(x), k) * wx1(x),
//                    computed along classes and transposed in registers to columns innermost;
//   vertical_argmax  out(x, y) = argmax_c rows(x, k0(y), c) * wy0(y) + rows(x, k1(y), c) * wy1(y),
//                    a running (max, index) per output pixel: the (C, H, W) values never exist.
// `argmax` is the plain argmax over classes (no target size).
// Table entries are promised to lie inside the buffers they index (unsafe_promise_clamped): the
// caller derives the buffers' extents from the same tables.
//
// argmax: the first maximum wins on ties (torch.argmax). The comparison is a plain `>`, exact
// when no compared value is NaN; torch's rule for NaN (the first NaN wins) is left to the
// caller, which checks its input and takes its scalar path when a NaN could appear.
#include <Halide.h>

#include <algorithm>

namespace {

using namespace Halide;

// Running (max, first index) over classes 0..num_classes-1 of value(x, y, c).
Func argmax_over_classes(Func value, Expr num_classes, const Var& x, const Var& y, RDom& r) {
  Func best{"best"};
  r = RDom(1, num_classes - 1, "class");
  best(x, y) = Tuple(value(x, y, 0), 0);
  Expr v = value(x, y, r);
  Expr m = best(x, y)[0];
  Expr better = v > m;
  best(x, y) = Tuple(select(better, v, m), select(better, r, best(x, y)[1]));
  return best;
}

// Output columns in chunks of vector_width * unroll; per chunk, the classes loop runs outside
// `unroll` independent vectors of running (max, index). The last chunk of a row is shifted
// inwards (recomputed), so every load stays dense: the output must be at least one chunk wide
// (the caller routes narrower outputs elsewhere).
void schedule_argmax(Func output, Func best, const RDom& r, const Var& x, int vw, int unroll) {
  const int chunk = vw * unroll;
  Var xc{"xc"}, xi{"xi"}, xu{"xu"}, xv{"xv"}, bo{"bo"}, bi{"bi"}, bu{"bu"}, bv{"bv"};
  output.split(x, xc, xi, chunk, TailStrategy::ShiftInwards)
      .split(xi, xu, xv, vw)
      .vectorize(xv)
      .unroll(xu);
  best.compute_at(output, xc);
  best.split(x, bo, bi, chunk, TailStrategy::RoundUp).split(bi, bu, bv, vw).vectorize(bv).unroll(bu);
  best.update()
      .split(x, bo, bi, chunk, TailStrategy::RoundUp)
      .split(bi, bu, bv, vw)
      .vectorize(bv)
      .unroll(bu)
      .reorder(bv, bu, r.x, bo);
}

// Side of the square blocks transposed in registers: vector_width, or by default the natural
// width up to 8 (16 x 16 blocks on AVX-512 need more shuffles and registers than they save).
int block_width(int vector_width, int natural) {
  return vector_width > 0 ? vector_width : std::min(natural, 8);
}

// Square vw x vw blocks of output(a, b, ..., k): `stage` is computed per block along b (dense
// loads), the block is transposed in registers and stored along a (dense stores). `blocks` says
// that both of the output's extents along a and b are at least vw; otherwise the same loops run
// guarded, vectorized along a only.
void schedule_transposed_blocks(Func output, Func stage, const Var& a, const Var& b, const Var& k, Expr blocks,
                                int vw) {
  Var ai{"ai"}, bi{"bi"}, ao{"ao"}, bo{"bo"};
  output.specialize(blocks)
      .tile(a, b, ao, bo, ai, bi, vw, vw, TailStrategy::ShiftInwards)
      .reorder(ai, bi, ao, bo, k)
      .vectorize(ai)
      .vectorize(bi);
  output.tile(a, b, ao, bo, ai, bi, vw, vw, TailStrategy::GuardWithIf).reorder(ai, bi, ao, bo, k).vectorize(ai);
  stage.compute_at(output, ao).vectorize(b, vw, TailStrategy::GuardWithIf).unroll(a);
}

class Transpose : public Generator<Transpose> {
 public:
  GeneratorParam<int> vector_width{"vector_width", 0};  // 0: natural width of the target, <= 8

  Input<Buffer<float, 3>> logits{"logits"};              // (x, y, c): one item's (C, h, w) logits
  Input<Buffer<int32_t, 1>> source_rows{"source_rows"};  // source row of each band row k
  Output<Buffer<float, 3>> output{"output"};             // (c, xs, k): classes innermost

  Var c{"c"}, xs{"xs"}, k{"k"};

  void generate() {
    Expr row = unsafe_promise_clamped(source_rows(k), logits.dim(1).min(), logits.dim(1).max());
    block_(xs, c, k) = logits(xs, row, c);
    output(c, xs, k) = block_(xs, c, k);
  }

  void schedule() {
    const int vw = block_width(vector_width, natural_vector_size<float>());
    logits.dim(0).set_stride(1);
    output.dim(0).set_stride(1);
    // Dense loads along columns into a block in registers, transposed by shuffles, dense stores
    // along classes.
    schedule_transposed_blocks(output, block_, c, xs, k,
                               output.dim(0).extent() >= vw && output.dim(1).extent() >= vw, vw);
  }

 private:
  Func block_{"block"};
};

class Horizontal : public Generator<Horizontal> {
 public:
  GeneratorParam<int> vector_width{"vector_width", 0};  // 0: natural width of the target, <= 8

  Input<Buffer<float, 3>> source{"source"};          // (c, xs, k) from `transpose`
  Input<Buffer<int32_t, 1>> x_index0{"x_index0"};    // per output column: source columns ...
  Input<Buffer<int32_t, 1>> x_index1{"x_index1"};
  Input<Buffer<float, 1>> x_lambda0{"x_lambda0"};    // ... and their weights
  Input<Buffer<float, 1>> x_lambda1{"x_lambda1"};
  Output<Buffer<float, 3>> output{"output"};         // (x, k, c)

  Var x{"x"}, k{"k"}, c{"c"};

  void generate() {
    Expr ix0 = unsafe_promise_clamped(x_index0(x), source.dim(1).min(), source.dim(1).max());
    Expr ix1 = unsafe_promise_clamped(x_index1(x), source.dim(1).min(), source.dim(1).max());
    // Classes innermost: every load is dense, the weights are broadcast.
    blended_(c, x, k) =
        strict_float(source(c, ix0, k) * x_lambda0(x) + source(c, ix1, k) * x_lambda1(x));
    output(x, k, c) = blended_(c, x, k);
  }

  void schedule() {
    const int vw = block_width(vector_width, natural_vector_size<float>());
    source.dim(0).set_stride(1);
    output.dim(0).set_stride(1);
    // Blocks of (columns, classes): blended along classes, transposed in registers, stored
    // along columns.
    schedule_transposed_blocks(output, blended_, x, c, k,
                               output.dim(0).extent() >= vw && output.dim(2).extent() >= vw, vw);
  }

 private:
  Func blended_{"blended"};
};

class VerticalArgmax : public Generator<VerticalArgmax> {
 public:
  GeneratorParam<int> vector_width{"vector_width", 0};  // 0: natural width of the target
  GeneratorParam<int> unroll{"unroll", 4};              // independent vectors per chunk

  Input<Buffer<float, 3>> rows{"rows"};              // (x, k, c) from `horizontal`
  Input<Buffer<int32_t, 1>> y_index0{"y_index0"};    // per output row: k of the two rows ...
  Input<Buffer<int32_t, 1>> y_index1{"y_index1"};
  Input<Buffer<float, 1>> y_lambda0{"y_lambda0"};    // ... and their weights
  Input<Buffer<float, 1>> y_lambda1{"y_lambda1"};
  Output<Buffer<int64_t, 2>> output{"output"};       // (x, y) class index

  Var x{"x"}, y{"y"}, c{"c"};

  void generate() {
    Expr k0 = unsafe_promise_clamped(y_index0(y), rows.dim(1).min(), rows.dim(1).max());
    Expr k1 = unsafe_promise_clamped(y_index1(y), rows.dim(1).min(), rows.dim(1).max());
    Func value{"value"};
    value(x, y, c) = strict_float(rows(x, k0, c) * y_lambda0(y) + rows(x, k1, c) * y_lambda1(y));
    best_ = argmax_over_classes(value, rows.dim(2).extent(), x, y, r_);
    output(x, y) = cast<int64_t>(best_(x, y)[1]);
  }

  void schedule() {
    const int vw = vector_width > 0 ? int(vector_width) : natural_vector_size<float>();
    rows.dim(0).set_stride(1);
    output.dim(0).set_stride(1);
    schedule_argmax(output, best_, r_, x, vw, unroll);
  }

 private:
  Func best_;
  RDom r_;
};

class Argmax : public Generator<Argmax> {
 public:
  GeneratorParam<int> vector_width{"vector_width", 0};  // 0: natural width of the target
  GeneratorParam<int> unroll{"unroll", 4};              // independent vectors per chunk

  Input<Buffer<float, 3>> logits{"logits"};      // (x, y, c): one item's (C, h, w) logits
  Output<Buffer<int64_t, 2>> output{"output"};   // (x, y) class index

  Var x{"x"}, y{"y"}, c{"c"};

  void generate() {
    Func value{"value"};
    value(x, y, c) = logits(x, y, c);
    best_ = argmax_over_classes(value, logits.dim(2).extent(), x, y, r_);
    output(x, y) = cast<int64_t>(best_(x, y)[1]);
  }

  void schedule() {
    const int vw = vector_width > 0 ? int(vector_width) : natural_vector_size<float>();
    logits.dim(0).set_stride(1);
    output.dim(0).set_stride(1);
    schedule_argmax(output, best_, r_, x, vw, unroll);
  }

 private:
  Func best_;
  RDom r_;
};

}  // namespace

HALIDE_REGISTER_GENERATOR(Transpose, post_process_semantic_segmentation_transpose)
HALIDE_REGISTER_GENERATOR(Horizontal, post_process_semantic_segmentation_horizontal)
HALIDE_REGISTER_GENERATOR(VerticalArgmax, post_process_semantic_segmentation_vertical_argmax)
HALIDE_REGISTER_GENERATOR(Argmax, post_process_semantic_segmentation_argmax)
