# Semantic-segmentation post-processing: bilinear resize with PyTorch's float32 arithmetic, fused
# with argmax over classes (see the generator file for the split into stages).
foreach (kernel transpose horizontal vertical_argmax argmax)
  pixelflow_halide_library(post_process_semantic_segmentation_${kernel}
                           GENERATOR post_process_semantic_segmentation_${kernel})
endforeach ()
