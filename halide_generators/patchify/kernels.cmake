# Qwen2-VL's patch layout (+ rescale / normalize), one family per input element type: 8-bit
# interleaved pixels (the fused chain) and float32 planar images (the patchify op alone).
# Variants: the target's natural vector width, or rows of merge blocks split over the TBB pool
# (one large image per call is the common VLM case).
foreach (type uint8 float32)
  pixelflow_halide_family(patchify_${type}
                          GENERATOR patchify
                          PARAMS input.type=${type}
                          VARIANTS default "-"
                                   blocks "parallel_blocks=true")
endforeach ()
