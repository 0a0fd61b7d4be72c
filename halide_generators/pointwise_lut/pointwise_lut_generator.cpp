// pointwise_lut: any chain of per-pixel transforms of 8-bit data (rescale, offset, normalize,
// normalize again, ...) is a function of (value, channel) with 256 x C possible results. The
// caller evaluates the unfused chain exactly on all of them (the table); this kernel applies it
// in one pass over memory, folding in center_crop (pixels outside the input read as 0 before the
// chain, as Hugging Face pads uint8 data with zeros), a channel permutation (flip_channel_order)
// and the layout change to the model's data_format.
#include <Halide.h>

namespace {

using namespace Halide;

class PointwiseLut : public Generator<PointwiseLut> {
 public:
  GeneratorParam<int> vector_width{"vector_width", 0};   // 0: natural width of the target
  GeneratorParam<int> parallel_rows{"parallel_rows", 0};  // 0: no parallel loop inside an image

  Input<Buffer<uint8_t, 3>> input{"input"};      // (c, x, y) interleaved HWC
  Input<Buffer<float, 2>> table{"table"};        // (value 0..255, input channel)
  Input<Buffer<int32_t, 1>> channel_map{"channel_map"};  // output channel -> input channel
  Input<bool> inside{"inside"};  // the output window lies inside the input (no padding)
  Output<Buffer<float, 3>> output{"output"};     // (x, y, c): CHW if dim 0 dense, else HWC

  Var x{"x"}, y{"y"}, c{"c"};

  void generate() {
    // The chain runs in the input channel's terms; the permutation comes after it.
    Expr src_c = clamp(channel_map(c), 0, input.dim(0).extent() - 1);
    Func padded = BoundaryConditions::constant_exterior(input, cast<uint8_t>(0));
    Expr looked_up_padded = table(cast<int32_t>(padded(src_c, x, y)), src_c);
    Expr looked_up = table(cast<int32_t>(input(src_c, x, y)), src_c);
    output(x, y, c) = select(inside, looked_up, looked_up_padded);
  }

  void schedule() {
    const int vw = vector_width > 0 ? int(vector_width) : natural_vector_size<float>();
    input.dim(0).set_stride(1);
    output.dim(0).set_stride(Expr());  // CHW or HWC: any layout
    table.dim(0).set_bounds(0, 256);
    // Split rows over the thread pool first: specializations copy the schedule made before them.
    if (parallel_rows > 0) output.parallel(y, parallel_rows, TailStrategy::GuardWithIf);
    Expr planar = output.dim(0).stride() == 1;
    Expr rgb = input.dim(0).extent() == 3 && input.dim(1).stride() == 3 && output.dim(2).extent() == 3;
    // The common case: a window inside the image, three channels, planar output: all channels
    // of a pixel run together so that each input byte is loaded once.
    output.specialize(inside && planar && rgb)
        .reorder(c, x, y)
        .unroll(c)
        .vectorize(x, vw, TailStrategy::GuardWithIf);
    // Each branch is either inside or not, so that bounds inference sees only the reads the
    // branch makes (the padded read for windows reaching outside the image).
    for (bool in : {true, false}) {
      Expr where = inside == in;
      output.specialize(where && planar).vectorize(x, vw, TailStrategy::GuardWithIf);
      output.specialize(where && !planar).reorder(c, x, y);
    }
    output.specialize_fail("unreachable");
  }
};

}  // namespace

HALIDE_REGISTER_GENERATOR(PointwiseLut, pointwise_lut)
