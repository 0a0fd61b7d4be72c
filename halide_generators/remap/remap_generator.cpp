// remap: pure data movement of an image: center_crop (a window of the input, zero outside it,
// as Hugging Face pads), flip_channel_order (a channel permutation) and
// to_channel_dimension_format (HWC <-> CHW), alone or together, in one pass.
#include <Halide.h>

namespace {

using namespace Halide;

class Remap : public Generator<Remap> {
 public:
  GeneratorParam<int> vector_width{"vector_width", 0};  // 0: natural width of the target

  Input<Buffer<void, 3>> input{"input"};                 // (c, x, y) interleaved HWC
  Input<Buffer<int32_t, 1>> channel_map{"channel_map"};  // output channel -> input channel
  Output<Buffer<void, 3>> output{"output"};              // (x, y, c): CHW if dim 0 dense, else HWC

  Var x{"x"}, y{"y"}, c{"c"};

  void generate() {
    Func in = BoundaryConditions::constant_exterior(input, cast(input.type(), 0));
    output(x, y, c) = in(clamp(channel_map(c), 0, input.dim(0).extent() - 1), x, y);
  }

  void schedule() {
    const int vw = vector_width > 0 ? int(vector_width) : natural_vector_size(input.type());
    input.dim(0).set_stride(1);
    output.dim(0).set_stride(Expr());  // CHW or HWC: any layout
    Expr planar = output.dim(0).stride() == 1;
    output.specialize(planar).vectorize(x, vw, TailStrategy::GuardWithIf);
    output.specialize(!planar).reorder(c, x, y);
  }
};

}  // namespace

HALIDE_REGISTER_GENERATOR(Remap, remap)
