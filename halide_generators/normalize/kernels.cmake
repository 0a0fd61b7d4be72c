# rescale + normalize + layout + channel map, one family per input element type. Variants differ
# in vector width (natural width of the target, or twice it).
foreach (type uint8 float32 float64)
  pixelflow_halide_family(rescale_normalize_${type}
                          GENERATOR rescale_normalize
                          PARAMS input.type=${type}
                          VARIANTS default "-"
                                   wide "vector_width=32")
endforeach ()
