# libpixelflow.so and the CMake package that C++ consumers find:
#   find_package(pixelflow REQUIRED)
#   target_link_libraries(app PRIVATE pixelflow::pixelflow)
# The shared library holds the whole core (pixelflow_core, a position-independent archive, and
# the Halide kernels, linked in whole); headers go under include/pixelflow and are included as
# "pipelines/image_processor.h", "graph/tensor.h", ... (the consumer's include path gets
# include/pixelflow). Public dependencies (their headers appear in pixelflow's): nlohmann_json,
# dlpack; pixelflowConfig.cmake finds them. oneTBB is private (no public header includes it).
include(CMakePackageConfigHelpers)

add_library(pixelflow_shared SHARED cmake/empty.cpp)
set_target_properties(pixelflow_shared PROPERTIES OUTPUT_NAME pixelflow EXPORT_NAME pixelflow
                      VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
target_link_libraries(pixelflow_shared
  PRIVATE $<LINK_LIBRARY:WHOLE_ARCHIVE,pixelflow_core> TBB::tbb
  PUBLIC nlohmann_json::nlohmann_json dlpack::dlpack Threads::Threads)
target_include_directories(pixelflow_shared INTERFACE
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/pixelflow>)
add_library(pixelflow::pixelflow ALIAS pixelflow_shared)

install(TARGETS pixelflow_shared EXPORT pixelflowTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT library)
# Every header of base/, graph/, ops/, registry/, pipelines/ except ops/common/halide_util.h, the kernels' private
# helper (it includes Halide's HalideBuffer.h, which consumers do not have; no other header
# includes it). pipelines/models and pipelines/samples hold no headers (no empty folders).
foreach (dir base graph ops registry pipelines)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/pixelflow/${dir}
          COMPONENT library FILES_MATCHING PATTERN "*.h" PATTERN "*.def"
          PATTERN "halide_util.h" EXCLUDE PATTERN "models" EXCLUDE PATTERN "samples" EXCLUDE)
endforeach ()
# The bundled configs, also in this component (the top-level CMakeLists.txt installs the same
# folder with the CLI): pixelflowConfig.cmake checks that pixelflow_MODELS_DIR exists, so
# `cmake --install <build> --component library` alone must give a usable package.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/pipelines/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/pixelflow/models
        COMPONENT library)
install(EXPORT pixelflowTargets NAMESPACE pixelflow:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pixelflow
        COMPONENT library)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/pixelflowConfig.cmake.in
  ${CMAKE_BINARY_DIR}/pixelflowConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pixelflow
  PATH_VARS CMAKE_INSTALL_DATADIR)  # @PACKAGE_CMAKE_INSTALL_DATADIR@: prefix-relative, relocatable
write_basic_package_version_file(${CMAKE_BINARY_DIR}/pixelflowConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/pixelflowConfig.cmake ${CMAKE_BINARY_DIR}/pixelflowConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pixelflow COMPONENT library)
