#include "ops/load_input/load_input.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <tmmintrin.h>
#endif
#include <functional>

#include "base/errors.h"
#include "base/file_io.h"
#include "graph/npy.h"
#include "ops/convert_rgb/convert_rgb.h"
#include "ops/decode_image/decode_image.h"

namespace pixelflow::ops {

static_assert(LoadSpec{}.max_pixels == kDefaultMaxImagePixels, "one default decompression-bomb limit");

namespace {

// RGBX -> RGB, 4 pixels per shuffle (PIL keeps "RGB" pixels in 4 bytes). Writes 16 bytes where
// 12 are due, so it stops 6 pixels before the end (3x + 16 <= 3w) and the tail is scalar.
#if defined(__x86_64__)
__attribute__((target("ssse3"))) size_t rgbx_to_rgb_ssse3(uint8_t* out, const uint8_t* in, size_t w) {
  const __m128i mask = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  size_t x = 0;
  for (; x + 6 <= w; x += 4)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 3 * x),
                     _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 4 * x)), mask));
  return x;
}
#endif

// `width` pixels of `channels` bytes from pixels `pixel_bytes` apart (PixelRows).
void copy_pixels(uint8_t* out, const uint8_t* in, int64_t width, int channels, int pixel_bytes) {
  const auto w = static_cast<size_t>(width), c = static_cast<size_t>(channels);
  if (channels == pixel_bytes) {
    std::memcpy(out, in, w * c);
  } else if (channels == 3 && pixel_bytes == 4) {
#if defined(__x86_64__)
    static const bool ssse3 = __builtin_cpu_supports("ssse3");
    size_t x = ssse3 ? rgbx_to_rgb_ssse3(out, in, w) : 0;
#else
    size_t x = 0;
#endif
    for (; x < w; ++x) {
      out[3 * x] = in[4 * x];
      out[3 * x + 1] = in[4 * x + 1];
      out[3 * x + 2] = in[4 * x + 2];
    }
  } else {
    for (size_t x = 0; x < w; ++x) std::memcpy(out + c * x, in + static_cast<size_t>(pixel_bytes) * x, c);
  }
}

bool is_npy(const InputItem& item) {
  if (item.array.defined() || item.pixel_rows.rows) return false;
  if (!item.bytes.empty()) return item.bytes.substr(0, 6) == std::string_view("\x93NUMPY", 6);
  return item.path.ends_with(".npy");
}

// Shape of an image as np.array gives it for a PIL mode.
Shape mode_shape(const std::string& mode, int64_t h, int64_t w) {
  if (mode == "RGB" || mode == "YCbCr" || mode == "LAB" || mode == "HSV") return {h, w, 3};
  if (mode == "RGBA" || mode == "CMYK" || mode == "RGBX" || mode == "RGBa") return {h, w, 4};
  if (mode == "LA" || mode == "PA" || mode == "La") return {h, w, 2};
  return {h, w};
}

// The decompression-bomb limit for arrays (LoadSpec::max_pixels): the product of the two
// largest dimensions (H x W of an HW, HWC or CHW array), checked on the header.
void check_array_pixels(const Shape& shape, int64_t max_pixels, const std::string& name) {
  if (max_pixels <= 0 || shape.empty()) return;
  Shape dims = shape;
  std::sort(dims.begin(), dims.end(), std::greater<int64_t>());
  const __int128 pixels = dims.size() == 1 ? dims[0] : static_cast<__int128>(dims[0]) * dims[1];
  if (pixels > max_pixels) {
    throw DecodeError(name, "array of shape " + shape_str(shape) + " has " +
                                std::to_string(static_cast<int64_t>(pixels)) + " pixels, more than the limit of " +
                                std::to_string(max_pixels) + " (possible decompression bomb)");
  }
}

// The item's encoded bytes: in memory, or read from its file (a regular file only,
// base/file_io.h) into `storage`.
std::string_view encoded(const InputItem& item, std::string& storage) {
  if (!item.bytes.empty()) return item.bytes;
  storage = read_regular_file(item.path);
  return storage;
}

}  // namespace

Layout infer_channel_dimension_format(const Shape& shape, bool four_channels) {
  if (shape.size() != 3)
    throw InputError("Unsupported number of image dimensions: " + std::to_string(shape.size()));
  auto is_channels = [four_channels](int64_t d) { return d == 1 || d == 3 || (four_channels && d == 4); };
  if (is_channels(shape[0])) return Layout::kChannelsFirst;
  if (is_channels(shape[2])) return Layout::kChannelsLast;
  throw InputError("Unable to infer channel dimension format");
}

Tensor to_channels_last(const Tensor& t, Layout layout, BufferPool* pool) {
  if (t.ndim() == 2) return t.reshape({t.dim(0), t.dim(1), 1});
  if (t.ndim() != 3)
    throw InputError("expected an image array of 2 or 3 dimensions, got shape " + shape_str(t.shape()));
  if (layout == Layout::kChannelsLast) return t;
  const int64_t c = t.dim(0), h = t.dim(1), w = t.dim(2);
  Tensor out = Tensor::empty(t.dtype(), {h, w, c}, pool);
  const size_t es = dtype_size(t.dtype());
  const char* src = static_cast<const char*>(t.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        std::memcpy(dst + ((y * w + x) * c + k) * es, src + ((k * h + y) * w + x) * es, es);
  return out;
}

Layout infer_input_layout(const InputItem& item, const LoadSpec& spec) {
  return infer_channel_dimension_format(input_shape(item, spec), spec.infer_layout_4_channels);
}

Shape input_shape(const InputItem& item, const LoadSpec& spec) {
  Shape shape;
  if (item.array.defined()) {
    shape = item.array.shape();
  } else if (item.pixel_rows.rows) {
    shape = item.pixel_rows.shape();
  } else if (is_npy(item)) {
    shape = item.bytes.empty() ? read_npy_file_header(item.path, item.display_name()).shape
                               : parse_npy_header(item.bytes.data(), item.bytes.size(), item.display_name()).shape;
  } else {
    std::string storage;
    std::string_view bytes = encoded(item, storage);
    ImageInfo info =
        probe_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), item.display_name());
    if (spec.exif_transpose || spec.convert_rgb) {
      bool swap = spec.exif_transpose && info.exif_orientation >= 5 && info.exif_orientation <= 8;
      shape = swap ? Shape{info.width, info.height, 3} : Shape{info.height, info.width, 3};
    } else {
      shape = mode_shape(info.mode, info.height, info.width);
    }
  }
  return shape;
}

InputLoader::InputLoader(std::vector<InputItem> items, LoadSpec spec)
    : items_(std::move(items)), spec_(spec) {
  if (spec_.input_data_format) {
    layout_ = *spec_.input_data_format;
    return;
  }
  if (items_.empty() || spec_.infer_layout_per_input) return;
  const InputItem& first = items_[0];
  try {
    layout_ = infer_input_layout(first, spec_);
  } catch (Error& e) {
    e.add_source(first.display_name());  // unless the message names the input already
    throw;
  }
}

void InputLoader::set_first_op(OpPtr op, bool region, bool approximate) {
  first_op_ = std::move(op);
  region_ = region;
  approximate_ = approximate;
}

namespace {

// Where pixel (x, y) of the image exif_transpose gives for `orientation` (2..8) comes from in
// the decoded h x w image (as convert_rgb.cpp's transpose_pixels reads it).
std::pair<int64_t, int64_t> source_of(int64_t x, int64_t y, int orientation, int64_t h, int64_t w) {
  if (orientation <= 4) return {orientation == 4 ? x : w - 1 - x, orientation == 2 ? y : h - 1 - y};
  const bool column_reversed = orientation == 7 || orientation == 8;
  const bool rows_reversed = orientation == 6 || orientation == 7;
  return {column_reversed ? w - 1 - y : y, rows_reversed ? h - 1 - x : x};
}

}  // namespace

std::optional<TensorSpec> InputLoader::first_op_input(const ImageInfo& info) const {
  // The array the first op will see: orientation applied, converted, channels-last.
  const int orientation = spec_.exif_transpose ? info.exif_orientation : 1;
  const bool swap = orientation >= 5 && orientation <= 8;
  const int64_t h = swap ? info.width : info.height, w = swap ? info.height : info.width;
  Shape seen = spec_.exif_transpose || spec_.convert_rgb ? Shape{h, w, 3} : mode_shape(info.mode, h, w);
  if (seen.size() == 3) {
    Layout layout = layout_;
    if (spec_.infer_layout_per_input && !spec_.input_data_format) {
      try {
        layout = infer_channel_dimension_format(seen, spec_.infer_layout_4_channels);
      } catch (const Error&) {
        return std::nullopt;  // load() reports it
      }
    }
    if (layout != Layout::kChannelsLast) return std::nullopt;  // the op would see the pixels moved
  } else {
    // A 2-D image whose layout is inferred on its own is refused by load() (as Hugging Face's
    // infer_channel_dimension_format refuses 2-D arrays): not streamed past that check.
    if (spec_.infer_layout_per_input && !spec_.input_data_format) return std::nullopt;
    seen = {h, w, 1};
  }
  return TensorSpec{DType::kUInt8, seen};
}

std::optional<TensorSpec> InputLoader::streamed_input(const ImageInfo& info) const {
  if (spec_.exif_transpose && info.exif_orientation >= 2 && info.exif_orientation <= 8) return std::nullopt;
  if ((spec_.exif_transpose || spec_.convert_rgb) && info.mode != "RGB") return std::nullopt;  // converted
  if (info.mode != "RGB" && info.mode != "L" && info.mode != "CMYK") return std::nullopt;
  return first_op_input(info);
}

DecodePlan InputLoader::decode_plan(const ImageInfo& info) const {
  DecodePlan plan;
  if (!first_op_ || (!region_ && !approximate_)) return plan;
  const std::optional<TensorSpec> in = first_op_input(info);
  if (!in) return plan;
  const int orientation = spec_.exif_transpose ? info.exif_orientation : 1;
  const bool transposed = orientation >= 2 && orientation <= 8;

  if (approximate_) {
    const int64_t f = first_op_->max_input_reduction(*in);
    plan.reduce = f >= 8 ? 8 : f >= 4 ? 4 : f >= 2 ? 2 : 1;
    if (plan.reduce > 1) return plan;
  }
  if (!region_) return plan;
  std::optional<Rect> r = first_op_->input_region(*in);
  if (!r) return plan;
  if (r->width <= 0 || r->height <= 0) r = Rect{0, 0, 1, 1};  // nothing is read
  if (!transposed) {
    plan.region = Rect{r->x, r->y, r->width, r->height};
    return plan;
  }
  auto [ax, ay] = source_of(r->x, r->y, orientation, info.height, info.width);
  auto [bx, by] = source_of(r->x + r->width - 1, r->y + r->height - 1, orientation, info.height, info.width);
  plan.region = Rect{std::min(ax, bx), std::min(ay, by), std::abs(ax - bx) + 1, std::abs(ay - by) + 1};
  return plan;
}

Tensor InputLoader::read_array(const InputItem& item, bool convert, const ExecContext& ctx, bool for_first_op,
                               SampleAttributes* attributes,
                               std::unique_ptr<RowConsumer>* stream) const {
  if (item.array.defined()) return item.array;
  if (const InputItem::PixelRows& r = item.pixel_rows; r.rows) {
    if (r.height <= 0 || r.width <= 0 || r.channels < 1 || r.pixel_bytes < r.channels)
      throw InputError(item.display_name() + ": invalid pixel rows (" + std::to_string(r.height) + " x " +
                       std::to_string(r.width) + ", " + std::to_string(r.channels) + " of " +
                       std::to_string(r.pixel_bytes) + " bytes per pixel)");
    Tensor t = Tensor::empty(DType::kUInt8, r.shape(), ctx.pool);
    uint8_t* out = t.data<uint8_t>();
    for (int64_t y = 0; y < r.height; ++y, out += r.width * r.channels)
      copy_pixels(out, r.rows[y], r.width, r.channels, r.pixel_bytes);
    return t;
  }
  if (is_npy(item)) {
    std::string storage;
    std::string_view bytes = item.bytes;
    if (bytes.empty()) {  // the header is checked before the data is read
      storage = read_npy_file(item.path, item.display_name(), [&](const TensorSpec& spec) {
        check_array_pixels(spec.shape, spec_.max_pixels, item.display_name());
      });
      bytes = storage;
    }
    check_array_pixels(parse_npy_header(bytes.data(), bytes.size(), item.display_name()).shape, spec_.max_pixels,
                       item.display_name());
    return parse_npy(bytes.data(), bytes.size(), item.display_name(), ctx.pool);
  }
  DecodeOptions opts;
  opts.max_pixels = spec_.max_pixels;
  int64_t full_h = 0, full_w = 0;
  std::unique_ptr<RowConsumer> consumer;
  if (for_first_op && first_op_ && (region_ || approximate_ || stream)) {
    opts.plan = [&](const ImageInfo& info) {
      const bool swap = spec_.exif_transpose && info.exif_orientation >= 5 && info.exif_orientation <= 8;
      full_h = swap ? info.width : info.height;
      full_w = swap ? info.height : info.width;
      DecodePlan plan = decode_plan(info);
      if (stream && plan.reduce == 1) {
        if (const std::optional<TensorSpec> in = streamed_input(info)) {
          consumer = first_op_->row_consumer(*in);
          plan.rows = consumer.get();
        }
      }
      return plan;
    };
  }
  DecodedImage img =
      item.bytes.empty()
          ? decode_image_file(item.path, opts, ctx.pool)
          : decode_image(reinterpret_cast<const uint8_t*>(item.bytes.data()), item.bytes.size(),
                         item.display_name(), opts, ctx.pool);
  if (img.streamed) {
    *stream = std::move(consumer);
    return Tensor();
  }
  if (img.reduce > 1 && attributes) attributes->set(ReducedInput{full_h, full_w});
  if (convert && spec_.exif_transpose) return convert_rgb(exif_transpose(std::move(img), ctx.pool), ctx.pool);
  if (convert && spec_.convert_rgb) return convert_rgb(img, ctx.pool);
  return img.pixels;
}

Tensor InputLoader::read_labels(const InputItem& item, const ExecContext& ctx) const {
  InputItem map;
  map.path = item.labels_path;
  map.array = item.labels_array;
  map.name = item.labels_path.empty() ? item.display_name() + " (segmentation map)" : item.labels_path;
  Tensor t = read_array(map, /*convert=*/false, ctx);
  if (t.ndim() != 2)
    throw InputError(map.display_name() + ": segmentation maps must be 2-D (H, W), got shape " +
                     shape_str(t.shape()));
  return t;
}

void InputLoader::finish_load(Sample& s, const InputItem& item, Tensor raw, const ExecContext& ctx) const {
  if (raw.ndim() != 2 && raw.ndim() != 3)
    throw InputError("expected an image of 2 or 3 dimensions, got an array of shape " + shape_str(raw.shape()));
  Layout layout = layout_;
  if (spec_.infer_layout_per_input && !spec_.input_data_format)
    layout = infer_channel_dimension_format(raw.shape(), spec_.infer_layout_4_channels);
  s.image = to_channels_last(raw, layout, ctx.pool);
  if (layout == Layout::kChannelsFirst && raw.ndim() == 3) s.attributes.set(ChannelsFirstInput{});
  if (item.has_labels()) s.labels = read_labels(item, ctx);
}

namespace {

void mark_group(Sample& s, const InputItem& item) {
  s.attributes.erase<ChannelsFirstInput>();  // set again by finish_load
  s.attributes.erase<InputGroup>();
  if (item.group_size != 1) s.attributes.set(InputGroup{item.group_size});
}

}  // namespace

void InputLoader::load(Sample& s, const ExecContext& ctx) const {
  const InputItem& item = items_.at(static_cast<size_t>(s.index));
  s.source = item.display_name();
  s.attributes.erase<ReducedInput>();
  mark_group(s, item);
  finish_load(s, item, read_array(item, /*convert=*/true, ctx, /*for_first_op=*/true, &s.attributes), ctx);
}

bool InputLoader::load_through(Sample& s, const Op& first, const ExecContext& ctx, bool last) const {
  if (first_op_.get() != &first) {
    load(s, ctx);
    return false;
  }
  const InputItem& item = items_.at(static_cast<size_t>(s.index));
  s.source = item.display_name();
  s.attributes.erase<ReducedInput>();
  mark_group(s, item);
  std::unique_ptr<RowConsumer> stream;
  Tensor raw = read_array(item, /*convert=*/true, ctx, /*for_first_op=*/true, &s.attributes, &stream);
  if (!stream) {
    finish_load(s, item, std::move(raw), ctx);
    return false;
  }
  stream->finish(s, ctx, last);
  if (item.has_labels()) s.labels = read_labels(item, ctx);
  return true;
}

}  // namespace pixelflow::ops
