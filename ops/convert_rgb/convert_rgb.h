// convert_rgb: Pillow 9.4's Image.convert("RGB") on decoded images, and ImageOps.exif_transpose.
#pragma once

#include "graph/tensor.h"
#include "ops/decode_image/decode_image.h"

namespace pixelflow::ops {

// np.array(img.convert("RGB")) for every mode decode_image produces: (H, W, 3) uint8.
//   "RGB"          returned as is (same storage, no copy)
//   "RGBA", "RGBX" alpha/padding dropped (no compositing)
//   "L", "LA"      luminance replicated (alpha dropped)
//   "1"            False -> 0, True -> 255
//   "P"            indices mapped through img.palette
//   "CMYK"         Pillow's cmyk2rgb: channel = 255 - k - c*(255-k)/255 (rounded MULDIV255)
//   "I"            clipped to 0..255
// Other modes raise InputError.
Tensor convert_rgb(const DecodedImage& img, BufferPool* pool = nullptr);

// PIL.ImageOps.exif_transpose: applies img.exif_orientation (2..8) to the pixels and sets it to 1.
// Mode, palette and format are kept. Orientation 1 returns the image unchanged.
DecodedImage exif_transpose(DecodedImage img, BufferPool* pool = nullptr);

// transformers.image_utils.load_image on a decoded image: exif_transpose, then convert("RGB").
Tensor load_image_rgb(const DecodedImage& img, BufferPool* pool = nullptr);

}  // namespace pixelflow::ops
