// Ops of a plan's tile stage (Plan::tile_ops) whose output is one array from which the model's
// inputs are cut as windows (Gemma 3's pan and scan, LLaVA-NeXT's patches). PreparedCall cuts the
// windows after the tile stage and runs the plan's chain on each as an image of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "graph/rect.h"
#include "graph/tensor.h"

namespace pixelflow::ops {

class TileCutter {
 public:
  virtual ~TileCutter() = default;
  // The windows of an output of shape `out` (H, W[, C]), in order; `group_size`: the input's
  // InputItem::group_size (the op's run() saw it as the sample's InputGroup).
  virtual std::vector<Rect> tiles(const Shape& out, int64_t group_size) const = 0;
  // What the batch counts for an input with `n` windows (Plan::tiles_key).
  virtual int64_t count(int64_t n) const { return n; }
  // The (rows, columns) of the grid the windows of an output of shape `out` form, for
  // Plan::grid_keys (Idefics3's rows / cols); nullopt when the op has no such grid.
  virtual std::optional<std::pair<int64_t, int64_t>> grid(const Shape& /*out*/) const { return std::nullopt; }
};

}  // namespace pixelflow::ops
