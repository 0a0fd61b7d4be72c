// resize: Pillow's Image.resize(size, resample) on 8-bit images, bit for bit, and Hugging Face's
// image_transforms.resize for float arrays (which goes through uint8 and Pillow).
//
// Specification: Pillow 9.4, src/libImaging/Resample.c (two-pass separable fixed-point
// convolution, support scaled by the downscale factor, horizontal pass first over only the rows
// the vertical pass needs, 8-bit clamping between the passes, a pass skipped when its axis keeps
// its size) and, for NEAREST, the affine nearest-neighbour scaling of Geometry.c that
// Image.resize takes. An output of the input's size is a copy, whatever the filter.
//
// Everything here is const and thread-safe; scratch memory is per thread and reused.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "graph/rect.h"
#include "graph/tensor.h"

namespace pixelflow::ops {

// Pillow's filter codes (PIL.Image.Resampling).
enum class Resample : int {
  kNearest = 0,
  kLanczos = 1,
  kBilinear = 2,
  kBicubic = 3,
  kBox = 4,
  kHamming = 5,
};

// "NEAREST", "LANCZOS", ... (Pillow's names).
const char* resample_name(Resample r);
// Validates a config integer; throws ConfigError(key_path, ...) listing the valid codes.
Resample resample_from_int(int64_t code, const std::string& key_path);

// The functions below compute a window of the resized image: a Rect in output coordinates, which
// may extend beyond the output (pixels outside [0, out_w) x [0, out_h) are 0; Rect::full(out_h,
// out_w) is the whole image). This is how center_crop (with Hugging Face's zero padding) is fused
// into resize.
//
// in: (H, W, C) uint8, C in {1, 3, 4}, contiguous. out: (window.height, window.width, C) uint8,
// preallocated, contiguous. Result equals
//   np.array(PIL.Image.fromarray(in).resize((out_w, out_h), filter))[y:y+h, x:x+w]
// with zeros outside the resized image. C = 4 resamples the four channels independently (mode
// "RGBX"/"CMYK" semantics); Pillow's RGBA path (premultiplied alpha) is not reproduced.
// Only the window's pixels are computed (and only the input rows and columns they need).
// Throws InputError on bad shapes or sizes (Pillow's limits: sizes in [1, 2^31)).
void resize_u8(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
               const Rect& window, Tensor& out);

// The same contract, as plain scalar C++ following Pillow's loops: the oracle of kernel tests.
void resize_u8_reference(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                         const Rect& window, Tensor& out);

// resize_u8 computed from the input's rows as they arrive, top to bottom (same contract, same
// bytes): the horizontal pass runs on each strip of 32 rows as soon as it is complete, while the
// strip is still in cache, into the vertical pass's intermediate image, and the vertical pass
// runs in finish(). The input is never held whole: rows go into a small reused strip buffer.
// Rows and columns the passes do not read may be skipped (or hold anything). Scratch memory is
// per thread and reused: create, feed and finish a stream on one thread.
//   begin(x, width)   the rows will hold input columns [x, x + width), which must contain every
//                     column a non-zero coefficient reads (std::logic_error otherwise);
//   row(y)            where to write row y's columns (width * C bytes), nullptr if unread;
//                     y increasing from call to call;
//   rows_done(y_end)  rows before y_end are written;
//   finish(out)       out: (window.height, window.width, C) uint8, as resize_u8 writes it.
class ResizeStream {
 public:
  // Whether resize_u8 with these arguments (an (in_h, in_w, c) input) streams: valid arguments,
  // a convolution filter (not NEAREST) with a horizontal pass (out_w != in_w), a window that
  // overlaps the resized image.
  static bool supported(int64_t in_h, int64_t in_w, int64_t c, int64_t out_h, int64_t out_w,
                        Resample filter, const Rect& window);
  // Throws InputError unless supported().
  ResizeStream(int64_t in_h, int64_t in_w, int64_t c, int64_t out_h, int64_t out_w, Resample filter,
               const Rect& window);
  ~ResizeStream();
  ResizeStream(const ResizeStream&) = delete;
  ResizeStream& operator=(const ResizeStream&) = delete;

  void begin(int64_t x, int64_t width);
  uint8_t* row(int64_t y);
  void rows_done(int64_t y_end);
  void finish(Tensor& out);

 private:
  struct State;
  std::unique_ptr<State> st_;
};

// Convenience: the whole resized image, allocated (from `pool` when given).
Tensor resize_u8(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                 BufferPool* pool = nullptr);

// Hugging Face's image_transforms.resize (PIL backend, reducing_gap=None) for an (H, W, C)
// channels-last array, C in {1, 3}:
//  - uint8: resized as is, uint8 out;
//  - float32/float64 whose values are all integers (np.allclose(x, x.astype(int))) in [0, 255]:
//    cast to uint8 by truncation, resized, uint8 out;
//  - otherwise values all in [0, 1]: float32(float64(x) * 255) truncated to uint8, resized, and
//    rescaled back as float32(float64(u8) * (1/255)): float32 out;
//  - anything else: InputError with Hugging Face's message, naming `input_name`.
Tensor resize_float_hf(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter,
                       const std::string& input_name, BufferPool* pool = nullptr);
// Integer arrays (bool, uint16, int32, int64) as float64, exactly: what resize_float_hf takes for
// Hugging Face's integral path.
Tensor integers_as_float64(const Tensor& in, BufferPool* pool = nullptr);

// Hugging Face's to_pil_image on an (H, W, C) channels-last array, as far as the pixels go: uint8
// as is; float32/float64 as _rescale_for_pil_conversion decides (integers in [0, 255] truncated,
// else values in [0, 1] as uint8(float32(float64(x) * 255)), else InputError naming
// `input_name`). `rescaled` (when given) tells which.
Tensor to_pil_uint8(const Tensor& in, const std::string& input_name, bool* rescaled = nullptr,
                    BufferPool* pool = nullptr);

// np.array(to_pil_image(x, image_mode="P" if one channel).resize((out_w, out_h), filter)) for an
// (H, W, C) array, C in {1, 3, 4} (Idefics3's and SmolVLM's resize): the array goes to uint8 as
// to_pil_image takes it (to_pil_uint8) and stays uint8. Pillow's mode rules apply: a "P" image
// (pil_filter; one channel held channels last) is resized with NEAREST whatever `filter` says;
// four channels are "RGBA", resized
// (unless NEAREST) in premultiplied "RGBa" and converted back (Pillow's integer formulas). An
// output of the input's size is a copy.
Tensor resize_pil(const Tensor& in, int64_t out_h, int64_t out_w, Resample filter, const std::string& input_name,
                  BufferPool* pool = nullptr, bool channels_first = false);
// The filter Pillow uses on to_pil_image(x, image_mode="P" if x.ndim == 2 or x.shape[-1] == 1) of
// an (H, W, C) image whose array transformers holds channels first (`channels_first`: (C, H, W),
// so "P" when W is 1) or last ("P" when C is 1): NEAREST for a "P" image, else `filter`.
Resample pil_filter(int64_t channels, int64_t width, bool channels_first, Resample filter);
// InputError where that "P" image has several channels (channels first, width 1): PIL's fromarray
// raises "Too many dimensions: 3 > 2."
void check_pil_mode(int64_t channels, int64_t width, bool channels_first, const std::string& input_name);
// Pillow's RGBA -> RGBa and RGBa -> RGBA conversions of an (H, W, 4) uint8 image, in place.
void premultiply_alpha(Tensor& rgba);
void unpremultiply_alpha(Tensor& rgba);

}  // namespace pixelflow::ops
