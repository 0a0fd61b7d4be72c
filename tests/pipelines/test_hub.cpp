// The Hugging Face Hub client (pipelines/hub/hub.h): names and settings as huggingface_hub has
// them, the offline paths, and downloads / pushes through the C++ API against the fake Hub of
// tests/python/fake_hub.py (a subprocess on 127.0.0.1; skipped when /usr/bin/python3 is missing).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/common/test_config_util.h"
#include "pipelines/hub/hub.h"
#include "pipelines/image_processor.h"
#include "pipelines/processor_config.h"

using namespace pixelflow;
using namespace pixelflow::pipelines;
using pixelflow::test_config::EnvGuard;
using pixelflow::test_config::TempDir;
using pixelflow::test_config::read_file;
using pixelflow::test_config::write_file;
namespace fs = std::filesystem;

namespace {

const std::string kConfig = R"({"image_processor_type": "ViTImageProcessor", "size": {"height": 32, "width": 32}})";

// The fake Hub as a subprocess serving `repos` (REPO_ID=FOLDER), killed on destruction.
class FakeHubProcess {
 public:
  explicit FakeHubProcess(const std::vector<std::string>& repos) {
    const std::string script = std::string(PIXELFLOW_SOURCE_DIR) + "/tests/python/fake_hub.py";
    const std::string port_file = (dir_.path() / "url").string();
    std::vector<std::string> args{"/usr/bin/python3", script, port_file};
    args.insert(args.end(), repos.begin(), repos.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 600 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (fs::exists(port_file)) url_ = read_file(port_file);
  }
  ~FakeHubProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& url() const { return url_; }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::string url_;
};

}  // namespace

TEST_CASE("hub names are huggingface_hub's", "[hub]") {
  CHECK(hub::repo_folder_name("org/name") == "models--org--name");
  CHECK(hub::repo_folder_name("gpt2") == "models--gpt2");
  CHECK(hub::normalize_etag("\"abc\"") == "abc");
  CHECK(hub::normalize_etag("W/\"abc\"") == "abc");
  CHECK(hub::normalize_etag("abc") == "abc");
  CHECK(hub::url_quote("refs/pr/1", "") == "refs%2Fpr%2F1");
  CHECK(hub::url_quote("a b/c.json") == "a%20b/c.json");
  CHECK(hub::resolve_url("https://huggingface.co", "org/m", "refs/pr/1", "sub/preprocessor_config.json") ==
        "https://huggingface.co/org/m/resolve/refs%2Fpr%2F1/sub/preprocessor_config.json");
  CHECK(hub::is_commit_hash(std::string(40, 'a')));
  CHECK_FALSE(hub::is_commit_hash(std::string(40, 'A')));
  CHECK_FALSE(hub::is_commit_hash("main"));
}

TEST_CASE("hub settings come from the environment as huggingface_hub reads them", "[hub]") {
  TempDir home;
  EnvGuard hf_home("HF_HOME", home.str());
  EnvGuard cache("HF_HUB_CACHE", std::nullopt);
  EnvGuard legacy("HUGGINGFACE_HUB_CACHE", std::nullopt);
  EnvGuard token("HF_TOKEN", std::nullopt);
  EnvGuard old_token("HUGGING_FACE_HUB_TOKEN", std::nullopt);
  EnvGuard token_path("HF_TOKEN_PATH", std::nullopt);
  EnvGuard endpoint("HF_ENDPOINT", std::nullopt);
  EnvGuard offline("HF_HUB_OFFLINE", std::nullopt);
  EnvGuard t_offline("TRANSFORMERS_OFFLINE", std::nullopt);
  CHECK(hub::hub_cache_dir() == (home.path() / "hub").string());
  CHECK(hub::endpoint() == "https://huggingface.co");
  CHECK_FALSE(hub::resolve_token(std::nullopt));
  write_file(home.path() / "token", "  hf_file\n");
  CHECK(hub::resolve_token(std::nullopt) == "hf_file");
  {
    TempDir other;
    write_file(other.path() / "t", "hf_path");
    EnvGuard p("HF_TOKEN_PATH", (other.path() / "t").string());
    CHECK(hub::resolve_token(std::nullopt) == "hf_path");
  }
  {
    EnvGuard t("HF_TOKEN", "hf_env");
    CHECK(hub::resolve_token(std::nullopt) == "hf_env");
    CHECK(hub::resolve_token(std::string("hf_given")) == "hf_given");
  }
  {
    EnvGuard e("HF_ENDPOINT", "http://127.0.0.1:1/");
    CHECK(hub::endpoint() == "http://127.0.0.1:1");
    EnvGuard o("HF_HUB_OFFLINE", "yes");
    CHECK(hub::offline_mode());
  }
  CHECK_FALSE(hub::offline_mode());
}

TEST_CASE("offline, a model id is read from the cache or reported as not cached", "[hub]") {
  TempDir cache;
  const std::string commit(40, 'c');
  const fs::path repo = cache.path() / "models--acme--vit";
  write_file(repo / "blobs" / "e1", kConfig);
  fs::create_directories(repo / "snapshots" / commit);
  fs::create_symlink("../../blobs/e1", repo / "snapshots" / commit / "preprocessor_config.json");
  write_file(repo / "refs" / "main", commit);
  EnvGuard offline("HF_HUB_OFFLINE", "1");
  LoadOptions o;
  o.cache_dir = cache.str();
  CHECK(load_processor_config("acme/vit", o).class_name == "ViTImageProcessor");
  o.revision = "v9";
  try {
    load_processor_config("acme/vit", o);
    FAIL("no error");
  } catch (const HubError& e) {
    CHECK(e.kind() == HubError::Kind::kOffline);
    CHECK_THAT(std::string(e.what()), Catch::StartsWith("acme/vit: model id not found"));
  }
  o.revision.reset();
  o.force_download = true;
  CHECK_THROWS_AS(load_processor_config("acme/vit", o), HubError);
  // .no_exist records a file known not to exist.
  write_file(repo / ".no_exist" / commit / "sub" / "preprocessor_config.json", "");
  o.force_download = false;
  o.subfolder = "sub";
  try {
    load_processor_config("acme/vit", o);
    FAIL("no error");
  } catch (const HubError& e) {
    CHECK(e.kind() == HubError::Kind::kEntryNotFound);
  }
}

TEST_CASE("from_pretrained downloads into the shared cache and save_pretrained pushes (fake Hub)", "[hub]") {
  if (!fs::exists("/usr/bin/python3")) {
    WARN("no /usr/bin/python3 for the fake Hub: skipped");
    return;
  }
  TempDir folder;
  write_file(folder.path() / "preprocessor_config.json", kConfig);
  FakeHubProcess fake({"acme/vit=" + folder.str()});
  REQUIRE_FALSE(fake.url().empty());
  TempDir cache;
  EnvGuard endpoint("HF_ENDPOINT", fake.url());
  EnvGuard offline("HF_HUB_OFFLINE", std::nullopt);
  EnvGuard token("HF_TOKEN", std::nullopt);
  EnvGuard token_path("HF_TOKEN_PATH", (cache.path() / "no-token").string());
  EnvGuard models("PIXELFLOW_MODELS_DIR", cache.str());  // no bundled copy of anything
  LoadOptions o;
  o.cache_dir = cache.str();
  const auto proc = ImageProcessor::from_pretrained("acme/vit", o);
  CHECK(proc.config().class_name == "ViTImageProcessor");
  const fs::path repo = cache.path() / "models--acme--vit";
  const std::string commit = read_file((repo / "refs" / "main").string());
  CHECK(hub::is_commit_hash(commit));  // no newline
  const fs::path pointer = repo / "snapshots" / commit / "preprocessor_config.json";
  REQUIRE(fs::is_symlink(pointer));
  const fs::path target = fs::read_symlink(pointer);
  CHECK(target.parent_path() == fs::path("../../blobs"));
  CHECK(read_file(pointer.string()) == kConfig);
  CHECK(fs::exists(cache.path() / ".locks" / "models--acme--vit" / (target.filename().string() + ".lock")));

  // Errors, one line each.
  auto kind_of = [&](const std::string& id, const LoadOptions& opts) {
    try {
      load_processor_config(id, opts);
    } catch (const HubError& e) {
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
      return e.kind();
    }
    FAIL("no error for " << id);
    return HubError::Kind::kHttp;
  };
  CHECK(kind_of("acme/missing", o) == HubError::Kind::kRepoNotFound);
  LoadOptions rev = o;
  rev.revision = "nope";
  CHECK(kind_of("acme/vit", rev) == HubError::Kind::kRevisionNotFound);
  LoadOptions sub = o;
  sub.subfolder = "nothere";
  CHECK(kind_of("acme/vit", sub) == HubError::Kind::kEntryNotFound);

  // Push without a token: a clear error; with one: the commit is what the next download sees.
  ProcessorConfig cfg = proc.config();
  cfg.attributes["size"] = {{"height", 48}, {"width", 48}};
  PushOptions push;
  CHECK_THROWS_AS(push_to_hub(cfg, "alice/pushed", push), HubError);
  push.token = "hf_write";
  const std::string url = push_to_hub(cfg, "alice/pushed", push);
  CHECK_THAT(url, Catch::StartsWith(fake.url() + "/alice/pushed/commit/"));
  const auto pulled = load_processor_config("alice/pushed", o);
  CHECK(pulled.attributes["size"] == cfg.attributes["size"]);
}
