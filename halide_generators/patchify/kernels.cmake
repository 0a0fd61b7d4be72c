# Qwen2-VL's patch layout (+ rescale / normalize): 8-bit interleaved RGB pixels (the fused chain)
# and float32 images of any layout and channel count (the patchify op alone, float input).
# Variants: the target's natural vector width, or rows of merge blocks split over the TBB pool
# (one large image per call is the common VLM case).
pixelflow_halide_family(patchify_uint8
                        GENERATOR patchify
                        PARAMS input.type=uint8 channels=3
                        VARIANTS default "-"
                                 blocks "parallel_blocks=true")
pixelflow_halide_family(patchify_float32
                        GENERATOR patchify
                        PARAMS input.type=float32
                        VARIANTS default "-"
                                 blocks "parallel_blocks=true")
