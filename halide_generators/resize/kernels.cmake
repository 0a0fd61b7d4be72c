# resize: Pillow's two resampling passes, each a kernel family (graph/kernels.h) of one generator
# built once per variant (schedule knobs as GeneratorParams); the library of variant V of
# generator G is G_V. The first variant of each pass is the default (the fastest on the project's
# reference machine, a 2-core AMD EPYC Zen 5 VM with AVX-512); `pixelflow tune` picks per CPU.

# Target levels. The kernels' byte transposes are much cheaper with AVX512-VBMI (vpermb,
# vpermt2b: about 10% of the whole resize on the reference machine), so a runtime-dispatch list
# (several targets) that starts at the Skylake AVX-512 level gets the Cannon Lake level (IFMA +
# VBMI: Ice Lake and later, AMD Zen 4 and later) in front of it. dot_product=true (the byte-digit
# formulation of resize_horizontal) needs AVX512-VNNI, which Halide 14 enables with its Sapphire
# Rapids level (VNNI + BF16 on top of Cannon Lake; Zen 4 and 5 qualify): variants built with it
# get that level in front as well (their targets= knob). Runtime dispatch picks the first level
# the CPU has. Any other list, a single target in particular, is used as given.
set(pixelflow_resize_targets ${PIXELFLOW_HALIDE_TARGETS})
set(pixelflow_resize_vnni_targets ${PIXELFLOW_HALIDE_TARGETS})
list(LENGTH PIXELFLOW_HALIDE_TARGETS target_count)
list(GET PIXELFLOW_HALIDE_TARGETS 0 first_target)
if (target_count GREATER 1 AND first_target MATCHES "avx512_skylake"
    AND NOT first_target MATCHES "avx512_cannonlake|avx512_sapphirerapids")
  set(cannonlake "${first_target}-avx512_cannonlake")
  list(PREPEND pixelflow_resize_targets "${cannonlake}")
  list(PREPEND pixelflow_resize_vnni_targets
       "${cannonlake}-avx512_sapphirerapids" "${cannonlake}")
endif ()
list(JOIN pixelflow_resize_vnni_targets "," vnni_targets)

pixelflow_halide_family(resize_horizontal GENERATOR resize_horizontal
                        TARGETS ${pixelflow_resize_targets}
                        VARIANTS default "-"
                                 vnni    "dot_product=true max_unrolled_taps=0 targets=${vnni_targets}"
                                 qb16    "column_block=16")

# mullapudi2016: the vertical pass scheduled by Debian's Halide autoscheduler instead of its
# schedule(): a variant like the others (tested for exactness, timed by pixelflow tune), there to
# compare hand-written schedules with an autoscheduler's.
pixelflow_halide_family(resize_vertical GENERATOR resize_vertical
                        TARGETS ${pixelflow_resize_targets}
                        VARIANTS default       "-"
                                 narrow        "vectors=2"
                                 unroll4       "tap_unroll=4"
                                 mullapudi2016 "autoscheduler=Mullapudi2016")
