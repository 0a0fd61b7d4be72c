// rescale_normalize: Hugging Face's rescale and normalize, with the channel-layout change,
// center_crop's zero padding and a channel permutation folded in:
//   rescale   f = float32(float64(v) * scale) - offset   (HF rescale: float64 product stored as
//                                                          float32; offset is EfficientNet's /
//                                                          ImageGPT's "- 1", 0 otherwise)
//   normalize f = (f - mean[c]) / std[c]                   (float32, true division, no FMA)
// Input (c, x, y) is interleaved HWC; a crop is a shifted view of it (the caller moves the
// input's min coordinates; windows that need zero padding go to pointwise_lut, which pads).
// Output (x, y, c) is CHW when dim 0 is dense and HWC otherwise; output channel c takes input
// channel channel_map[c] (flip_channel_order after the arithmetic). do_rescale / do_normalize
// are runtime switches, specialized so that each combination runs straight-line code.
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
  Input<Buffer<float, 1>> mean{"mean"};  // per input channel, already float32
  Input<Buffer<float, 1>> std_dev{"std_dev"};
  Input<Buffer<int32_t, 1>> channel_map{"channel_map"};  // output channel -> input channel
  Output<Buffer<float, 3>> output{"output"};

  Var x{"x"}, y{"y"}, c{"c"};

  void generate() {
    Expr src_c = clamp(channel_map(c), 0, input.dim(0).extent() - 1);
    Expr v = input(src_c, x, y);
    Expr rescaled = strict_float(cast<float>(cast<double>(v) * scale) - offset);
    Expr f = select(do_rescale, rescaled, cast<float>(v));
    Expr normalized = strict_float((f - mean(src_c)) / std_dev(src_c));
    output(x, y, c) = select(do_normalize, normalized, f);
  }

  void schedule() {
    const int vw = vector_width > 0 ? int(vector_width) : natural_vector_size<float>();
    input.dim(0).set_stride(1);
    output.dim(0).set_stride(Expr());  // CHW or HWC: any layout
    mean.dim(0).set_min(0);
    std_dev.dim(0).set_min(0);
    if (auto_schedule) {
      // The benchmark's geometry (CLIP): 224 x 224 RGB in, CHW out.
      input.set_estimates({{0, 3}, {0, 224}, {0, 224}});
      mean.set_estimates({{0, 3}});
      std_dev.set_estimates({{0, 3}});
      channel_map.set_estimates({{0, 3}});
      do_rescale.set_estimate(true);
      do_normalize.set_estimate(true);
      scale.set_estimate(1.0 / 255);
      offset.set_estimate(0.0f);
      output.set_estimates({{0, 224}, {0, 224}, {0, 3}});
      return;
    }

    // Split rows over the thread pool first: specializations copy the schedule made before them.
    if (parallel_rows > 0) output.parallel(y, parallel_rows, TailStrategy::GuardWithIf);
    Expr planar = output.dim(0).stride() == 1;
    // Three interleaved channels, planar output: each pixel's channels are computed together
    // from one dense load.
    Expr rgb = input.dim(0).extent() == 3 && input.dim(1).stride() == 3 && output.dim(2).extent() == 3;
    for (bool r : {true, false}) {
      for (bool n : {true, false}) {
        Expr cond = (do_rescale == r) && (do_normalize == n);
        output.specialize(cond && planar && rgb)
            .reorder(c, x, y)
            .unroll(c)
            .vectorize(x, vw, TailStrategy::GuardWithIf);
        output.specialize(cond && planar).vectorize(x, vw, TailStrategy::GuardWithIf);
        output.specialize(cond && !planar).reorder(c, x, y);
      }
    }
    output.specialize_fail("unreachable");
  }
};

}  // namespace

HALIDE_REGISTER_GENERATOR(RescaleNormalize, rescale_normalize)
