// base/posix_file.h: the low-level file helpers of the dataset writer's folders. Lines are read
// complete only, never from something that is not a regular file; files are written without
// following a symlink; a file matches a digest only with the same size and SHA-256.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "base/errors.h"
#include "base/posix_file.h"
#include "base/sha256.h"

using namespace pixelflow;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "pixelflow_posix_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

void write_text(const std::string& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

std::string read_text(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<std::string> lines_of(const std::string& path) {
  posix::LineReader r(path);
  std::vector<std::string> out;
  for (std::string line; r.next(line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("LineReader returns complete lines only", "[posix_file]") {
  TempDir tmp;
  const std::string p = tmp / "a.jsonl";
  write_text(p, "one\n\nthree\npartial");
  CHECK(lines_of(p) == std::vector<std::string>{"one", "", "three"});
  write_text(p, "");
  CHECK(lines_of(p).empty());
  // Longer than one read (64 KiB) and a line across the boundary.
  const std::string a(70000, 'a'), b(100, 'b');
  write_text(p, a + "\n" + b + "\n");
  CHECK(lines_of(p) == std::vector<std::string>{a, b});
}

TEST_CASE("LineReader refuses what is not a regular file, without waiting", "[posix_file]") {
  TempDir tmp;
  const std::string fifo = tmp / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK_THROWS_AS(posix::LineReader(fifo), DecodeError);
  CHECK_THROWS_WITH(posix::LineReader(tmp / "missing"), Catch::Contains(tmp / "missing"));
  CHECK_THROWS_WITH(posix::LineReader(tmp.path.string()), Catch::Contains("not a regular file (a directory)"));
}

TEST_CASE("write_file writes the pieces, refuses a symlink, removes a partial file", "[posix_file]") {
  TempDir tmp;
  const std::string p = tmp / "f.bin";
  posix::write_file(p, {"ab", "", "cde"}, /*sync=*/true);
  CHECK(read_text(p) == "abcde");
  posix::write_file(p, {"x"}, /*sync=*/false);  // truncated, not appended to
  CHECK(read_text(p) == "x");

  const std::string target = tmp / "target", link = tmp / "link";
  write_text(target, "keep");
  fs::create_symlink(target, link);
  CHECK_THROWS_WITH(posix::write_file(link, {"new"}, true),
                    Catch::StartsWith(link + ": cannot create: "));
  CHECK(read_text(target) == "keep");

  CHECK_THROWS_WITH(posix::write_file(tmp / "no/such/folder", {"x"}, true),
                    Catch::Equals(tmp / "no/such/folder" + ": cannot create: No such file or directory"));
  if (fs::exists("/dev/full")) {
    CHECK_THROWS_WITH(posix::write_file("/dev/full", {"x"}, true),
                      Catch::Equals("/dev/full: cannot write: No space left on device"));
    CHECK(fs::is_character_file("/dev/full"));  // not removed
  }
}

TEST_CASE("digest_of and file_matches: size and SHA-256", "[posix_file]") {
  TempDir tmp;
  const posix::FileDigest d = posix::digest_of({"hello ", "world"});
  CHECK(d.size == 11);
  CHECK(d.sha256 == sha256_hex("hello world"));
  CHECK(d.sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");

  const std::string p = tmp / "f";
  write_text(p, "hello world");
  CHECK(posix::file_matches(p, d.size, d.sha256));
  CHECK_FALSE(posix::file_matches(p, d.size - 1, d.sha256));
  CHECK_FALSE(posix::file_matches(p, d.size, sha256_hex("hello worle")));
  CHECK_FALSE(posix::file_matches(tmp / "missing", d.size, d.sha256));
  const std::string link = tmp / "link";
  fs::create_symlink(p, link);
  CHECK_FALSE(posix::file_matches(link, d.size, d.sha256));  // a link is not the file
  const std::string fifo = tmp / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK_FALSE(posix::file_matches(fifo, 0, sha256_hex("")));
}

TEST_CASE("remove_path, remove_file and truncate_back", "[posix_file]") {
  TempDir tmp;
  fs::create_directories(tmp.path / "d" / "e");
  write_text(tmp / "d/e/f", "x");
  posix::remove_path(tmp / "d");
  CHECK_FALSE(fs::exists(tmp.path / "d"));
  posix::remove_path(tmp / "d");  // missing: nothing to do
  posix::remove_file(tmp / "missing");
  fs::create_directories(tmp.path / "full");
  write_text(tmp / "full/x", "x");
  CHECK_THROWS_WITH(posix::remove_file(tmp / "full"), Catch::StartsWith(tmp / "full" + ": cannot remove: "));

  const std::string p = tmp / "log";
  write_text(p, "line 1\nline 2\n");
  posix::Fd fd(::open(p.c_str(), O_RDWR | O_APPEND));
  REQUIRE(fd.get() >= 0);
  CHECK(posix::truncate_back(fd.get(), 7, true));
  CHECK(read_text(p) == "line 1\n");
}
