# Qwen2-VL's patch layout (+ rescale / normalize): 8-bit interleaved RGB pixels (the fused chain)
# and float32 images of any layout and channel count (the patchify op alone, float input).
# Variants: rows of merge blocks split over the TBB pool (the default: one large image per call
# is the common VLM case), or one loop.
pixelflow_halide_family(patchify_uint8
                        GENERATOR patchify
                        PARAMS input.type=uint8 channels=3
                        VARIANTS default "parallel_blocks=true"
                                 serial "-")
pixelflow_halide_family(patchify_float32
                        GENERATOR patchify
                        PARAMS input.type=float32
                        VARIANTS default "parallel_blocks=true"
                                 serial "-")
