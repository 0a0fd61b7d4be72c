// rescale_normalize: Hugging Face's rescale and normalize on float data, with the
// channel-layout change and center_crop's zero padding folded in:
//   rescale   f = float32(float64(v) * scale) - offset   (HF rescale: float64 product stored as
//                                                          float32; offset is EfficientNet's /
//                                                          ImageGPT's "- 1", 0 otherwise)
//   normalize f = (f - mean[c]) / std[c]                   (float32, true division, no FMA)
// Input (c, x, y) is interleaved HWC; pixels outside its bounds read as 0 (crop padding: the
// caller shifts the input's min coordinates). Output (x, y, c) is CHW when dim 0 is dense and
// HWC otherwise. do_rescale / do_normalize are runtime switches, specialized so that each
// combination runs straight-line code.
#include <Halide.h>

namespace {

using namespace Halide;

class RescaleNormalize : public Generator<RescaleNormalize> {
 public:
  // Schedule knobs (tuned per CPU by building variants).
  GeneratorParam<int> vector_width{"vector_width", 0};   // 0: natural width of the target
  GeneratorParam<int> parallel_rows{"parallel_rows", 0};  // 0: no parallel loop inside an image

  Input<Buffer<void, 3>> input{"input"};  // element type is the generator param input.type
  Input<bool> do_rescale{"do_rescale"};
  Input<double> scale{"scale"};
  Input<float> offset{"offset"};
  Input<bool> do_normalize{"do_normalize"};
  Input<Buffer<float, 1>> mean{"mean"};  // per channel, already float32
  Input<Buffer<float, 1>> std_dev{"std_dev"};
  Output<Buffer<float, 3>> output{"output"};

  Var x{"x"}, y{"y"}, c{"c"};

  void generate() {
    Func in = BoundaryConditions::constant_exterior(input, cast(input.type(), 0));
    Expr v = in(c, x, y);
    Expr rescaled = strict_float(cast<float>(cast<double>(v) * scale) - offset);
    Expr f = select(do_rescale, rescaled, cast<float>(v));
    Expr normalized = strict_float((f - mean(c)) / std_dev(c));
    output(x, y, c) = select(do_normalize, normalized, f);
  }

  void schedule() {
    const int vw = vector_width > 0 ? int(vector_width) : natural_vector_size<float>();
    input.dim(0).set_stride(1);
    output.dim(0).set_stride(Expr());  // CHW or HWC: any layout
    mean.dim(0).set_min(0);
    std_dev.dim(0).set_min(0);

    Expr planar = output.dim(0).stride() == 1;
    for (bool r : {true, false}) {
      for (bool n : {true, false}) {
        Expr cond = (do_rescale == r) && (do_normalize == n);
        output.specialize(cond && planar).vectorize(x, vw, TailStrategy::GuardWithIf);
        output.specialize(cond && !planar).reorder(c, x, y);
      }
    }
    if (parallel_rows > 0) output.parallel(y, parallel_rows);
    output.specialize_fail("unreachable");
  }
};

}  // namespace

HALIDE_REGISTER_GENERATOR(RescaleNormalize, rescale_normalize)
