// Output files are replaced, never written in place (base/atomic_file.h): a symlink at the
// final name is replaced, not followed; a failure leaves the old file and no temporary; all
// outputs of one BatchFeature appear together. And running out of memory is one truthful error
// that ends the call (graph/pipeline.cpp, graph/tensor.cpp), and absurd output sizes in a plan
// are refused before anything is allocated (registry/builder.cpp).
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <set>
#include <sstream>

#include "base/atomic_file.h"
#include "graph/batch_feature.h"
#include "registry/builder.h"
#include "base/errors.h"
#include "graph/npy.h"
#include "graph/pipeline.h"

using namespace pixelflow;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "pixelflow_atomic_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_plain(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

}  // namespace

TEST_CASE("atomic_write_file replaces the file, and a symlink itself rather than its target", "[atomic_write]") {
  TempDir tmp;
  const fs::path out = tmp.path / "out.txt";
  atomic_write_file(out.string(), std::vector<std::string_view>{"hello ", "world"});
  CHECK(read_file(out) == "hello world");
  atomic_write_file(out.string(), "again");
  CHECK(read_file(out) == "again");

  // The new file is 0644 minus the umask.
  const mode_t old_mask = ::umask(027);
  atomic_write_file(out.string(), "masked");
  ::umask(old_mask);
  struct stat st {};
  REQUIRE(::stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);

  // A symlink at the final name: the link is replaced by a regular file, its target untouched.
  const fs::path target = tmp.path / "precious.txt", link = tmp.path / "link.txt";
  write_plain(target, "precious");
  fs::create_symlink(target, link);
  atomic_write_file(link.string(), "new");
  CHECK(read_file(target) == "precious");
  CHECK(fs::is_regular_file(fs::symlink_status(link)));
  CHECK(read_file(link) == "new");
  // A dangling symlink: not followed either (nothing is created where it points).
  const fs::path dangling = tmp.path / "dangling.txt";
  fs::create_symlink(tmp.path / "nowhere.txt", dangling);
  atomic_write_file(dangling.string(), "x");
  CHECK(!fs::exists(tmp.path / "nowhere.txt"));
  CHECK(fs::is_regular_file(fs::symlink_status(dangling)));
  CHECK(names_in(tmp.path) == std::set<std::string>{"out.txt", "precious.txt", "link.txt", "dangling.txt"});
}

TEST_CASE("a failed write leaves the old file and no temporary", "[atomic_write]") {
  TempDir tmp;
  // No such folder: the error names the file, nothing is created.
  const fs::path missing = tmp.path / "no" / "out.txt";
  REQUIRE_THROWS_WITH(atomic_write_file(missing.string(), "x"), Catch::Contains(missing.string()));
  CHECK(names_in(tmp.path).empty());

  // A folder at the final name: rename fails, the temporary is removed.
  fs::create_directory(tmp.path / "busy");
  write_plain(tmp.path / "busy" / "inside", "keep");
  REQUIRE_THROWS_WITH(atomic_write_file((tmp.path / "busy").string(), "x"),
                      Catch::Contains((tmp.path / "busy").string()));
  CHECK(names_in(tmp.path) == std::set<std::string>{"busy"});
  CHECK(read_file(tmp.path / "busy" / "inside") == "keep");

  // Staged but never committed (an exception between stage and commit): nothing changes.
  write_plain(tmp.path / "a.txt", "old a");
  {
    StagedFiles files;
    files.stage((tmp.path / "a.txt").string(), {"new a"});
    files.stage((tmp.path / "b.txt").string(), {"new b"});
    CHECK(names_in(tmp.path).size() == 4);  // busy, a.txt and two temporaries
  }
  CHECK(read_file(tmp.path / "a.txt") == "old a");
  CHECK(names_in(tmp.path) == std::set<std::string>{"busy", "a.txt"});
}

TEST_CASE("BatchFeature::save_npy writes every file or none, streamed from the tensors", "[atomic_write][batch_feature]") {
  TempDir tmp;
  const fs::path dir = tmp.path / "out";
  Tensor a = Tensor::zeros(DType::kFloat32, {2, 3, 4, 5});
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = static_cast<float>(i) * 0.5f;
  Tensor b = Tensor::zeros(DType::kInt64, {2, 4, 5});
  BatchFeature bf;
  bf.set("pixel_values", a);
  bf.set("labels", b);
  std::vector<std::string> written = bf.save_npy(dir.string());
  CHECK(written == std::vector<std::string>{(dir / "pixel_values.npy").string(), (dir / "labels.npy").string()});
  CHECK(read_file(dir / "pixel_values.npy") == npy_bytes(a));  // same bytes as before streaming
  CHECK(read_file(dir / "labels.npy") == npy_bytes(b));
  CHECK(names_in(dir) == std::set<std::string>{"pixel_values.npy", "labels.npy"});

  // A later key cannot be written (its folder is missing): the earlier key's old file stays.
  const std::string old_pixels = read_file(dir / "pixel_values.npy");
  BatchFeature failing;
  failing.set("pixel_values", Tensor::zeros(DType::kUInt8, {1, 2}));
  failing.set("sub/labels", b);  // DIR/sub does not exist
  REQUIRE_THROWS_WITH(failing.save_npy(dir.string()), Catch::Contains("sub/labels.npy"));
  CHECK(read_file(dir / "pixel_values.npy") == old_pixels);
  CHECK(names_in(dir) == std::set<std::string>{"pixel_values.npy", "labels.npy"});

  // A folder at a later key's name: refused before any rename, so the earlier key keeps its
  // old file.
  fs::create_directory(dir / "sub");
  fs::create_directory(dir / "sub" / "labels.npy");
  REQUIRE_THROWS_WITH(failing.save_npy(dir.string()), Catch::Contains("sub/labels.npy: is a folder"));
  CHECK(read_file(dir / "pixel_values.npy") == old_pixels);
  CHECK(names_in(dir) == std::set<std::string>{"pixel_values.npy", "labels.npy", "sub"});
  CHECK(names_in(dir / "sub") == std::set<std::string>{"labels.npy"});
  fs::remove_all(dir / "sub");

  // Per-image lists, with a symlink at one of the names.
  const fs::path target = tmp.path / "precious.npy";
  write_plain(target, "precious");
  fs::create_symlink(target, dir / "pixel_values_1.npy");
  BatchFeature list;
  list.set("pixel_values", std::vector<Tensor>{a[0], a[1]});
  list.save_npy(dir.string());
  CHECK(read_file(target) == "precious");
  CHECK(fs::is_regular_file(fs::symlink_status(dir / "pixel_values_1.npy")));
  CHECK(read_file(dir / "pixel_values_1.npy") == npy_bytes(a[1]));
}

namespace {

// n inputs of 4x4x3 uint8; counts the loads.
class CountingLoader final : public Loader {
 public:
  explicit CountingLoader(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  void load(Sample& s, const ExecContext& ctx) const override {
    loads.fetch_add(1);
    s.source = "img" + std::to_string(s.index);
    s.image = Tensor::zeros(DType::kUInt8, {4, 4, 3}, ctx.pool);
  }
  mutable std::atomic<int64_t> loads{0};

 private:
  int64_t n_;
};

// Fails on input `fail_at` the way `kind` says; other inputs get an output of `shape`.
class FailingOp final : public Op {
 public:
  enum class Kind { kBadAlloc, kInputError, kNone };
  FailingOp(Kind kind, int64_t fail_at, Shape shape = {2, 2}) : kind_(kind), fail_at_(fail_at), shape_(std::move(shape)) {}
  std::string name() const override { return "failing"; }
  TensorSpec infer([[maybe_unused]] const TensorSpec& in) const override { return {DType::kFloat32, shape_}; }
  void run(Sample& s, const ExecContext& ctx, bool last) const override {
    if (s.index == fail_at_ && kind_ == Kind::kBadAlloc) throw std::bad_alloc();
    if (s.index == fail_at_ && kind_ == Kind::kInputError) throw InputError("synthetic failure");
    s.image = last ? ctx.output_for(s, DType::kFloat32, shape_) : ctx.new_tensor(DType::kFloat32, shape_);
  }

 private:
  Kind kind_;
  int64_t fail_at_;
  Shape shape_;
};

}  // namespace

TEST_CASE("out of memory ends the call with one truthful error", "[pipeline][out_of_memory]") {
  const int64_t n = 2000;
  RunOptions run{2, 4};

  // An input's bad_alloc: that input is named, the call stops (even with skip_failed).
  for (bool skip : {false, true}) {
    Pipeline p({std::make_shared<FailingOp>(FailingOp::Kind::kBadAlloc, 3)});
    CountingLoader loader(n);
    RunOptions r = run;
    r.skip_failed = skip;
    RunReport report;
    REQUIRE_THROWS_MATCHES(p.run(loader, r, {}, &report), OutOfMemoryError,
                           Catch::Matchers::Message("img3: out of memory while processing this input"));
    CHECK(loader.loads < 100);
  }

  // The stacked batch output cannot be had: the error names the output, its shape and size, and
  // no input; the other inputs are not processed.
  {
    Pipeline p({std::make_shared<FailingOp>(FailingOp::Kind::kNone, -1, Shape{int64_t(1) << 31, int64_t(1) << 31, 3})});
    CountingLoader loader(n);
    OutputOptions out;
    out.image_key = "pixel_values";
    try {
      p.run(loader, run, out);
      FAIL("no error");
    } catch (const OutOfMemoryError& e) {
      CHECK_THAT(e.what(), Catch::StartsWith("out of memory allocating the batch output pixel_values (2000, "
                                             "2147483648, 2147483648, 3) float32, "));
      CHECK(std::string(e.what()).find("img") == std::string::npos);
    }
    CHECK(loader.loads < 100);
  }

  // Any failing input ends the call early too (unless skip_failed); the first failing input in
  // input order is still the one reported.
  {
    Pipeline p({std::make_shared<FailingOp>(FailingOp::Kind::kInputError, 5)});
    CountingLoader loader(n);
    REQUIRE_THROWS_WITH(p.run(loader, run), Catch::Equals("img5: synthetic failure"));
    CHECK(loader.loads < 100);
  }
}

TEST_CASE("Tensor::empty reports the array it could not allocate", "[out_of_memory]") {
  // Sizes past the address space are refused before calling the allocator.
  REQUIRE_THROWS_MATCHES(Tensor::empty(DType::kFloat32, {int64_t(1) << 40, int64_t(1) << 40}), OutOfMemoryError,
                         Catch::Matchers::Message("out of memory allocating (1099511627776, 1099511627776) "
                                                  "float32: more bytes than the address space holds"));
  CHECK(describe_array(DType::kFloat32, {5000, 3, 224, 224}) == "(5000, 3, 224, 224) float32, 3.0 GB");
  CHECK(byte_size_str(512) == "512 bytes");
  CHECK(byte_size_str(1500000) == "1.5 MB");
  CHECK(Tensor::empty(DType::kUInt8, {0, int64_t(1) << 62}).nbytes() == 0);
}

TEST_CASE("a plan asking for absurd output sizes is refused before any allocation", "[builder][out_of_memory]") {
  auto plan_with = [](OpSpec spec) {
    Plan plan;
    plan.image_ops = {std::move(spec)};
    return plan;
  };
  const Plan huge_resize = plan_with({"resize", {{"size", {{"height", 200000}, {"width", 200000}}}, {"resample", 2}}});
  REQUIRE_THROWS_MATCHES(build_pipeline(huge_resize), ConfigError,
                         Catch::Matchers::Message("size: resize to 200000 x 200000 = 40000000000 pixels per image, "
                                                  "more than the limit of 178956970 (the pixel limit of "
                                                  "--max-image-pixels, PIXELFLOW_MAX_IMAGE_PIXELS or "
                                                  "load.max_image_pixels, at least 178956970; 0: no limit)"));
  const Plan huge_edge = plan_with({"resize", {{"size", {{"shortest_edge", 20000}}}, {"resample", 2}}});
  REQUIRE_THROWS_WITH(build_pipeline(huge_edge), Catch::StartsWith("size.shortest_edge: resize to 20000 x 20000"));
  Plan huge_crop = plan_with({"center_crop", {{"crop_size", {{"height", 100000}, {"width", 3000}}}}});
  REQUIRE_THROWS_WITH(build_pipeline(huge_crop), Catch::StartsWith("crop_size: center_crop to 100000 x 3000"));
  Plan overflow = plan_with({"center_crop", {{"crop_size", {{"height", int64_t(1) << 40}, {"width", int64_t(1) << 40}}}}});
  // Sides beyond a C int are refused where the op reads its parameters, by key.
  REQUIRE_THROWS_WITH(build_pipeline(overflow), Catch::StartsWith("center_crop.crop_size.height: must be at most 2147483647"));
  Plan huge_pad = plan_with({"pad", {{"size_divisor", 20000}}});
  REQUIRE_THROWS_WITH(build_pipeline(huge_pad), Catch::StartsWith("size_divisor: pad to 20000 x 20000"));
  // Labels too.
  Plan labels;
  labels.label_ops = {{"center_crop", {{"crop_size", {{"height", 100000}, {"width", 3000}}}}, Target::kLabels}};
  REQUIRE_THROWS_WITH(build_pipeline(labels), Catch::StartsWith("crop_size: "));

  // A raised pixel limit raises the bound; a lowered one does not lower it below the default
  // (an input limit of 100 pixels still allows 224 x 224 outputs); 0 turns the check off.
  huge_crop.load.max_pixels = 300000000;
  CHECK_NOTHROW(build_pipeline(huge_crop));
  Plan normal = plan_with({"resize", {{"size", {{"height", 224}, {"width", 224}}}, {"resample", 2}}});
  normal.load.max_pixels = 100;
  CHECK_NOTHROW(build_pipeline(normal));
  Plan unlimited = huge_resize;
  unlimited.load.max_pixels = 0;
  CHECK_NOTHROW(build_pipeline(unlimited));
  // Output sizes that follow the input (size_divisor resize, capped shortest edge) are not checked.
  CHECK_NOTHROW(build_pipeline(plan_with({"resize", {{"size", {{"shortest_edge", 20000}, {"longest_edge", 30000}}},
                                                      {"resample", 2}}})));
}
