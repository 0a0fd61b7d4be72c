// patchify: Qwen2-VL's patch layout with rescale and normalize folded in. For an image (C, H, W)
// (the input is read as (c, x, y) with any strides: interleaved HWC or planar CHW) the output is
// the array transformers builds with
//   patches.reshape(1, T, C, H/(M*P), M, P, W/(M*P), M, P).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
// after duplicating the frame T times: dims, innermost first,
//   (px, py, t, c, mw, mh, gw, gh),  P = extent of px and py, T of t, M of mw and mh,
// dense in that order, so that flattening gives (patches, C*T*P*P) rows in merge order.
// The arithmetic is rescale_normalize's (halide_generators/normalize), bit for bit:
//   rescale   f = float32(float64(v) * scale) - offset
//   normalize f = (f - mean[c]) / std[c]   (float32, true division, no FMA)
// Each patch's values are computed once and stored T times.
#include <Halide.h>

namespace {

using namespace Halide;

class Patchify : public Generator<Patchify> {
 public:
  GeneratorParam<int> vector_width{"vector_width", 0};     // 0: natural width of the target
  GeneratorParam<bool> parallel_blocks{"parallel_blocks", false};  // rows of merge blocks over the pool
  // 3: the input is interleaved RGB (c, x, y) with strides (1, 3, 3 * width), all channels of a
  // pixel computed together from dense loads; 0: any channel count and strides.
  GeneratorParam<int> channels{"channels", 0};

  Input<Buffer<void, 3>> input{"input"};  // (c, x, y); element type: generator param input.type
  Input<bool> do_rescale{"do_rescale"};
  Input<double> scale{"scale"};
  Input<float> offset{"offset"};
  Input<bool> do_normalize{"do_normalize"};
  Input<Buffer<float, 1>> mean{"mean"};  // per channel, already float32
  Input<Buffer<float, 1>> std_dev{"std_dev"};
  Input<int32_t> patch_size{"patch_size"};  // P: the output's extent in px and py
  Input<int32_t> merge_size{"merge_size"};  // M: the output's extent in mw and mh
  Output<Buffer<float, 8>> output{"output"};

  Var px{"px"}, py{"py"}, t{"t"}, c{"c"}, mw{"mw"}, mh{"mh"}, gw{"gw"}, gh{"gh"};
  Var x{"x"}, y{"y"};
  Func val{"val"};

  void generate() {
    Expr v = input(c, x, y);
    Expr rescaled = strict_float(cast<float>(cast<double>(v) * scale) - offset);
    Expr f = select(do_rescale, rescaled, cast<float>(v));
    Expr normalized = strict_float((f - mean(c)) / std_dev(c));
    val(x, y, c) = select(do_normalize, normalized, f);
    Expr p = patch_size, m = merge_size;
    output(px, py, t, c, mw, mh, gw, gh) = val((gw * m + mw) * p + px, (gh * m + mh) * p + py, c);
  }

  void schedule() {
    const int vw = vector_width > 0 ? int(vector_width) : natural_vector_size<float>();
    mean.dim(0).set_min(0);
    std_dev.dim(0).set_min(0);
    input.dim(0).set_stride(Expr());  // interleaved (stride 1) or planar
    // Dense output: the flattened (patches, C*T*P*P) array.
    output.dim(0).set_stride(1);
    Expr p = patch_size;
    // One row of merge blocks (M * P image rows) at a time: its values are computed once, row by
    // row over the whole width as rescale_normalize does (dense loads, all channels of a pixel
    // together for interleaved RGB), into a buffer the size of L2, then stored into the patches
    // once per t.
    output.reorder(px, py, t, c, mw, mh, gw, gh);
    if (parallel_blocks) output.parallel(gh);
    val.compute_at(output, gh);
    if (channels == 3) {
      input.dim(0).set_bounds(0, 3).set_stride(1);
      input.dim(1).set_stride(3);
      output.dim(3).set_bounds(0, 3);
      val.bound(c, 0, 3);
    }
    for (bool r : {true, false})
      for (bool n : {true, false}) {
        Expr cond = (do_rescale == r) && (do_normalize == n);
        if (channels == 3)
          val.specialize(cond).reorder(c, x, y).unroll(c).vectorize(x, vw, TailStrategy::GuardWithIf);
        else
          val.specialize(cond).reorder(x, y, c).vectorize(x, vw, TailStrategy::GuardWithIf);
      }
    val.specialize_fail("unreachable");
    // Patch rows are P values long: whole vectors where P allows (overlapping at the end).
    for (int w : {vw, vw / 2, vw / 4})
      if (w >= 4) output.specialize(p >= w).vectorize(px, w, TailStrategy::ShiftInwards);
  }
};

}  // namespace

HALIDE_REGISTER_GENERATOR(Patchify, patchify)
