# rescale + normalize + layout (+ crop padding), one library per input element type.
foreach (type uint8 float32 float64)
  pixelflow_halide_library(rescale_normalize_${type}
                           GENERATOR rescale_normalize
                           PARAMS input.type=${type})
endforeach ()
