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
#include "tests/common/temp_dir.h"

using namespace pixelflow;
using namespace pixelflow::test;
namespace fs = std::filesystem;

namespace {


std::vector<std::string> lines_of(const std::string& path) {
  posix::LineReader r(path);
  std::vector<std::string> out;
  for (std::string line; r.next(line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("LineReader returns complete lines only", "[posix_file]") {
  TempDir tmp("pixelflow_posix_");
  const std::string p = tmp / "a.jsonl";
  write_bytes(p, "one\n\nthree\npartial");
  CHECK(lines_of(p) == std::vector<std::string>{"one", "", "three"});
  write_bytes(p, "");
  CHECK(lines_of(p).empty());
  // Longer than one read (64 KiB) and a line across the boundary.
  const std::string a(70000, 'a'), b(100, 'b');
  write_bytes(p, a + "\n" + b + "\n");
  CHECK(lines_of(p) == std::vector<std::string>{a, b});
}

TEST_CASE("LineReader refuses what is not a regular file, without waiting", "[posix_file]") {
  TempDir tmp("pixelflow_posix_");
  const std::string fifo = tmp / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK_THROWS_AS(posix::LineReader(fifo), DecodeError);
  CHECK_THROWS_WITH(posix::LineReader(tmp / "missing"), Catch::Contains(tmp / "missing"));
  CHECK_THROWS_WITH(posix::LineReader(tmp.path.string()), Catch::Contains("not a regular file (a directory)"));
}

TEST_CASE("write_file writes the pieces, refuses a symlink, removes a partial file", "[posix_file]") {
  TempDir tmp("pixelflow_posix_");
  const std::string p = tmp / "f.bin";
  posix::write_file(p, {"ab", "", "cde"}, /*sync=*/true);
  CHECK(read_bytes(p) == "abcde");
  posix::write_file(p, {"x"}, /*sync=*/false);  // truncated, not appended to
  CHECK(read_bytes(p) == "x");

  const std::string target = tmp / "target", link = tmp / "link";
  write_bytes(target, "keep");
  fs::create_symlink(target, link);
  CHECK_THROWS_WITH(posix::write_file(link, {"new"}, true),
                    Catch::StartsWith(link + ": cannot create: "));
  CHECK(read_bytes(target) == "keep");

  CHECK_THROWS_WITH(posix::write_file(tmp / "no/such/folder", {"x"}, true),
                    Catch::Equals(tmp / "no/such/folder" + ": cannot create: No such file or directory"));
  if (fs::exists("/dev/full")) {
    CHECK_THROWS_WITH(posix::write_file("/dev/full", {"x"}, true),
                      Catch::Equals("/dev/full: cannot write: No space left on device"));
    CHECK(fs::is_character_file("/dev/full"));  // not removed
  }
}

TEST_CASE("digest_of and file_matches: size and SHA-256", "[posix_file]") {
  TempDir tmp("pixelflow_posix_");
  const posix::FileDigest d = posix::digest_of({"hello ", "world"});
  CHECK(d.size == 11);
  CHECK(d.sha256 == sha256_hex("hello world"));
  CHECK(d.sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");

  const std::string p = tmp / "f";
  write_bytes(p, "hello world");
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
  TempDir tmp("pixelflow_posix_");
  fs::create_directories(tmp.path / "d" / "e");
  write_bytes(tmp / "d/e/f", "x");
  posix::remove_path(tmp / "d");
  CHECK_FALSE(fs::exists(tmp.path / "d"));
  posix::remove_path(tmp / "d");  // missing: nothing to do
  posix::remove_file(tmp / "missing");
  fs::create_directories(tmp.path / "full");
  write_bytes(tmp / "full/x", "x");
  CHECK_THROWS_WITH(posix::remove_file(tmp / "full"), Catch::StartsWith(tmp / "full" + ": cannot remove: "));

  const std::string p = tmp / "log";
  write_bytes(p, "line 1\nline 2\n");
  posix::Fd fd(::open(p.c_str(), O_RDWR | O_APPEND));
  REQUIRE(fd.get() >= 0);
  CHECK(posix::truncate_back(fd.get(), 7, true));
  CHECK(read_bytes(p) == "line 1\n");
}
