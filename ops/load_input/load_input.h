// load_input: the source of the graph. Turns each input (an image file, an encoded buffer, a
// .npy file or an in-memory array) into the array Hugging Face's processor would work on:
// PIL's Image.open pixels, converted with convert("RGB") when the processor does so (or
// transformers' load_image semantics: EXIF orientation, then RGB), in channels-last layout.
// The channel layout of array inputs is inferred from the FIRST input, as HF's
// infer_channel_dimension_format(images[0]) does, unless input_data_format is given.
//
// Decoding for the first op (set_first_op): a JPEG is decoded only on the region the
// pipeline's first image op reads (Op::input_region, e.g. the source window of a fused
// resize+center_crop), with the same bytes out of the graph; the other pixels of the array
// are left undefined, which is safe because that op is the only reader of the array. In
// approximate mode (never by default) a JPEG is instead decoded shrunk in the DCT domain when
// the op allows it (Op::max_input_reduction). Other formats, arrays and segmentation maps are
// always read in full.
//
// Fused with the first op (load_through, the pipeline's fused load): a JPEG whose decoded pixels
// are exactly the array the first op sees (no EXIF transposition, no colour conversion, the
// channels-last layout, no DCT reduction) is streamed into the op's RowConsumer when it offers
// one (Op::row_consumer, e.g. a resize): the op's output comes out of the load node and the
// decoded image is never materialized. Same bytes; everything else falls back to load().
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph/pipeline.h"
#include "ops/load_input/load_spec.h"
#include "ops/decode_image/decode_image.h"

namespace pixelflow::ops {

struct InputItem {
  std::string path;    // image file or .npy file
  Tensor array;        // or an array already in memory (used when defined)
  // or an encoded image / .npy file in memory (used when non-empty); `owner`, when set, keeps
  // the bytes alive, otherwise the caller does for the duration of the call.
  std::string_view bytes;
  std::shared_ptr<const void> owner;
  // or 8-bit pixels in another library's memory, row by row (a PIL image's own rows, read without
  // PIL's export copy): row y starts at rows[y], pixels are `pixel_bytes` apart and the first
  // `channels` bytes of each belong to the array. Copied into an (H, W) array for one channel,
  // else (H, W, C), from the call's buffer pool when the input is loaded; `owner` keeps the rows
  // alive (used when rows is set).
  struct PixelRows {
    const uint8_t* const* rows = nullptr;
    int64_t height = 0, width = 0;
    int channels = 0, pixel_bytes = 0;
    Shape shape() const { return channels == 1 ? Shape{height, width} : Shape{height, width, channels}; }
  };
  PixelRows pixel_rows;
  std::string name;    // shown in errors; defaults to path
  std::string labels_path;  // segmentation map for this input (file or .npy), optional
  Tensor labels_array;
  // Detection processors (DETR family): this image's COCO-detection annotation dict
  // ({"image_id": ..., "annotations": [...]}), turned into its `labels` by the pipelines layer
  // (pipelines/detection_labels.h); the graph never reads it.
  std::shared_ptr<const nlohmann::json> annotation;
  // How many images the caller passed together with this one as one sample (transformers'
  // nested lists, PreparedCall::run_groups); 1: an image on its own. Ops see it as the sample's
  // InputGroup attribute (LLaVA-OneVision pads a grouped image to a square instead of tiling it).
  int64_t group_size = 1;
  bool has_labels() const { return !labels_path.empty() || labels_array.defined(); }

  static InputItem file(std::string path) { InputItem i; i.name = i.path = std::move(path); return i; }
  static InputItem from_array(Tensor t, std::string name) {
    InputItem i;
    i.array = std::move(t);
    i.name = std::move(name);
    return i;
  }
  // Pixel rows kept alive by `owner` (see PixelRows).
  static InputItem from_rows(PixelRows rows, std::shared_ptr<const void> owner, std::string name) {
    InputItem i;
    i.pixel_rows = rows;
    i.owner = std::move(owner);
    i.name = std::move(name);
    return i;
  }
  // Encoded bytes the item owns.
  static InputItem from_bytes(std::string data, std::string name) {
    auto owned = std::make_shared<const std::string>(std::move(data));
    InputItem i = borrow_bytes(*owned, std::move(name));
    i.owner = std::move(owned);
    return i;
  }
  // Encoded bytes the caller keeps alive until the call returns (no copy).
  static InputItem borrow_bytes(std::string_view data, std::string name) {
    InputItem i;
    i.bytes = data;
    i.name = std::move(name);
    return i;
  }
  const std::string& display_name() const { return name.empty() ? path : name; }
};

class InputLoader final : public Loader {
 public:
  // Infers the layout from the first input (reading only its header) unless the spec gives
  // one; throws InputError naming that input where Hugging Face raises.
  InputLoader(std::vector<InputItem> items, LoadSpec spec);

  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  void load(Sample& s, const ExecContext& ctx) const override;
  // Streams where it can (see the top of this file): only with the op given to set_first_op.
  bool load_through(Sample& s, const Op& first, const ExecContext& ctx, bool last) const override;
  // The layout inferred from the first input (or given).
  Layout layout() const { return layout_; }

  // `op` is the first image op of the pipeline the samples go to (null: none). With `region`,
  // JPEGs are decoded on op->input_region() only (exact). With `approximate`, JPEGs are decoded
  // at 1/2, 1/4 or 1/8 size in the DCT domain when op->max_input_reduction() allows it (the
  // largest that keeps both sides at least the op's output size, as PIL's draft picks it) and
  // the sample gets a ReducedInput attribute: NOT Pillow's pixels.
  void set_first_op(OpPtr op, bool region = true, bool approximate = false);
  // What to decode of a JPEG with header `info` for the first op (exposed for tests).
  DecodePlan decode_plan(const ImageInfo& info) const;

 private:
  // The array Hugging Face would see for `item`: decoded (and converted) image or .npy data.
  // `for_first_op`: the array goes to the first op (region / approximate decoding allowed);
  // `attributes` then receive ReducedInput when the image was decoded reduced. `stream`
  // (with for_first_op): the first op's consumer when the JPEG may be streamed into it, set
  // to the one created when it was (the returned tensor is then empty).
  Tensor read_array(const InputItem& item, bool convert, const ExecContext& ctx, bool for_first_op = false,
                    SampleAttributes* attributes = nullptr,
                    std::unique_ptr<RowConsumer>* stream = nullptr) const;
  Tensor read_labels(const InputItem& item, const ExecContext& ctx) const;
  // The array the first op sees for an image with header `info`, as a spec, when it is the
  // decoded pixels in place (channels-last layout; orientation applied if any); nullopt when
  // the layout moves the pixels.
  std::optional<TensorSpec> first_op_input(const ImageInfo& info) const;
  // The same, only when that array is the decoded pixels themselves (no transposition, no
  // conversion): what a streamed decode delivers.
  std::optional<TensorSpec> streamed_input(const ImageInfo& info) const;
  // s.image from the array read for it (layout applied), then s.labels.
  void finish_load(Sample& s, const InputItem& item, Tensor raw, const ExecContext& ctx) const;

  std::vector<InputItem> items_;
  LoadSpec spec_;
  Layout layout_ = Layout::kChannelsLast;
  OpPtr first_op_;
  bool region_ = false, approximate_ = false;
};

// HF's infer_channel_dimension_format for a shape (num_channels = (1, 3)). Throws InputError
// with HF's message.
// `four_channels`: num_channels=(1, 3, 4) (LoadSpec::infer_layout_4_channels), else (1, 3).
Layout infer_channel_dimension_format(const Shape& shape, bool four_channels = false);
// The same from an input's header only (image header or .npy header), as the array HF would
// see after decoding with `spec`'s conversions.
Layout infer_input_layout(const InputItem& item, const LoadSpec& spec);
// The shape of the array HF would see for `item` (from its header only), as infer_input_layout reads it.
Shape input_shape(const InputItem& item, const LoadSpec& spec);

// (C, H, W) or (H, W, C) -> (H, W, C); 2-D arrays become (H, W, 1).
Tensor to_channels_last(const Tensor& t, Layout layout, BufferPool* pool);

}  // namespace pixelflow::ops
