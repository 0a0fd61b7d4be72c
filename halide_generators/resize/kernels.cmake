# resize: Pillow's two resampling passes (one library each; schedule knobs are GeneratorParams).
pixelflow_halide_library(resize_horizontal GENERATOR resize_horizontal)
pixelflow_halide_library(resize_vertical GENERATOR resize_vertical)
