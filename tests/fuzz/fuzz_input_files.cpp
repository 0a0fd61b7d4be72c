// libFuzzer: bytes -> a folder of the files a careless or hostile user can point pixelflow at,
// then the file-type handling of every reader that takes a path. The bytes describe up to eight
// entries, each [kind][extension][length: 2 bytes LE][payload]:
//   kind  regular file holding the payload | symlink to /dev/zero | folder | FIFO |
//         dangling symlink | symlink to the previous entry (to itself for the first: a loop) |
//         empty file | symlink to /dev/null | symlink to the folder itself
//   ext   .jpg .png .npy .webp .bmp .json .yaml
// Checked, besides "no crash, no hang (libFuzzer's -timeout), no sanitizer report":
//   - each entry alone through a CLIP call (image and .npy readers): success, or an error of one
//     line that names the entry's path;
//   - all entries in one call with on_error=skip: exactly the entries that fail alone are left
//     out, with the same messages, and every other one gives the bytes it gives alone (nothing
//     else in the batch lost or changed); the calls give input_data_format, since an inferred
//     layout is the batch's first image's (as in Hugging Face), not each input's own;
//   - the folder source lists the folder (FIFOs, devices and loops included) without blocking;
//   - .json entries as a processor config, .yaml entries as a pipeline file: a result or a
//     one-line error.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/errors.h"
#include "pipelines/image_processor.h"
#include "pipelines/input_source.h"
#include "pipelines/yaml_pipeline.h"
#include "tests/fuzz/fuzz_common.h"

using namespace pixelflow;
namespace fs = std::filesystem;

namespace {

const char* const kExtensions[] = {".jpg", ".png", ".npy", ".webp", ".bmp", ".json", ".yaml"};

const fs::path& folder() {
  static const fs::path dir = [] {
    char tmpl[] = "/tmp/pixelflow_fuzz_files_XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    return fs::path(tmpl);
  }();
  return dir;
}

void clear_folder() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder(), ec)) fs::remove_all(e.path(), ec);
}

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_input_files: %s\n", what.c_str());
  std::abort();
}

// Creates entry `i`; returns its path.
std::string make_entry(int i, uint8_t kind, uint8_t ext, const uint8_t* payload, size_t n,
                       const std::string& previous) {
  const std::string path = (folder() / ("in" + std::to_string(i) + kExtensions[ext % 7])).string();
  switch (kind % 9) {
    case 0: {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) std::abort();
      if (n > 0 && ::write(fd, payload, n) != static_cast<ssize_t>(n)) std::abort();
      ::close(fd);
      break;
    }
    case 1: (void)::symlink("/dev/zero", path.c_str()); break;
    case 2: (void)::mkdir(path.c_str(), 0755); break;
    case 3: (void)::mkfifo(path.c_str(), 0644); break;
    case 4: (void)::symlink((folder() / "missing").c_str(), path.c_str()); break;
    case 5: (void)::symlink(previous.empty() ? path.c_str() : previous.c_str(), path.c_str()); break;
    case 6: {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) ::close(fd);
      break;
    }
    case 7: (void)::symlink("/dev/null", path.c_str()); break;
    case 8: (void)::symlink(folder().c_str(), path.c_str()); break;
  }
  return path;
}

const pipelines::PreparedCall& clip_call(bool skip) {
  static const pipelines::ImageProcessor clip =
      pipelines::ImageProcessor::from_pretrained("openai/clip-vit-base-patch32");
  auto make = [](bool skip_failed) {
    pipelines::CallOptions o;
    o.threads = 1;
    o.return_tensors = false;
    o.skip_failed = skip_failed;
    o.max_image_pixels = 1 << 20;
    // The layout given, not inferred: Hugging Face infers it from a batch's first image and
    // applies it to all, so without it an input's outcome would depend on the others.
    return clip.prepare({{"input_data_format", "channels_last"}}, o);
  };
  static const pipelines::PreparedCall plain = make(false), skipping = make(true);
  return skip ? skipping : plain;
}

struct Alone {
  bool ok = false;
  Tensor image;
  std::string error;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  clear_folder();
  std::vector<std::string> paths;
  size_t pos = 0;
  while (pos + 4 <= size && paths.size() < 8) {
    const uint8_t kind = data[pos], ext = data[pos + 1];
    size_t n = static_cast<size_t>(data[pos + 2]) | static_cast<size_t>(data[pos + 3]) << 8;
    pos += 4;
    n = std::min(n, size - pos);
    paths.push_back(make_entry(static_cast<int>(paths.size()), kind, ext, data + pos, n,
                               paths.empty() ? std::string() : paths.back()));
    pos += n;
  }
  if (paths.empty()) return 0;

  // Each entry alone.
  std::vector<Alone> alone(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    try {
      BatchFeature f = clip_call(false).run({ops::InputItem::file(paths[i])});
      alone[i].ok = true;
      alone[i].image = f.list("pixel_values").at(0);
    } catch (const Error& e) {
      fuzz::check_message(e);
      alone[i].error = e.what();
      if (alone[i].error.find(paths[i]) == std::string::npos)
        finding("the error for " + paths[i] + " does not name it: " + alone[i].error);
    }
  }

  // All together, skipping failures: the same failures, the others unchanged.
  std::vector<ops::InputItem> items;
  for (const auto& p : paths) items.push_back(ops::InputItem::file(p));
  RunReport report;
  fuzz::expect_clean([&] {
    BatchFeature f = clip_call(true).run(items, &report);
    std::vector<Tensor> rows = f.contains("pixel_values") ? f.list("pixel_values") : std::vector<Tensor>{};
    size_t failed = 0, row = 0;
    for (size_t i = 0; i < paths.size(); ++i) {
      const bool reported = failed < report.failed.size() && report.failed[failed].index == static_cast<int64_t>(i);
      if (reported != !alone[i].ok)
        finding(paths[i] + (reported ? " failed only in the batch: " + report.failed[failed].message
                                     : " failed only alone: " + alone[i].error));
      if (reported) {
        if (report.failed[failed].message != alone[i].error)
          finding(paths[i] + ": message differs in the batch: [" + report.failed[failed].message + "] vs [" +
                  alone[i].error + "]");
        ++failed;
        continue;
      }
      if (row >= rows.size()) finding("the batch lost " + paths[i]);
      const Tensor& a = alone[i].image;
      const Tensor& b = rows[row++];
      if (a.shape() != b.shape() || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) != 0)
        finding(paths[i] + ": different bytes in the batch");
    }
    if (row != rows.size()) finding("the batch has extra rows");
  });

  // Listing the folder never blocks on what it holds.
  fuzz::expect_clean([&] {
    pipelines::SourceSpec source = pipelines::source_from_argument(folder().string(), /*recursive=*/true);
    (void)pipelines::list_inputs(source);
  });

  // Configs and pipeline files.
  for (const auto& p : paths) {
    const std::string ext = fs::path(p).extension().string();
    if (ext == ".json") fuzz::expect_clean([&] { (void)pipelines::ImageProcessor::from_pretrained(p); });
    if (ext == ".yaml") fuzz::expect_clean([&] { (void)pipelines::load_pipeline_yaml(p); });
  }
  return 0;
}
