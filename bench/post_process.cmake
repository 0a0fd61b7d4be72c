# Benchmark of post_process_semantic_segmentation (W4 of shared/PEERS.md): fused kernel vs the
# scalar reference vs "materialize then argmax". Included from bench/CMakeLists.txt.
if (NOT TARGET pixelflow_bench_post_process)
  add_executable(pixelflow_bench_post_process ${CMAKE_CURRENT_LIST_DIR}/bench_post_process.cpp)
  target_link_libraries(pixelflow_bench_post_process PRIVATE pixelflow_core TBB::tbb)
endif ()
