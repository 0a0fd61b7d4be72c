# Table-driven per-pixel chains on 8-bit data (with crop padding, channel map and layout).
pixelflow_halide_family(pointwise_lut GENERATOR pointwise_lut
                        VARIANTS default "-"
                                 wide "vector_width=32")
