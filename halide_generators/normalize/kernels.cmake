# rescale + normalize + layout + channel map, one family per input element type. Variants differ
# in vector width (natural width of the target, or twice it) and, for 8-bit input, in splitting
# an image's rows over the TBB pool (latency of single large images; images already run in
# parallel in the graph).
pixelflow_halide_family(rescale_normalize_uint8
                        GENERATOR rescale_normalize
                        PARAMS input.type=uint8
                        VARIANTS default "-"
                                 wide "vector_width=32"
                                 rows "parallel_rows=32")
foreach (type float32 float64)
  pixelflow_halide_family(rescale_normalize_${type}
                          GENERATOR rescale_normalize
                          PARAMS input.type=${type}
                          VARIANTS default "-"
                                   wide "vector_width=32")
endforeach ()

# For comparison only (bench/bench_kernels): the same generator scheduled by Debian's Halide
# autoscheduler. Not a selectable variant: its schedule assumes outputs at least a vector wide.
if (PIXELFLOW_BUILD_BENCH)
  pixelflow_halide_library(rescale_normalize_uint8_mullapudi2016 GENERATOR rescale_normalize
                           PARAMS input.type=uint8 AUTOSCHEDULER Mullapudi2016)
endif ()
