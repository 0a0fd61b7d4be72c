// WebP: what Pillow 9.4's WebPImagePlugin gives with libwebp 1.2.4. Pillow opens every WebP
// through WebPAnimDecoder (RGBA canvas, mode "RGBA" when WebPGetFeatures reports alpha, else
// "RGB"); for a still image that canvas holds exactly what WebPDecode gives, so stills are
// decoded straight into the output tensor and only animations go through the canvas (frame 1).
#include <cstring>
#include <memory>

#include <webp/decode.h>
#include <webp/demux.h>

#include "ops/decode_image/codecs.h"

namespace pixelflow::ops::detail {
namespace {

struct WebpHeader {
  int64_t width = 0, height = 0;
  bool has_alpha = false;
  bool animated = false;
  int orientation = 1;
};

using Demuxer = std::unique_ptr<WebPDemuxer, void (*)(WebPDemuxer*)>;

WebpHeader read_webp_header(const uint8_t* data, size_t size, const std::string& name) {
  WebPData bytes{data, size};
  Demuxer demux(WebPDemux(&bytes), &WebPDemuxDelete);
  if (!demux) throw DecodeError(name, "broken or truncated WebP file (container does not parse)");
  WebpHeader h;
  h.width = WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_WIDTH);
  h.height = WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_HEIGHT);
  uint32_t flags = WebPDemuxGetI(demux.get(), WEBP_FF_FORMAT_FLAGS);
  h.animated = (flags & ANIMATION_FLAG) || WebPDemuxGetI(demux.get(), WEBP_FF_FRAME_COUNT) > 1;
  WebPBitstreamFeatures features;
  // As Pillow: mode RGBA unless the features say there is no alpha.
  h.has_alpha = !(WebPGetFeatures(data, size, &features) == VP8_STATUS_OK && !features.has_alpha);
  WebPChunkIterator chunk;
  if (WebPDemuxGetChunk(demux.get(), "EXIF", 1, &chunk)) {
    h.orientation = effective_orientation(read_exif_orientation(chunk.chunk.bytes, chunk.chunk.size));
    WebPDemuxReleaseChunkIterator(&chunk);
  }
  if (h.width <= 0 || h.height <= 0) throw DecodeError(name, "broken WebP file: empty canvas");
  return h;
}

void decode_animation_first_frame(const uint8_t* data, size_t size, const std::string& name,
                                  const WebpHeader& h, Tensor& pixels) {
  WebPData bytes{data, size};
  WebPAnimDecoderOptions options;
  WebPAnimDecoderOptionsInit(&options);  // MODE_RGBA, no threads: Pillow's defaults
  std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> decoder(
      WebPAnimDecoderNew(&bytes, &options), &WebPAnimDecoderDelete);
  if (!decoder) throw DecodeError(name, "broken WebP animation (could not create decoder)");
  uint8_t* canvas = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(decoder.get(), &canvas, &timestamp)) {
    throw DecodeError(name, "broken WebP animation (failed to decode the first frame)");
  }
  uint8_t* out = pixels.data<uint8_t>();
  size_t count = size_t(h.width) * size_t(h.height);
  if (h.has_alpha) {
    std::memcpy(out, canvas, count * 4);
  } else {
    for (size_t i = 0; i < count; ++i) std::memcpy(out + 3 * i, canvas + 4 * i, 3);
  }
}

}  // namespace

ImageInfo probe_webp(const uint8_t* data, size_t size, const std::string& name) {
  WebpHeader h = read_webp_header(data, size, name);
  return ImageInfo{"WEBP", h.has_alpha ? "RGBA" : "RGB", h.width, h.height, h.orientation};
}

DecodedImage decode_webp(const uint8_t* data, size_t size, const std::string& name,
                         const DecodeOptions& opts, BufferPool* pool) {
  WebpHeader h = read_webp_header(data, size, name);
  DecodedImage image = checked_image("WEBP", h.has_alpha ? "RGBA" : "RGB", h.width, h.height, opts, name);
  image.exif_orientation = h.orientation;
  int channels = h.has_alpha ? 4 : 3;
  image.pixels = Tensor::empty(DType::kUInt8, {h.height, h.width, channels}, pool);
  if (h.animated) {
    decode_animation_first_frame(data, size, name, h, image.pixels);
    return image;
  }
  uint8_t* out = image.pixels.data<uint8_t>();
  int stride = int(h.width) * channels;
  size_t out_size = image.pixels.nbytes();
  uint8_t* ok = h.has_alpha ? WebPDecodeRGBAInto(data, size, out, out_size, stride)
                            : WebPDecodeRGBInto(data, size, out, out_size, stride);
  if (!ok) throw DecodeError(name, "broken or truncated WebP image data");
  return image;
}

}  // namespace pixelflow::ops::detail
