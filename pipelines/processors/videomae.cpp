// VideoMAEImageProcessor: videos in, every frame processed as CLIP does it.
#include "pipelines/processors/declare.h"

namespace pixelflow::pipelines::processors {

namespace {

// Every frame as CLIP does it (without convert_rgb); the output is (N, T, C, H, W).
Plan videomae_plan(PlanBuilder& b) {
  b.plan.video = true;
  b.clip_chain();
  return b.plan;
}

}  // namespace

// models/videomae/image_processing_videomae.py
ProcessorDecl videomae() {
  return {
      .name = "VideoMAEImageProcessor",
      .model_types = {"timesformer", "videomae"},
      .init = params({resize_params(se(224), false, kBilinear), crop_params(true, hw(224, 224)), rescale_params(),
                      normalize_params(kImagenetStandardMean, kImagenetStandardStd)}),
      .data_arg = "videos",
      .call = {.size_norm = SizeNorm::kNonSquare, .resize_needs = ResizeNeeds::kShortestOrHeightWidth},
      .plan = videomae_plan,
      .infers_layout_per_image = true,
  };
}

}  // namespace pixelflow::pipelines::processors
