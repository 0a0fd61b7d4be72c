// JPEG: Pillow's JpegImagePlugin header scan (it decides mode, size and EXIF, and which files
// Image.open refuses) followed by libjpeg-turbo decoding configured exactly as Pillow's
// JpegDecode.c configures it: library defaults (ISLOW IDCT, fancy upsampling, colour space
// guessed from JFIF/Adobe markers), output colour space from the mode, CMYK inverted ("CMYK;I").
// Scanlines are written straight into the output tensor.
//
// Region decoding (DecodeOptions::plan): jpeg_crop_scanline keeps the IDCT, upsampling and
// colour conversion to the iMCU columns around the region, and jpeg_skip_scanlines skips the
// IDCT of the rows above and below it; the entropy-coded data of the whole image is still
// decoded, so the file is read to the same end and accepted or refused exactly as by a full
// decode. libjpeg-turbo's fancy upsampling treats a cropped run's first and last columns as
// image edges, so the run is widened by kRegionMarginColumns on both sides (verified on every
// sampling factor: one column suffices); rows after jpeg_skip_scanlines are those of a full
// decode (a margin of kRegionMarginRows is kept all the same). jpeg_skip_scanlines needs a
// non-suspending source: the source then extends its window itself, at the very points where
// Pillow's suspending decode asks for more data, and records running past the end, which is
// where Pillow fails ("image file is truncated"). Single-scan arithmetic-coded images cannot
// suspend (Pillow fails them at a window end), so they keep all rows and the suspending source.
// Progressive images whose coefficients are not all complete are decoded fully: libjpeg then
// smooths blocks across their neighbours, crop edges included.
//
// Streaming (DecodePlan::rows): the same libjpeg calls, in the same order, as the decode of an
// image (with or without a region), but each scanline is read on its own (as Pillow reads them)
// into the consumer's memory and handed over at once; the rows the consumer does not read go to
// a spare row. Progressive and multi-scan images stream too: libjpeg absorbs their scans in
// jpeg_start_decompress and produces the rows afterwards, one iMCU row of IDCT at a time.
#include <csetjmp>
#include <cstdio>
#include <algorithm>
#include <cstring>

#include <jpeglib.h>

#include "graph/op.h"
#include "ops/decode_image/codecs.h"

namespace pixelflow::ops::detail {
namespace {

// ---------------------------------------------------------------------------------------------
// Header scan (JpegImageFile._open)

struct JpegHeader {
  int64_t width = 0, height = 0;
  int layers = 0;
  const char* mode = nullptr;  // Pillow mode
  const uint8_t* exif = nullptr;  // first APP1 "Exif\0" payload
  size_t exif_size = 0;
  const uint8_t* mpf = nullptr;  // last APP2 "MPF\0" payload, after the signature
  size_t mpf_size = 0;
};

bool is_sof_marker(int marker) {
  switch (marker) {
    case 0xFFC0: case 0xFFC1: case 0xFFC2: case 0xFFC3: case 0xFFC5: case 0xFFC6: case 0xFFC7:
    case 0xFFC9: case 0xFFCA: case 0xFFCB: case 0xFFCD: case 0xFFCE: case 0xFFCF:
    case 0xFFDE:  // DHP: Pillow parses it as a frame header too
      return true;
    default:
      return false;
  }
}

// Markers that Pillow's table lists without a segment (SOI, EOI, RSTn, JPG, JPGn).
bool is_standalone_marker(int marker) {
  return marker == 0xFFC8 || (marker >= 0xFFD0 && marker <= 0xFFD9) ||
         (marker >= 0xFFF0 && marker <= 0xFFFD);
}

[[noreturn]] void throw_header_error(const std::string& name, const std::string& why) {
  throw DecodeError(name, "cannot identify image file: broken JPEG header: " + why);
}

std::string hex(size_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%zX", v);
  return std::string(buf);
}

// SOFn: image size, sample precision and layer count.
void read_frame_header(const uint8_t* s, size_t len, JpegHeader& h, const std::string& name) {
  if (len < 6) throw_header_error(name, "frame header (SOF) too short");
  h.height = load_u16be(s + 1);
  h.width = load_u16be(s + 3);
  if (s[0] != 8) throw_header_error(name, "cannot handle " + std::to_string(s[0]) + "-bit layers");
  h.layers = s[5];
  if (h.layers == 1) {
    h.mode = "L";
  } else if (h.layers == 3) {
    h.mode = "RGB";
  } else if (h.layers == 4) {
    h.mode = "CMYK";
  } else {
    throw_header_error(name, "cannot handle " + std::to_string(h.layers) + "-layer images");
  }
}

// DQT: Pillow validates the table lengths.
void check_quant_tables(const uint8_t* s, size_t len, const std::string& name) {
  size_t q = 0;
  while (q < len) {
    size_t table = 1 + (s[q] / 16 == 0 ? 64 : 128);
    if (len - q < table) throw_header_error(name, "bad quantization table marker");
    q += table;
  }
}

// One marker segment's payload `s` of `len` bytes: frame header, quantization tables, Exif, MPF.
void read_segment(int marker, const uint8_t* s, size_t len, JpegHeader& h, bool& have_exif, const std::string& name) {
  if (is_sof_marker(marker)) {
    read_frame_header(s, len, h, name);
  } else if (marker == 0xFFDB) {
    check_quant_tables(s, len, name);
  } else if (marker == 0xFFE1 && len >= 5 && std::memcmp(s, "Exif\0", 5) == 0) {
    if (!have_exif) {
      have_exif = true;
      h.exif = s;
      h.exif_size = len;
    }
  } else if (marker == 0xFFE2 && len >= 4 && std::memcmp(s, "MPF\0", 4) == 0) {
    h.mpf = s + 4;
    h.mpf_size = len - 4;
  }
}

// After the scan starts: a frame header was seen and gave a non-empty size.
void check_frame(const JpegHeader& h, const std::string& name) {
  if (!h.mode) throw_header_error(name, "no frame header (SOF) before the scan");
  if (h.width <= 0 || h.height <= 0) {
    throw_header_error(name, "image size " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                                 " is empty (DNL height is not supported)");
  }
}

JpegHeader parse_jpeg_header(const uint8_t* d, size_t n, const std::string& name) {
  auto fail = [&name](const std::string& why) { throw_header_error(name, why); };
  JpegHeader h;
  bool have_exif = false;
  size_t pos = 3;  // after FF D8 FF; the last FF starts the first marker
  int current = 0xFF;
  for (;;) {
    if (current != 0xFF) {  // junk between segments is skipped a byte at a time
      if (pos >= n) fail("data ends before the start of scan (SOS)");
      current = d[pos++];
      continue;
    }
    if (pos >= n) fail("data ends before the start of scan (SOS)");
    int marker = 0xFF00 | d[pos++];
    if (marker == 0xFFFF) {  // fill byte: the second FF starts the marker
      continue;
    }
    if (marker == 0xFF00) {  // escaped FF outside a scan: skipped
      if (pos >= n) fail("data ends before the start of scan (SOS)");
      current = d[pos++];
      continue;
    }
    if (marker < 0xFFC0) fail("no marker found (" + hex(size_t(marker)) + " at offset " + hex(pos - 2) + ")");

    if (!is_standalone_marker(marker)) {
      if (pos + 2 > n) fail("truncated marker segment at offset " + hex(pos - 2));
      int64_t length = int64_t(load_u16be(d + pos)) - 2;
      pos += 2;
      if (length < 0) length = 0;
      if (pos + size_t(length) > n) fail("truncated marker segment at offset " + hex(pos - 4));
      const uint8_t* s = d + pos;
      size_t len = size_t(length);
      pos += len;
      read_segment(marker, s, len, h, have_exif, name);
      if (marker == 0xFFDA) break;  // start of scan: the header ends here
    }
    if (pos >= n) fail("data ends before the start of scan (SOS)");
    current = d[pos++];
  }
  check_frame(h, name);
  return h;
}

// Pillow reports "MPO" when the MP index parses and lists more than one JPEG picture.
bool is_mpo(const JpegHeader& h) {
  if (!h.mpf) return false;
  TiffDirectory dir = read_tiff_ifd0(h.mpf, h.mpf_size);
  if (!dir.valid) return false;
  const TiffField* number = dir.find(0xB001);
  const TiffField* entries = dir.find(0xB002);
  if (!number || !entries || (number->type != 4 && number->type != 3)) return false;
  uint64_t count = number->type == 4 ? dir.u32(number->value) : dir.u16(number->value);
  if (count <= 1 || entries->count < 16 * count) return false;
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t attribute = dir.u32(entries->value + 16 * i);
    if ((attribute >> 24) & 7) return false;  // not a JPEG picture: Pillow falls back to JPEG
  }
  return true;
}

int header_orientation(const JpegHeader& h) {
  return h.exif ? effective_orientation(read_exif_orientation(h.exif, h.exif_size)) : 1;
}

// ---------------------------------------------------------------------------------------------
// libjpeg session. Errors longjmp back into the small step functions below, which hold only
// trivially destructible locals; the C++ caller turns a failed step into a DecodeError.
//
// Pillow feeds libjpeg through a suspending source, 64 KiB (ImageFile.MAXBLOCK) more of the file
// at each call, and reacts to suspension as follows: more data while reading the header,
// starting or reading rows ("image file is truncated" once the file is exhausted), and
// success if only jpeg_finish_decompress suspends. The source below reproduces that window by
// window: it decides the same pass/fail outcome (arithmetic-coded scans cannot suspend and
// fail at a window end in Pillow, a missing EOI is accepted, ...) and the same pixels.

constexpr size_t kPillowBlock = 65536;

// Region decoding margins (see the top of this file): columns decoded beyond the region on each
// side before iMCU alignment, rows decoded above and below it.
constexpr int64_t kRegionMarginColumns = 2;
constexpr int64_t kRegionMarginRows = 2;

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};

struct WindowedSource {
  jpeg_source_mgr pub;
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t window_end = 0;  // libjpeg sees data[0, window_end)
  size_t skip_to = 0;     // a skip_input_data target beyond the window
  // Non-suspending mode (the scanline phase of a region decode: jpeg_skip_scanlines does not
  // support suspension). Running dry offers the next block, as Pillow would after a suspension;
  // past the end of the file libjpeg gets a fake EOI and `exhausted` is set: that is exactly
  // where Pillow's suspending decode fails with "image file is truncated".
  bool nonsuspending = false;
  bool exhausted = false;

  size_t position() const { return size_t(pub.next_input_byte - data); }
  void set_position(size_t at) {
    pub.next_input_byte = data + at;
    pub.bytes_in_buffer = window_end - at;
  }
  // Pillow's next read(): false once the whole file has been offered.
  bool extend() {
    if (window_end >= size) return false;
    window_end = std::min(size, window_end + kPillowBlock);
    size_t at = position();
    if (skip_to > at) at = std::min(skip_to, window_end);
    set_position(at);
    return true;
  }
};

enum class Step { kDone, kSuspended, kFailed };

void on_error_exit(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<ErrorManager*>(cinfo->err)->jump, 1);
}
void on_output_message(j_common_ptr) {}  // warnings are counted, never printed

void source_init(j_decompress_ptr) {}
void source_term(j_decompress_ptr) {}
// Suspending mode: suspend, the caller extends the window. Non-suspending mode: libjpeg has
// consumed the whole window (its own read position may lag behind in its private state), so
// the data continues at the window's end or at a pending skip target.
boolean source_fill(j_decompress_ptr cinfo) {
  auto* src = reinterpret_cast<WindowedSource*>(cinfo->src);
  if (!src->nonsuspending) return FALSE;
  if (!src->exhausted) {
    const size_t at = std::max(src->window_end, src->skip_to);
    while (src->window_end < src->size) {
      src->window_end = std::min(src->size, src->window_end + kPillowBlock);
      if (at < src->window_end) {
        src->set_position(at);
        return TRUE;
      }
    }
    src->exhausted = true;
  }
  static const JOCTET kFakeEoi[2] = {0xFF, JPEG_EOI};
  src->pub.next_input_byte = kFakeEoi;
  src->pub.bytes_in_buffer = sizeof(kFakeEoi);
  return TRUE;
}
void source_skip(j_decompress_ptr cinfo, long count) {
  if (count <= 0) return;
  auto* src = reinterpret_cast<WindowedSource*>(cinfo->src);
  if (src->exhausted) {  // only the fake EOI is left
    src->pub.next_input_byte += std::min(src->pub.bytes_in_buffer, size_t(count));
    src->pub.bytes_in_buffer -= std::min(src->pub.bytes_in_buffer, size_t(count));
    return;
  }
  if (size_t(count) <= src->pub.bytes_in_buffer) {
    src->pub.next_input_byte += count;
    src->pub.bytes_in_buffer -= size_t(count);
  } else {
    src->skip_to = src->position() + size_t(count);
    src->set_position(src->window_end);
  }
}

class JpegSession {
 public:
  JpegSession(const uint8_t* data, size_t size) {
    cinfo.err = jpeg_std_error(&errors.pub);
    errors.pub.error_exit = on_error_exit;
    errors.pub.output_message = on_output_message;
    source.pub.init_source = source_init;
    source.pub.fill_input_buffer = source_fill;
    source.pub.skip_input_data = source_skip;
    source.pub.resync_to_restart = jpeg_resync_to_restart;
    source.pub.term_source = source_term;
    source.data = data;
    source.size = size;
    source.window_end = std::min(size, kPillowBlock);
    source.set_position(0);
  }
  ~JpegSession() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
  JpegSession(const JpegSession&) = delete;
  JpegSession& operator=(const JpegSession&) = delete;

  std::string last_error() {
    char buffer[JMSG_LENGTH_MAX];
    (*errors.pub.format_message)(reinterpret_cast<j_common_ptr>(&cinfo), buffer);
    return buffer;
  }

  jpeg_decompress_struct cinfo{};
  ErrorManager errors{};
  WindowedSource source{};
  bool created = false;
};

bool step_create(JpegSession* s) {
  if (setjmp(s->errors.jump)) return false;
  jpeg_create_decompress(&s->cinfo);
  s->created = true;
  s->cinfo.src = &s->source.pub;
  return true;
}

Step step_read_header(JpegSession* s) {
  if (setjmp(s->errors.jump)) return Step::kFailed;
  // As Pillow: a tables-only datastream may precede the image.
  for (;;) {
    int rc = jpeg_read_header(&s->cinfo, FALSE);
    if (rc == JPEG_SUSPENDED) return Step::kSuspended;
    if (rc != JPEG_HEADER_TABLES_ONLY) return Step::kDone;
  }
}

Step step_start(JpegSession* s, J_COLOR_SPACE out_space, int reduce) {
  if (setjmp(s->errors.jump)) return Step::kFailed;
  s->cinfo.out_color_space = out_space;
  s->cinfo.scale_num = 1;
  s->cinfo.scale_denom = unsigned(reduce);
  return jpeg_start_decompress(&s->cinfo) ? Step::kDone : Step::kSuspended;
}

Step step_read_rows(JpegSession* s, JSAMPROW* rows) {
  if (setjmp(s->errors.jump)) return Step::kFailed;
  jpeg_decompress_struct* c = &s->cinfo;
  while (c->output_scanline < c->output_height) {
    JDIMENSION at = c->output_scanline;
    if (jpeg_read_scanlines(c, rows + at, c->output_height - at) == 0) return Step::kSuspended;
  }
  return Step::kDone;
}

// One scanline into `row`.
Step step_read_row(JpegSession* s, JSAMPROW row) {
  if (setjmp(s->errors.jump)) return Step::kFailed;
  return jpeg_read_scanlines(&s->cinfo, &row, 1) == 1 ? Step::kDone : Step::kSuspended;
}

// Skips `count` scanlines (non-suspending source).
Step step_skip_rows(JpegSession* s, JDIMENSION count) {
  if (setjmp(s->errors.jump)) return Step::kFailed;
  if (count > 0) jpeg_skip_scanlines(&s->cinfo, count);
  return Step::kDone;
}

bool step_crop(JpegSession* s, JDIMENSION* x, JDIMENSION* width) {
  if (setjmp(s->errors.jump)) return false;
  jpeg_crop_scanline(&s->cinfo, x, width);
  return true;
}

// Rows [first, last) of a region decode into rows[first..last), the others skipped; the last
// row of the image is always decoded (into `spare`) so that the whole scan is read, never cut
// short by a skip to the end (which would not read the remaining data). Non-suspending source.
Step step_read_region_rows(JpegSession* s, JSAMPROW* rows, JDIMENSION first, JDIMENSION last,
                           JSAMPROW spare) {
  if (setjmp(s->errors.jump)) return Step::kFailed;
  jpeg_decompress_struct* c = &s->cinfo;
  if (first > 0) jpeg_skip_scanlines(c, first);
  while (c->output_scanline < last) {
    JDIMENSION at = c->output_scanline;
    if (jpeg_read_scanlines(c, rows + at, last - at) == 0) return Step::kSuspended;
  }
  JDIMENSION rest = c->output_height - c->output_scanline;
  if (rest > 1) jpeg_skip_scanlines(c, rest - 1);
  while (c->output_scanline < c->output_height) {
    if (jpeg_read_scanlines(c, &spare, 1) == 0) return Step::kSuspended;
  }
  return Step::kDone;
}

// All coefficients of a progressive image are complete (else libjpeg smooths blocks with their
// neighbours, and a cropped decode would differ near the crop).
bool coefficients_complete(const jpeg_decompress_struct& c) {
  if (!c.progressive_mode) return true;
  if (!c.coef_bits) return false;
  for (int ci = 0; ci < c.num_components; ++ci)
    for (int k = 0; k < DCTSIZE2; ++k)
      if (c.coef_bits[ci][k] != 0) return false;
  return true;
}

Step step_finish(JpegSession* s) {
  if (setjmp(s->errors.jump)) return Step::kFailed;
  jpeg_finish_decompress(&s->cinfo);  // suspension here is success in Pillow
  return Step::kDone;
}

[[noreturn]] void throw_libjpeg(JpegSession& s, const std::string& name) {
  throw DecodeError(name, "broken JPEG data: " + s.last_error());
}

// Runs `step` as Pillow's decode loop would: on suspension offer the next block of the file.
template <class F>
void run_step(JpegSession& s, const std::string& name, F step) {
  for (;;) {
    Step r = step();
    if (r == Step::kDone) return;
    if (r == Step::kFailed) throw_libjpeg(s, name);
    if (!s.source.extend()) throw DecodeError(name, "image file is truncated (JPEG data ends early)");
  }
}

}  // namespace

ImageInfo probe_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  JpegHeader h = parse_jpeg_header(data, size, name);
  return ImageInfo{is_mpo(h) ? "MPO" : "JPEG", h.mode, h.width, h.height, header_orientation(h)};
}

DecodedImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name,
                         const DecodeOptions& opts, BufferPool* pool) {
  JpegHeader h = parse_jpeg_header(data, size, name);
  DecodedImage image = checked_image(is_mpo(h) ? "MPO" : "JPEG", h.mode, h.width, h.height, opts, name);
  image.exif_orientation = header_orientation(h);

  J_COLOR_SPACE out_space = h.layers == 1 ? JCS_GRAYSCALE : h.layers == 3 ? JCS_RGB : JCS_CMYK;
  JpegSession session(data, size);
  if (!step_create(&session)) throw_libjpeg(session, name);
  run_step(session, name, [&] { return step_read_header(&session); });
  if (int64_t(session.cinfo.image_width) != h.width ||
      int64_t(session.cinfo.image_height) != h.height ||
      session.cinfo.num_components != h.layers) {
    throw DecodeError(name, "broken JPEG data: frame header does not match the image data");
  }

  DecodePlan plan;
  if (opts.plan) {
    plan = opts.plan(ImageInfo{image.format, image.mode, h.width, h.height, image.exif_orientation});
    if (plan.reduce != 1 && plan.reduce != 2 && plan.reduce != 4 && plan.reduce != 8)
      throw InputError(name + ": JPEG reduction must be 1, 2, 4 or 8, got " + std::to_string(plan.reduce));
    if (plan.reduce != 1) plan.region.reset();
  }
  run_step(session, name, [&] { return step_start(&session, out_space, plan.reduce); });
  if (session.cinfo.output_components != h.layers) {
    throw DecodeError(name, "broken JPEG data: unexpected colour conversion");
  }
  jpeg_decompress_struct& c = session.cinfo;
  const int64_t out_h = c.output_height, out_w = c.output_width;
  image.reduce = plan.reduce;

  // The region, clipped; honoured where the decoder keeps the pixels inside it exact (not in
  // progressive images with incomplete coefficients).
  std::optional<Rect> region;
  if (plan.region) {
    const Rect& p = *plan.region;
    const Rect r = Rect{p.x, p.y, p.width, p.height}.clip(out_h, out_w);
    const bool whole = r == Rect::full(out_h, out_w);
    if (!whole && !r.empty() && coefficients_complete(c)) region = Rect{r.x, r.y, r.width, r.height};
  }

  // What is decoded: columns [crop_x, crop_x + crop_w) (after jpeg_crop_scanline), rows
  // [first, last); a region whose rows are skipped reads through the non-suspending source.
  JDIMENSION crop_x = 0, crop_w = JDIMENSION(out_w), first = 0, last = JDIMENSION(out_h);
  if (region) {
    // Columns: the region widened by the margin, then aligned by libjpeg to an iMCU boundary.
    crop_x = JDIMENSION(std::max<int64_t>(0, region->x - kRegionMarginColumns));
    const JDIMENSION crop_end =
        JDIMENSION(std::min<int64_t>(out_w, region->x + region->width + kRegionMarginColumns));
    crop_w = crop_end - crop_x;
    if (!step_crop(&session, &crop_x, &crop_w)) throw_libjpeg(session, name);
    // Rows: skipped only where jpeg_skip_scanlines can run, i.e. with a non-suspending source.
    // That is equivalent to Pillow's suspending one except in single-scan arithmetic-coded
    // images (they cannot suspend, and Pillow's decode fails at a read-window end): those are
    // decoded on all rows, through the suspending source.
    first = JDIMENSION(std::max<int64_t>(0, region->y - kRegionMarginRows));
    last = JDIMENSION(std::min<int64_t>(out_h, region->y + region->height + kRegionMarginRows));
    if (c.arith_code && !jpeg_has_multiple_scans(&c)) {
      first = 0;
      last = JDIMENSION(out_h);
    }
  }
  const bool skip_rows = first > 0 || last < JDIMENSION(out_h);
  // Rows nobody reads go to a spare row (never read there, but never wild).
  std::vector<JSAMPLE> spare(size_t(c.output_width) * size_t(h.layers));
  const size_t decoded_row_bytes = size_t(crop_w) * size_t(h.layers);
  auto invert = [&](JSAMPROW row) {  // Pillow's "CMYK;I" raw mode: Adobe-inverted CMYK
    for (size_t i = 0; i < decoded_row_bytes; ++i) row[i] = uint8_t(~row[i]);
  };

  if (plan.rows && plan.reduce == 1) {
    RowConsumer& consumer = *plan.rows;
    consumer.begin(int64_t(crop_x), int64_t(crop_w));
    // Row y into the consumer's memory (or the spare row), handed over once read.
    auto deliver = [&](JDIMENSION y, auto&& read) {
      uint8_t* dst = consumer.row(int64_t(y));
      JSAMPROW r = dst ? dst : spare.data();
      const Step step = read(r);
      if (step != Step::kDone) return step;
      if (dst && h.layers == 4) invert(dst);
      consumer.rows_done(int64_t(y) + 1);
      return Step::kDone;
    };
    if (!skip_rows) {
      for (JDIMENSION y = 0; y < JDIMENSION(out_h); ++y) {
        deliver(y, [&](JSAMPROW r) {
          run_step(session, name, [&] { return step_read_row(&session, r); });
          return Step::kDone;
        });
      }
    } else {
      // As step_read_region_rows, one scanline at a time.
      session.source.nonsuspending = true;
      Step r = step_skip_rows(&session, first);
      for (JDIMENSION y = first; y < last && r == Step::kDone; ++y)
        r = deliver(y, [&](JSAMPROW row) { return step_read_row(&session, row); });
      if (r == Step::kDone) {
        const JDIMENSION rest = c.output_height - c.output_scanline;
        if (rest > 1) r = step_skip_rows(&session, rest - 1);
        while (r == Step::kDone && c.output_scanline < c.output_height)
          r = step_read_row(&session, spare.data());
      }
      session.source.nonsuspending = false;
      // Running out of data comes first: Pillow would have stopped there, truncated.
      if (r == Step::kSuspended || session.source.exhausted)
        throw DecodeError(name, "image file is truncated (JPEG data ends early)");
      if (r == Step::kFailed) throw_libjpeg(session, name);
    }
    if (step_finish(&session) == Step::kFailed) throw_libjpeg(session, name);
    image.streamed = true;
    return image;
  }

  Shape shape = h.layers == 1 ? Shape{out_h, out_w} : Shape{out_h, out_w, h.layers};
  image.pixels = Tensor::empty(DType::kUInt8, shape, pool);
  uint8_t* out = image.pixels.data<uint8_t>();
  const size_t row_bytes = size_t(out_w) * size_t(h.layers);
  std::vector<JSAMPROW> rows(static_cast<size_t>(out_h), spare.data());
  for (JDIMENSION y = first; y < last; ++y) rows[y] = out + y * row_bytes + size_t(crop_x) * h.layers;
  if (!skip_rows) {
    run_step(session, name, [&] { return step_read_rows(&session, rows.data()); });
  } else {
    session.source.nonsuspending = true;
    Step r = step_read_region_rows(&session, rows.data(), first, last, spare.data());
    session.source.nonsuspending = false;
    // Running out of data comes first: Pillow would have stopped there, truncated.
    if (r == Step::kSuspended || session.source.exhausted)
      throw DecodeError(name, "image file is truncated (JPEG data ends early)");
    if (r == Step::kFailed) throw_libjpeg(session, name);
  }
  if (region) image.valid = region;
  if (h.layers == 4)
    for (JDIMENSION y = first; y < last; ++y) invert(rows[y]);
  if (step_finish(&session) == Step::kFailed) throw_libjpeg(session, name);
  return image;
}

}  // namespace pixelflow::ops::detail
