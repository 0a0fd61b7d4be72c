// load_input: the source of the graph. Turns each input (an image file, an encoded buffer, a
// .npy file or an in-memory array) into the array Hugging Face's processor would work on:
// PIL's Image.open pixels, converted with convert("RGB") when the processor does so (or
// transformers' load_image semantics: EXIF orientation, then RGB), in channels-last layout.
// The channel layout of array inputs is inferred from the FIRST input, as HF's
// infer_channel_dimension_format(images[0]) does, unless input_data_format is given.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "graph/pipeline.h"
#include "graph/plan.h"

namespace pixelflow::ops {

struct InputItem {
  std::string path;    // image file or .npy file
  Tensor array;        // or an array already in memory (used when defined)
  // or an encoded image / .npy file in memory (used when non-empty); `owner`, when set, keeps
  // the bytes alive, otherwise the caller does for the duration of the call.
  std::string_view bytes;
  std::shared_ptr<const void> owner;
  std::string name;    // shown in errors; defaults to path
  std::string labels_path;  // segmentation map for this input (file or .npy), optional
  Tensor labels_array;

  static InputItem file(std::string path) { InputItem i; i.name = i.path = std::move(path); return i; }
  static InputItem from_array(Tensor t, std::string name) {
    InputItem i;
    i.array = std::move(t);
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
  // The layout inferred from the first input (or given).
  Layout layout() const { return layout_; }

 private:
  // The array Hugging Face would see for `item`: decoded (and converted) image or .npy data.
  Tensor read_array(const InputItem& item, bool convert, const ExecContext& ctx) const;
  Tensor read_labels(const InputItem& item, const ExecContext& ctx) const;

  std::vector<InputItem> items_;
  LoadSpec spec_;
  Layout layout_ = Layout::kChannelsLast;
};

// HF's infer_channel_dimension_format for a shape (num_channels = (1, 3)). Throws InputError
// with HF's message.
Layout infer_channel_dimension_format(const Shape& shape);
// The same from an input's header only (image header or .npy header), as the array HF would
// see after decoding with `spec`'s conversions.
Layout infer_input_layout(const InputItem& item, const LoadSpec& spec);

// (C, H, W) or (H, W, C) -> (H, W, C); 2-D arrays become (H, W, 1).
Tensor to_channels_last(const Tensor& t, Layout layout, BufferPool* pool);

}  // namespace pixelflow::ops
