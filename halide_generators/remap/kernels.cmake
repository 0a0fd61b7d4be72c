# One library per element type that flows through the graph.
foreach (type uint8 float32 float64)
  pixelflow_halide_library(remap_${type} GENERATOR remap PARAMS input.type=${type} output.type=${type})
endforeach ()
