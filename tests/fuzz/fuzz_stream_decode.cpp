// libFuzzer, differential: bytes -> one input of a CLIP-like pipeline, run with the fused load
// (a JPEG's rows streamed from libjpeg-turbo into the first resize's horizontal pass, on the
// decoded region only) and without it (decode the whole image, then resize). Both must give the
// same bytes, or both the same one-line error: any difference, crash or sanitizer report is a
// finding. The settings come from the input's size (so that every seed, a plain JPEG file,
// reaches several of them as the mutations change its length): resize filter (all six), with or
// without the center crop, load_image (EXIF orientation, RGB conversion) or not, the region plan
// on or off.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "registry/builder.h"
#include "graph/pipeline.h"
#include "ops/load_input/load_input.h"
#include "pipelines/image_processor.h"
#include "tests/fuzz/fuzz_common.h"

using namespace pixelflow;

namespace {

struct Setting {
  int filter;
  bool crop, load_image, region;
};

struct Built {
  Plan plan;
  Pipeline pipeline;
};

// The plan and pipeline of a setting, built anew for each input: a cached pipeline keeps its
// buffer pool (up to 1 GiB of freed buffers each), and 24 settings' pools would exhaust the
// fuzzer's memory limit with buffers of inputs long gone.
Built build(const Setting& s) {
  static const pipelines::ImageProcessor clip =
      pipelines::ImageProcessor::from_pretrained("openai/clip-vit-base-patch32");
  pipelines::CallOptions opts;
  opts.load_image = s.load_image;
  Plan plan = clip.plan({{"resample", s.filter}, {"do_center_crop", s.crop}}, opts);
  plan.load.max_pixels = 1 << 18;  // 512 x 512: streams strips as large images do, in bounded memory
  Pipeline p = build_pipeline(plan);
  // An input of extreme aspect ratio is refused when an array of it would exceed this (an input
  // error for both loads); far below the default (4 x 178956970), within the fuzzer's memory.
  p.set_max_sample_values(int64_t(4) << 20);
  return Built{std::move(plan), std::move(p)};
}

struct Outcome {
  std::optional<Tensor> image;
  std::string error;
};

Outcome run(const Built& b, std::string_view bytes, bool fuse_load, bool region) {
  RunOptions run;
  run.threads = 1;
  run.fuse_load = fuse_load;
  OutputOptions out;
  out.stacked = false;
  Outcome o;
  try {
    ops::InputLoader loader({ops::InputItem::borrow_bytes(bytes, "fuzz.jpg")}, b.plan.load);
    if (!b.pipeline.image_ops().empty()) loader.set_first_op(b.pipeline.image_ops().front(), region);
    BatchFeature f = b.pipeline.run(loader, run, out);
    o.image = f.list(b.plan.image_key).at(0);
  } catch (const Error& e) {
    fuzz::check_message(e);
    o.error = e.what();
  }
  return o;
}

[[noreturn]] void mismatch(const Setting& s, const std::string& what) {
  std::fprintf(stderr, "fuzz_stream_decode: fused and unfused loads differ (filter %d, crop %d, load_image %d, "
               "region %d): %s\n", s.filter, s.crop, s.load_image, s.region, what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Setting s{static_cast<int>(size % 6), (size / 6) % 2 == 0, (size / 12) % 2 == 1, (size / 24) % 4 != 0};
  const Built b = build(s);
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Outcome unfused = run(b, bytes, false, s.region);
  const Outcome fused = run(b, bytes, true, s.region);
  if (unfused.image.has_value() != fused.image.has_value())
    mismatch(s, unfused.image ? "only the fused load failed: " + fused.error
                              : "only the unfused load failed: " + unfused.error);
  if (!unfused.image) {
    if (unfused.error != fused.error) mismatch(s, "errors [" + unfused.error + "] vs [" + fused.error + "]");
    return 0;
  }
  const Tensor& x = *unfused.image;
  const Tensor& y = *fused.image;
  if (x.dtype() != y.dtype() || x.shape() != y.shape() || std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) != 0)
    mismatch(s, "different output bytes");
  return 0;
}
