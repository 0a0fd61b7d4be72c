// Writes a small known dataset folder in both formats, for tests/tools/check_dataset_writer.py
// to check with Python (json + numpy) independently of pixelflow's own readers.
//
// Usage: pixelflow_dataset_writer_sample OUT_DIR
//   OUT_DIR/npy, OUT_DIR/safetensors: 5 inputs "img0.png".."img4.png" in batches of 2; img3
//   fails. Batch b with R rows holds, with k the flat element index within the key:
//     pixel_values     float32 (R, 3, 2, 2)  b * 100 + k
//     pixel_values_f64 float64 (R, 2)        b * 100 + k + 0.5
//     labels           int64   (R,)          b * 10 + k
//     ids              int32   (R, 2)        -(b * 100 + k)
//     depth            uint16  (R, 2)        60000 + b * 100 + k
//     mask             uint8   (R, 3)        b * 10 + k
//     valid            bool    (R, 3)        k % 2
//     sizes            list of R int64 (2,)  [b, row]
#include <cstdio>
#include <exception>
#include <string>

#include "pipelines/dataset_writer.h"

using namespace pixelflow;
using namespace pixelflow::pipelines;

namespace {

template <class T, class F>
Tensor make(Shape shape, F value) {
  Tensor t = Tensor::empty(dtype_of<T>(), std::move(shape));
  T* p = t.data<T>();
  for (int64_t k = 0; k < t.numel(); ++k) p[k] = static_cast<T>(value(k));
  return t;
}

void write(const std::string& dir, SinkSpec::Format format) {
  const int64_t total = 5, bs = 2;
  std::vector<std::string> inputs;
  for (int64_t i = 0; i < total; ++i) inputs.push_back("img" + std::to_string(i) + ".png");
  DatasetWriter w(dir, format, make_run_key({{"model", "sample"}}, inputs, bs, format));
  for (int64_t b = w.completed_batches(); b < w.num_batches(); ++b) {
    std::vector<ManifestEntry> entries;
    int64_t rows = 0;
    for (int64_t i = b * bs; i < std::min(total, (b + 1) * bs); ++i) {
      ManifestEntry e;
      e.input = inputs[static_cast<size_t>(i)];
      if (i == 3) {
        e.ok = false;
        e.error = e.input + ": cannot identify image file";
      } else {
        e.index = rows++;
      }
      entries.push_back(e);
    }
    BatchFeature bf;
    bf.set("pixel_values", make<float>({rows, 3, 2, 2}, [&](int64_t k) { return b * 100 + k; }));
    bf.set("pixel_values_f64", make<double>({rows, 2}, [&](int64_t k) { return b * 100 + k + 0.5; }));
    bf.set("labels", make<int64_t>({rows}, [&](int64_t k) { return b * 10 + k; }));
    bf.set("ids", make<int32_t>({rows, 2}, [&](int64_t k) { return -(b * 100 + k); }));
    bf.set("depth", make<uint16_t>({rows, 2}, [&](int64_t k) { return 60000 + b * 100 + k; }));
    bf.set("mask", make<uint8_t>({rows, 3}, [&](int64_t k) { return b * 10 + k; }));
    bf.set("valid", make<bool>({rows, 3}, [&](int64_t k) { return k % 2 == 1; }));
    std::vector<Tensor> sizes;
    for (int64_t r = 0; r < rows; ++r)
      sizes.push_back(make<int64_t>({2}, [&](int64_t k) { return k == 0 ? b : r; }));
    bf.set("sizes", sizes);
    w.write_batch(b, bf, entries);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "Usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    write(std::string(argv[1]) + "/npy", SinkSpec::Format::kNpy);
    write(std::string(argv[1]) + "/safetensors", SinkSpec::Format::kSafetensors);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
