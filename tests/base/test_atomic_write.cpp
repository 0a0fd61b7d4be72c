// Output files are replaced, never written in place (base/atomic_file.h): a symlink at the
// final name is replaced, not followed; a failure leaves the old file and no temporary; all
// outputs of one BatchFeature appear together.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <string>

#include "base/atomic_file.h"
#include "base/errors.h"
#include "graph/batch_feature.h"
#include "graph/npy.h"
#include "tests/common/temp_dir.h"

using namespace pixelflow;
using namespace pixelflow::test;
namespace fs = std::filesystem;

namespace {

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

}  // namespace

TEST_CASE("atomic_write_file replaces the file, and a symlink itself rather than its target", "[atomic_write]") {
  TempDir tmp("pixelflow_atomic_");
  const fs::path out = tmp.path / "out.txt";
  atomic_write_file(out.string(), std::vector<std::string_view>{"hello ", "world"});
  CHECK(read_bytes(out) == "hello world");
  atomic_write_file(out.string(), "again");
  CHECK(read_bytes(out) == "again");

  // The new file is 0644 minus the umask.
  const mode_t old_mask = ::umask(027);
  atomic_write_file(out.string(), "masked");
  ::umask(old_mask);
  struct stat st {};
  REQUIRE(::stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);

  // A symlink at the final name: the link is replaced by a regular file, its target untouched.
  const fs::path target = tmp.path / "precious.txt", link = tmp.path / "link.txt";
  write_bytes(target, "precious");
  fs::create_symlink(target, link);
  atomic_write_file(link.string(), "new");
  CHECK(read_bytes(target) == "precious");
  CHECK(fs::is_regular_file(fs::symlink_status(link)));
  CHECK(read_bytes(link) == "new");
  // A dangling symlink: not followed either (nothing is created where it points).
  const fs::path dangling = tmp.path / "dangling.txt";
  fs::create_symlink(tmp.path / "nowhere.txt", dangling);
  atomic_write_file(dangling.string(), "x");
  CHECK(!fs::exists(tmp.path / "nowhere.txt"));
  CHECK(fs::is_regular_file(fs::symlink_status(dangling)));
  CHECK(names_in(tmp.path) == std::set<std::string>{"out.txt", "precious.txt", "link.txt", "dangling.txt"});
}

TEST_CASE("a failed write leaves the old file and no temporary", "[atomic_write]") {
  TempDir tmp("pixelflow_atomic_");
  // No such folder: the error names the file, nothing is created.
  const fs::path missing = tmp.path / "no" / "out.txt";
  REQUIRE_THROWS_WITH(atomic_write_file(missing.string(), "x"), Catch::Contains(missing.string()));
  CHECK(names_in(tmp.path).empty());

  // A folder at the final name: rename fails, the temporary is removed.
  fs::create_directory(tmp.path / "busy");
  write_bytes(tmp.path / "busy" / "inside", "keep");
  REQUIRE_THROWS_WITH(atomic_write_file((tmp.path / "busy").string(), "x"),
                      Catch::Contains((tmp.path / "busy").string()));
  CHECK(names_in(tmp.path) == std::set<std::string>{"busy"});
  CHECK(read_bytes(tmp.path / "busy" / "inside") == "keep");

  // Staged but never committed (an exception between stage and commit): nothing changes.
  write_bytes(tmp.path / "a.txt", "old a");
  {
    StagedFiles files;
    files.stage((tmp.path / "a.txt").string(), {"new a"});
    files.stage((tmp.path / "b.txt").string(), {"new b"});
    CHECK(names_in(tmp.path).size() == 4);  // busy, a.txt and two temporaries
  }
  CHECK(read_bytes(tmp.path / "a.txt") == "old a");
  CHECK(names_in(tmp.path) == std::set<std::string>{"busy", "a.txt"});
}

TEST_CASE("BatchFeature::save_npy writes every file or none, streamed from the tensors", "[atomic_write][batch_feature]") {
  TempDir tmp("pixelflow_atomic_");
  const fs::path dir = tmp.path / "out";
  Tensor a = Tensor::zeros(DType::kFloat32, {2, 3, 4, 5});
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = static_cast<float>(i) * 0.5f;
  Tensor b = Tensor::zeros(DType::kInt64, {2, 4, 5});
  BatchFeature bf;
  bf.set("pixel_values", a);
  bf.set("labels", b);
  std::vector<std::string> written = bf.save_npy(dir.string());
  CHECK(written == std::vector<std::string>{(dir / "pixel_values.npy").string(), (dir / "labels.npy").string()});
  CHECK(read_bytes(dir / "pixel_values.npy") == npy_bytes(a));  // same bytes as before streaming
  CHECK(read_bytes(dir / "labels.npy") == npy_bytes(b));
  CHECK(names_in(dir) == std::set<std::string>{"pixel_values.npy", "labels.npy"});

  // A later key cannot be written (its folder is missing): the earlier key's old file stays.
  const std::string old_pixels = read_bytes(dir / "pixel_values.npy");
  BatchFeature failing;
  failing.set("pixel_values", Tensor::zeros(DType::kUInt8, {1, 2}));
  failing.set("sub/labels", b);  // DIR/sub does not exist
  REQUIRE_THROWS_WITH(failing.save_npy(dir.string()), Catch::Contains("sub/labels.npy"));
  CHECK(read_bytes(dir / "pixel_values.npy") == old_pixels);
  CHECK(names_in(dir) == std::set<std::string>{"pixel_values.npy", "labels.npy"});

  // A folder at a later key's name: refused before any rename, so the earlier key keeps its
  // old file.
  fs::create_directory(dir / "sub");
  fs::create_directory(dir / "sub" / "labels.npy");
  REQUIRE_THROWS_WITH(failing.save_npy(dir.string()), Catch::Contains("sub/labels.npy: is a folder"));
  CHECK(read_bytes(dir / "pixel_values.npy") == old_pixels);
  CHECK(names_in(dir) == std::set<std::string>{"pixel_values.npy", "labels.npy", "sub"});
  CHECK(names_in(dir / "sub") == std::set<std::string>{"labels.npy"});
  fs::remove_all(dir / "sub");

  // Per-image lists, with a symlink at one of the names.
  const fs::path target = tmp.path / "precious.npy";
  write_bytes(target, "precious");
  fs::create_symlink(target, dir / "pixel_values_1.npy");
  BatchFeature list;
  list.set("pixel_values", std::vector<Tensor>{a[0], a[1]});
  list.save_npy(dir.string());
  CHECK(read_bytes(target) == "precious");
  CHECK(fs::is_regular_file(fs::symlink_status(dir / "pixel_values_1.npy")));
  CHECK(read_bytes(dir / "pixel_values_1.npy") == npy_bytes(a[1]));
}
