// The Hugging Face Hub client (see hub.h): libcurl for HTTP, huggingface_hub's cache layout.
#include "pipelines/hub/hub.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/errors.h"
#include "base/sha256.h"

namespace pixelflow::pipelines::hub {

namespace fs = std::filesystem;
using Kind = HubError::Kind;

namespace {

constexpr const char* kDefaultEndpoint = "https://huggingface.co";
constexpr int kMaxRedirects = 20;         // httpx's default, as huggingface_hub's redirect loop
constexpr int kMaxStatusRetries = 5;      // http_backoff: 5 retries on 429 / 5xx
constexpr int kMaxTransportRetries = 5;   // http_get: 5 tries without new data
constexpr double kBaseWaitSeconds = 1.0;  // http_backoff: 1 s, doubled up to 8 s
constexpr double kMaxWaitSeconds = 8.0;
constexpr uint64_t kMaxErrorBody = 64 << 10;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}


std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool truthy_env(const char* name) {
  const std::string v = lower(trim(env(name)));
  return v == "1" || v == "on" || v == "yes" || v == "true";
}

std::string hf_home() {
  std::string home = env("HF_HOME");
  if (!home.empty()) return expand_user(home);
  std::string xdg = env("XDG_CACHE_HOME");
  if (xdg.empty()) xdg = "~/.cache";
  return (fs::path(expand_user(xdg)) / "huggingface").string();
}

// ---- URLs ----------------------------------------------------------------------------------

struct Url {
  std::string scheme, host, port, rest;  // rest: path, query (from the first "/" on)
};

Url parse_url(const std::string& url) {
  Url u;
  const auto colon = url.find("://");
  if (colon == std::string::npos) return u;
  u.scheme = lower(url.substr(0, colon));
  const auto start = colon + 3;
  auto end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  std::string authority = url.substr(start, end - start);
  if (const auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    const auto close = authority.find(']');
    u.host = lower(authority.substr(0, close + 1));
    if (close != std::string::npos && close + 1 < authority.size() && authority[close + 1] == ':')
      u.port = authority.substr(close + 2);
  } else if (const auto c = authority.rfind(':'); c != std::string::npos) {
    u.host = lower(authority.substr(0, c));
    u.port = authority.substr(c + 1);
  } else {
    u.host = lower(authority);
  }
  u.rest = end < url.size() ? url.substr(end) : "/";
  return u;
}

std::string origin_of(const std::string& url) {
  const std::string::size_type colon = url.find("://");
  if (colon == std::string::npos) return "";
  const auto end = url.find_first_of("/?#", colon + 3);
  return end == std::string::npos ? url : url.substr(0, end);
}

// urllib.parse.urljoin for the Location forms servers send.
std::string url_join(const std::string& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  if (location.rfind("//", 0) == 0) return parse_url(base).scheme + ":" + location;
  if (!location.empty() && location[0] == '/') return origin_of(base) + location;
  std::string b = base.substr(0, base.find_first_of("?#", origin_of(base).size()));
  const auto slash = b.rfind('/');
  if (slash == std::string::npos || slash < origin_of(base).size()) return origin_of(base) + "/" + location;
  return b.substr(0, slash + 1) + location;
}

bool same_host(const std::string& a, const std::string& b) { return parse_url(a).host == parse_url(b).host; }

// huggingface_hub's _is_same_or_hub_host.
bool same_or_hub_host(const std::string& a, const std::string& b) {
  const std::string h = parse_url(b).host;
  return h == parse_url(a).host || h == "huggingface.co" || h == "hf.co";
}

// requests' select_proxy: "scheme://host", "scheme", "all://host", "all".
std::optional<std::string> select_proxy(const std::string& url, const std::map<std::string, std::string>& proxies) {
  if (proxies.empty()) return std::nullopt;
  const Url u = parse_url(url);
  for (const std::string& key : {u.scheme + "://" + u.host, u.scheme, "all://" + u.host, std::string("all")}) {
    auto it = proxies.find(key);
    if (it != proxies.end() && !it->second.empty()) return it->second;
  }
  return std::nullopt;
}

// ---- HTTP over libcurl ---------------------------------------------------------------------

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, the last value of each
  std::string body;                            // for answers not given to a sink (bounded)
  std::string url;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool has(const std::string& name) const { return headers.count(name) != 0; }
};

// The transfer failed below HTTP (resolve, connect, time-out, connection cut).
struct TransportError {
  CURLcode code;
  std::string message;
};

// Receives the body of a 2xx answer, chunk by chunk; returns false to stop the transfer (which
// then ends without an error).
using Sink = std::function<bool(const char*, size_t, const Response&)>;

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string body;
  bool follow = false;  // libcurl follows redirects (a custom Authorization stays on the first host)
  const Connection* connection = nullptr;
  long timeout_s = 10;
  Sink sink;
};

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  Response response;
  const Request* request = nullptr;
  bool stopped = false;  // the sink asked to stop
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new answer (after a redirect or a 100 Continue)
    t->response.headers.clear();
    t->response.body.clear();
    const auto sp = line.find(' ');
    t->response.status = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon != std::string::npos) t->response.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  const long status = t->response.status;
  if (t->request->sink && status >= 200 && status < 300) {
    if (!t->request->sink(data, bytes, t->response)) {
      t->stopped = true;
      return 0;
    }
    return bytes;
  }
  if (t->response.body.size() < kMaxErrorBody) t->response.body.append(data, std::min<size_t>(bytes, kMaxErrorBody));
  return bytes;
}

Response perform_once(const Request& req) {
  global_init();
  CURL* curl = curl_easy_init();
  if (!curl) throw TransportError{CURLE_FAILED_INIT, "cannot start libcurl"};
  Transfer t;
  t.request = &req;
  struct curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  char err[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, req.timeout_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled answer: no byte for timeout_s
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, req.timeout_s);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, req.follow ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, static_cast<long>(kMaxRedirects));
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (req.connection) {
    if (auto proxy = select_proxy(req.url, req.connection->proxies)) curl_easy_setopt(curl, CURLOPT_PROXY, proxy->c_str());
  }
  const CURLcode rc = curl_easy_perform(curl);
  char* effective = nullptr;
  curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
  t.response.url = effective ? effective : req.url;
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  if (code) t.response.status = code;
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.stopped))
    throw TransportError{rc, err[0] ? std::string(err) : std::string(curl_easy_strerror(rc))};
  return std::move(t.response);
}

bool retryable_status(long s) { return s == 429 || s == 500 || s == 502 || s == 503 || s == 504; }

// A transport error worth another try (huggingface_hub retries timeouts and network errors); a
// host that cannot be resolved or refuses the connection is reported at once.
bool retryable_transport(CURLcode c) {
  return c == CURLE_OPERATION_TIMEDOUT || c == CURLE_PARTIAL_FILE || c == CURLE_RECV_ERROR ||
         c == CURLE_SEND_ERROR || c == CURLE_GOT_NOTHING || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
}

void sleep_seconds(double s) {
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

// How long to wait before retry `attempt` (0-based): Retry-After when the server gives a number of
// seconds (bounded by the back-off's maximum), else 1, 2, 4, 8, 8 s.
double backoff(int attempt, const Response* r) {
  if (r) {
    const std::string ra = r->header("retry-after");
    if (!ra.empty() && std::all_of(ra.begin(), ra.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return std::min(kMaxWaitSeconds, std::atof(ra.c_str()));
  }
  return std::min(kMaxWaitSeconds, kBaseWaitSeconds * double(1 << std::min(attempt, 4)));
}

// A request retried with back-off on 429 / 5xx and on transient transport errors.
Response perform(const Request& req) {
  int status_tries = 0, transport_tries = 0;
  for (;;) {
    try {
      Response r = perform_once(req);
      if (retryable_status(r.status) && status_tries < kMaxStatusRetries) {
        sleep_seconds(backoff(status_tries++, &r));
        continue;
      }
      return r;
    } catch (const TransportError& e) {
      if (!retryable_transport(e.code) || transport_tries >= kMaxTransportRetries) throw;
      sleep_seconds(backoff(transport_tries++, nullptr));
    }
  }
}

long timeout_from_env(const char* name) {
  const std::string v = trim(env(name));
  if (!v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    const long n = std::atol(v.c_str());
    if (n > 0) return n;
  }
  return 10;
}

std::string user_agent() {
  return std::string("User-Agent: pixelflow/0.1.0; hf_hub/none; ") + curl_version_info(CURLVERSION_NOW)->version;
}

std::string host_of(const std::string& url) {
  const Url u = parse_url(url);
  return u.port.empty() ? u.host : u.host + ":" + u.port;
}

// ---- errors from the Hub's answers ---------------------------------------------------------

std::string describe_status(const Response& r) {
  std::string s = "HTTP " + std::to_string(r.status);
  const std::string msg = r.header("x-error-message");
  if (!msg.empty()) s += " (" + msg + ")";
  return s;
}

[[noreturn]] void throw_for_status(const Response& r, const std::string& repo_id, const std::string& revision,
                                   const std::string& path_in_repo, const std::string& url, bool had_token) {
  const std::string code = r.header("x-error-code");
  const std::string msg = r.header("x-error-message");
  const std::string where = "on " + origin_of(url);
  const std::string token_hint =
      "a token may be needed (--token, HF_TOKEN or the file HF_TOKEN_PATH / HF_HOME/token)";
  if (code == "RevisionNotFound")
    throw HubError(Kind::kRevisionNotFound, repo_id, "revision \"" + revision + "\" not found " + where);
  if (code == "EntryNotFound")
    throw HubError(Kind::kEntryNotFound, repo_id,
                   path_in_repo + " not found in revision \"" + revision + "\" of the repository " + where);
  if (code == "GatedRepo")
    throw HubError(Kind::kGatedRepo, repo_id,
                   "gated repository " + where + " (HTTP " + std::to_string(r.status) + "): " +
                       (had_token ? "the token's account has not been granted access; ask for it on the repository's page"
                                  : "ask for access on the repository's page, then give a token of that account (--token or HF_TOKEN)"));
  if (code == "RepoNotFound" || (r.status == 401 && msg != "Invalid credentials in Authorization header"))
    throw HubError(Kind::kRepoNotFound, repo_id,
                   "repository not found " + where + " (HTTP " + std::to_string(r.status) + "): it may be private or misspelled; " +
                       (had_token ? "the token given may not have access to it" : token_hint));
  if (r.status == 401)
    throw HubError(Kind::kAuth, repo_id, "the token was refused " + where + " (HTTP 401, invalid credentials)");
  if (r.status == 403)
    throw HubError(Kind::kAuth, repo_id, "access forbidden " + where + " (" + describe_status(r) + ")");
  throw HubError(Kind::kHttp, repo_id, describe_status(r) + " from " + url);
}

[[noreturn]] void throw_network(const TransportError& e, const std::string& repo_id, const std::string& url,
                                const std::string& not_cached) {
  throw HubError(Kind::kNetwork, repo_id,
                 "cannot reach " + host_of(url) + " (" + e.message + ")" + (not_cached.empty() ? "" : "; " + not_cached));
}

// ---- files ---------------------------------------------------------------------------------

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                          (uint64_t(::getpid()) << 32) ^
                                          uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()));
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(kHex[rng() & 15]);
  return s;
}

std::string read_small_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` to `path` through a temporary `tmp_name` in the same folder, renamed over it.
void write_atomically(const fs::path& path, const std::string& text, const fs::path& tmp) {
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw HubError(Kind::kCache, "", "cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw HubError(Kind::kCache, "", "cannot write " + path.string() + ": " + ec.message());
  }
}

void make_dirs(const fs::path& dir, const std::string& repo_id) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw HubError(Kind::kCache, repo_id, "cannot create the cache folder " + dir.string() + ": " + ec.message());
}

// _cache_commit_hash_for_specific_revision: refs/<revision> holds the commit (no newline), written
// only when it changes, through refs/<revision>.<8 hex>.tmp.
void write_ref(const fs::path& storage, const std::string& revision, const std::string& commit, const std::string& repo_id) {
  if (revision == commit) return;
  const fs::path ref = storage / "refs" / revision;
  std::error_code ec;
  if (fs::is_regular_file(ref, ec) && read_small_file(ref) == commit) return;
  make_dirs(ref.parent_path(), repo_id);
  write_atomically(ref, commit, ref.parent_path() / (ref.filename().string() + "." + random_hex(8) + ".tmp"));
}

// CACHEDIR.TAG, as huggingface_hub's _create_cachedir_tag writes it (best effort).
void write_cachedir_tag(const fs::path& cache) {
  const fs::path tag = cache / "CACHEDIR.TAG";
  std::error_code ec;
  if (fs::exists(tag, ec)) return;
  std::ofstream out(tag, std::ios::binary);
  out << "Signature: 8a477f597d28d172789f06886806bc55\n"
         "# This file is a cache directory tag created by huggingface_hub.\n"
         "# For information about cache directory tags, see:\n"
         "#\thttps://bford.info/cachedir/\n";
}

// An exclusive flock(2) on the lock file, as filelock's UnixFileLock takes it (mode 0664). A lock
// file replaced while waiting is opened again, so that both holders lock the same inode.
class FileLock {
 public:
  FileLock(const fs::path& path, const std::string& repo_id) {
    make_dirs(path.parent_path(), repo_id);
    for (;;) {
      fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
      if (fd_ < 0) throw HubError(Kind::kCache, repo_id, "cannot open the lock file " + path.string() + ": " + std::strerror(errno));
      int rc;
      do rc = ::flock(fd_, LOCK_EX);
      while (rc != 0 && errno == EINTR);
      if (rc != 0) {
        const int e = errno;
        ::close(fd_);
        throw HubError(Kind::kCache, repo_id, "cannot lock " + path.string() + ": " + std::strerror(e));
      }
      struct stat a {}, b {};
      if (::fstat(fd_, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) return;
      ::close(fd_);  // removed or replaced meanwhile: lock the file now at that path
    }
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// _create_symlink: `pointer` -> relative path to `blob`, replacing what is there.
void link_pointer(const fs::path& blob, const fs::path& pointer, const std::string& repo_id) {
  const fs::path target = blob.lexically_relative(pointer.parent_path());
  std::error_code ec;
  if (fs::is_symlink(pointer, ec) && fs::read_symlink(pointer, ec) == target) return;
  fs::remove(pointer, ec);
  fs::create_symlink(target, pointer, ec);
  if (ec && !(fs::is_symlink(pointer) && fs::equivalent(pointer, blob, ec)))
    throw HubError(Kind::kCache, repo_id, "cannot create the link " + pointer.string() + ": " + ec.message());
}

// A name the server gave (etag, commit) is used as a file name: refuse anything that is not one.
bool safe_name(const std::string& s) {
  if (s.empty() || s.size() > 255 || s[0] == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool is_hex(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string sha256_of_file(const fs::path& p) { return sha256_hex(read_small_file(p)); }

// _validate_relative_filename, plus what a path in a repository cannot hold.
void check_path_in_repo(const std::string& path, const std::string& repo_id) {
  const fs::path p(path);
  bool ok = !path.empty() && p.is_relative() && path.find('\\') == std::string::npos;
  for (const auto& part : p)
    if (part == ".." || part == "." || part.empty()) ok = false;
  if (!ok) throw HubError(Kind::kEntryNotFound, repo_id, "invalid path in the repository: \"" + path + "\"");
}

std::vector<std::string> base_headers(const std::optional<std::string>& token) {
  std::vector<std::string> h{user_agent(), "Accept-Encoding: identity"};
  if (token) h.push_back("Authorization: Bearer " + *token);
  return h;
}

std::vector<std::string> without_auth(std::vector<std::string> h) {
  h.erase(std::remove_if(h.begin(), h.end(), [](const std::string& s) { return lower(s).rfind("authorization:", 0) == 0; }),
          h.end());
  return h;
}

// The token a read sends: none with use_token = false, and the implicit one (HF_TOKEN, the token
// file) unless HF_HUB_DISABLE_IMPLICIT_TOKEN is set, as build_hf_headers does.
std::optional<std::string> read_token(const Connection& c) {
  if (!c.use_token) return std::nullopt;
  if (!c.token && truthy_env("HF_HUB_DISABLE_IMPLICIT_TOKEN")) return std::nullopt;
  return resolve_token(c.token);
}

// What the first answers of GET .../resolve/... say about the file.
struct Metadata {
  std::string commit, etag, location;
  std::optional<uint64_t> size;
  bool cross_host = false;  // the bytes are on another host (a CDN): no token there
};

std::optional<uint64_t> parse_size(const std::string& s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return std::nullopt;
  return std::strtoull(s.c_str(), nullptr, 10);
}

// Downloads `url` into `partial` (continuing what it holds with a Range request unless `restart`),
// checks its size against `expected`. Throws TransportError when the server stops answering
// (the partial file is kept), HubError on an HTTP error.
void download_body(const std::string& url, const std::vector<std::string>& headers, const fs::path& partial,
                   std::optional<uint64_t> expected, bool restart, const Connection& conn, long timeout_s,
                   const std::string& repo_id, const std::string& revision, const std::string& path_in_repo,
                   bool had_token) {
  const int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) throw HubError(Kind::kCache, repo_id, "cannot write " + partial.string() + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  auto truncate_to = [&](uint64_t n) {
    if (::ftruncate(fd, static_cast<off_t>(n)) != 0)
      throw HubError(Kind::kCache, repo_id, "cannot write " + partial.string() + ": " + std::strerror(errno));
  };
  struct stat st {};
  ::fstat(fd, &st);
  uint64_t offset = restart ? 0 : static_cast<uint64_t>(st.st_size);
  if (restart || (expected && offset > *expected)) {
    truncate_to(0);
    offset = 0;
  }
  int no_progress = 0, status_tries = 0;
  while (!(expected && offset == *expected)) {
    Request req;
    req.url = url;
    req.headers = headers;
    req.follow = true;
    req.connection = &conn;
    req.timeout_s = timeout_s;
    if (offset > 0) req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
    const uint64_t start = offset;
    bool first = true, write_failed = false;
    req.sink = [&](const char* data, size_t n, const Response& r) {
      if (first) {
        first = false;
        if (r.status == 200 && offset > 0) {  // the Range was ignored: start over
          truncate_to(0);
          offset = 0;
        } else if (r.status == 206) {
          const std::string cr = r.header("content-range");  // bytes a-b/total
          const auto sp = cr.find(' '), dash = cr.find('-');
          if (sp == std::string::npos || dash == std::string::npos ||
              std::strtoull(cr.c_str() + sp + 1, nullptr, 10) != offset) {
            truncate_to(0);
            offset = 0;
            write_failed = true;  // an unexpected range: ask for the whole file again
            return false;
          }
        }
      }
      if (::pwrite(fd, data, n, static_cast<off_t>(offset)) != static_cast<ssize_t>(n)) {
        write_failed = true;
        return false;
      }
      offset += n;
      return true;
    };
    Response r;
    try {
      r = perform_once(req);
    } catch (const TransportError& e) {
      if (offset > start) no_progress = 0;
      else if (++no_progress > kMaxTransportRetries || !retryable_transport(e.code)) throw;
      sleep_seconds(offset > start ? 0.0 : backoff(no_progress - 1, nullptr));
      continue;
    }
    if (write_failed) {
      if (offset == 0) continue;  // restart asked for
      throw HubError(Kind::kCache, repo_id, "cannot write " + partial.string() + ": " + std::strerror(errno));
    }
    if (r.status == 416 && expected && offset == *expected) break;
    if (r.status == 416) {  // the partial file is longer than the file: start over
      truncate_to(0);
      offset = 0;
      if (++no_progress > kMaxTransportRetries) throw_for_status(r, repo_id, revision, path_in_repo, url, had_token);
      continue;
    }
    if (retryable_status(r.status) && status_tries < kMaxStatusRetries) {
      sleep_seconds(backoff(status_tries++, &r));
      continue;
    }
    if (r.status < 200 || r.status >= 300) throw_for_status(r, repo_id, revision, path_in_repo, url, had_token);
    if (!expected) {
      if (auto total = parse_size(r.header("content-length")); total && r.status == 200) expected = total;
      break;
    }
    if (offset < *expected) {  // the answer ended early without a transport error
      if (offset == start && ++no_progress > kMaxTransportRetries)
        throw TransportError{CURLE_PARTIAL_FILE, "the answer ended after " + std::to_string(offset) + " bytes"};
      continue;
    }
    break;
  }
  if (expected && offset != *expected) {
    truncate_to(0);
    throw HubError(Kind::kHttp, repo_id,
                   "consistency check failed: " + path_in_repo + " should be " + std::to_string(*expected) +
                       " bytes but " + std::to_string(offset) + " were received from " + url);
  }
  if (::fsync(fd) != 0)
    throw HubError(Kind::kCache, repo_id, "cannot write " + partial.string() + ": " + std::strerror(errno));
}

// What the GETs on .../resolve/... answered before the bytes (the Hub's own answers).
Metadata fetch_metadata(const std::string& url0, const std::vector<std::string>& headers, const Connection& conn,
                        long timeout_s, const std::string& repo_id, const std::string& revision,
                        const std::string& path_in_repo, bool had_token, const fs::path& storage) {
  Metadata m;
  std::string url = url0;
  for (int hop = 0; hop < kMaxRedirects; ++hop) {
    Request req;
    req.url = url;
    req.headers = headers;
    req.connection = &conn;
    req.timeout_s = timeout_s;
    req.sink = [](const char*, size_t, const Response&) { return false; };  // the bytes come later
    const Response r = perform(req);
    if (r.status >= 400) {
      if (r.header("x-error-code") == "EntryNotFound") {  // cache the file's absence, as huggingface_hub does
        const std::string commit = r.header("x-repo-commit");
        if (safe_name(commit)) {
          std::error_code ec;
          const fs::path marker = storage / ".no_exist" / commit / path_in_repo;
          fs::create_directories(marker.parent_path(), ec);
          if (!ec && !fs::exists(marker, ec)) std::ofstream(marker, std::ios::binary);
          try {
            write_ref(storage, revision, commit, repo_id);
          } catch (const HubError&) {
          }
        }
      }
      throw_for_status(r, repo_id, revision, path_in_repo, url, had_token);
    }
    if (m.commit.empty()) m.commit = r.header("x-repo-commit");
    if (m.etag.empty()) m.etag = normalize_etag(r.has("x-linked-etag") ? r.header("x-linked-etag") : r.header("etag"));
    if (!m.size) {
      if (auto s = parse_size(r.header("x-linked-size"))) m.size = s;
      else if (r.status < 300 || r.status >= 400) m.size = parse_size(r.header("content-length"));
    }
    const bool redirect = r.status >= 300 && r.status < 400 && r.has("location");
    if (!redirect) {
      m.location = url;
      return m;
    }
    const std::string target = url_join(url, r.header("location"));
    // The Hub's first answer has the commit and the etag: the bytes are at the Location. A
    // redirect without them (a mirror's) is followed while it stays on the Hub's host.
    if (!same_or_hub_host(url, target) || (!m.commit.empty() && !m.etag.empty())) {
      m.location = target;
      m.cross_host = !same_or_hub_host(url, target);
      return m;
    }
    url = target;
  }
  throw HubError(Kind::kHttp, repo_id, "more than " + std::to_string(kMaxRedirects) + " redirects from " + url0);
}

}  // namespace

// ---- public ----------------------------------------------------------------------------------

std::string endpoint(const Connection& c) {
  std::string e = c.endpoint && !c.endpoint->empty() ? *c.endpoint : env("HF_ENDPOINT");
  if (e.empty()) e = kDefaultEndpoint;
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

bool offline_mode() { return truthy_env("HF_HUB_OFFLINE") || truthy_env("TRANSFORMERS_OFFLINE"); }

std::string hub_cache_dir() {
  if (std::string v = env("HF_HUB_CACHE"); !v.empty()) return expand_user(v);
  if (std::string v = env("HUGGINGFACE_HUB_CACHE"); !v.empty()) return expand_user(v);
  return (fs::path(hf_home()) / "hub").string();
}

std::optional<std::string> resolve_token(const std::optional<std::string>& explicit_token) {
  auto clean = [](std::string t) -> std::optional<std::string> {
    t.erase(std::remove_if(t.begin(), t.end(), [](char c) { return c == '\r' || c == '\n'; }), t.end());
    t = trim(t);
    if (t.empty()) return std::nullopt;
    return t;
  };
  if (explicit_token) return clean(*explicit_token);
  std::string v = env("HF_TOKEN");
  if (v.empty()) v = env("HUGGING_FACE_HUB_TOKEN");
  if (auto t = clean(v)) return t;
  std::string path = env("HF_TOKEN_PATH");
  path = path.empty() ? (fs::path(hf_home()) / "token").string() : expand_user(path);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  return clean(read_small_file(path));
}

std::string repo_folder_name(const std::string& repo_id) {
  std::string out = "models";
  size_t start = 0;
  for (;;) {
    const auto slash = repo_id.find('/', start);
    out += "--" + repo_id.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string normalize_etag(const std::string& etag) {
  // Python's etag.lstrip("W/").strip('"'): leading 'W' and '/' characters, then quotes at both ends.
  size_t b = 0;
  while (b < etag.size() && (etag[b] == 'W' || etag[b] == '/')) ++b;
  std::string s = etag.substr(b);
  size_t e = s.size();
  b = 0;
  while (b < e && s[b] == '"') ++b;
  while (e > b && s[e - 1] == '"') --e;
  return s.substr(b, e - b);
}

std::string url_quote(const std::string& s, const std::string& safe) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || safe.find(ch) != std::string::npos) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool is_commit_hash(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string resolve_url(const std::string& ep, const std::string& repo_id, const std::string& revision,
                        const std::string& path_in_repo) {
  return ep + "/" + repo_id + "/resolve/" + url_quote(revision, "") + "/" + url_quote(path_in_repo);
}

std::optional<std::string> cached_file(const std::string& cache_dir, const std::string& repo_id,
                                       const std::string& revision, const std::string& path_in_repo) {
  const fs::path storage = fs::path(cache_dir) / repo_folder_name(repo_id);
  std::error_code ec;
  if (!fs::is_directory(storage, ec)) return std::nullopt;
  std::string commit = revision;
  const fs::path ref = storage / "refs" / revision;
  if (revision.find("..") == std::string::npos && fs::is_regular_file(ref, ec)) commit = read_small_file(ref);
  if (commit.empty() || commit.find("..") != std::string::npos || commit.find('/') != std::string::npos) return std::nullopt;
  const fs::path file = storage / "snapshots" / commit / path_in_repo;
  if (fs::is_regular_file(file, ec)) return file.string();
  return std::nullopt;
}

bool cached_as_missing(const std::string& cache_dir, const std::string& repo_id, const std::string& revision,
                       const std::string& path_in_repo) {
  const fs::path storage = fs::path(cache_dir) / repo_folder_name(repo_id);
  std::error_code ec;
  std::string commit = revision;
  const fs::path ref = storage / "refs" / revision;
  if (revision.find("..") == std::string::npos && fs::is_regular_file(ref, ec)) commit = read_small_file(ref);
  if (commit.empty() || commit.find("..") != std::string::npos || commit.find('/') != std::string::npos) return false;
  return fs::is_regular_file(storage / ".no_exist" / commit / path_in_repo, ec);
}

std::string download(const std::string& repo_id, const std::string& path_in_repo, const std::string& revision,
                     const DownloadOptions& opts) {
  check_path_in_repo(path_in_repo, repo_id);
  if (revision.empty()) throw HubError(Kind::kRevisionNotFound, repo_id, "empty revision");
  const fs::path cache = opts.cache_dir && !opts.cache_dir->empty() ? fs::path(expand_user(*opts.cache_dir))
                                                                     : fs::path(hub_cache_dir());
  const fs::path storage = cache / repo_folder_name(repo_id);
  const std::string what = path_in_repo + " of revision \"" + revision + "\"";
  const std::string not_cached = what + " is not in the Hugging Face cache (" + cache.string() + ")";

  if (is_commit_hash(revision) && !opts.force_download) {
    if (auto f = cached_file(cache.string(), repo_id, revision, path_in_repo)) return *f;
  }
  const bool offline = opts.local_files_only || offline_mode();
  if (offline) {
    const std::string why = opts.local_files_only ? "local_files_only is set" : "HF_HUB_OFFLINE is set";
    if (opts.force_download)
      throw HubError(Kind::kOffline, repo_id, "force_download cannot be used while " + why + " (downloads are off)");
    if (auto f = cached_file(cache.string(), repo_id, revision, path_in_repo)) return *f;
    if (cached_as_missing(cache.string(), repo_id, revision, path_in_repo))
      throw HubError(Kind::kEntryNotFound, repo_id, what + " does not exist (recorded in the cache's .no_exist)");
    throw HubError(Kind::kOffline, repo_id, not_cached + " and downloads are off (" + why + ")");
  }

  const Connection& conn = opts.connection;
  const std::string ep = endpoint(conn);
  const std::optional<std::string> token = read_token(conn);
  const std::vector<std::string> headers = base_headers(token);
  const std::string url = resolve_url(ep, repo_id, revision, path_in_repo);
  const long etag_timeout = timeout_from_env("HF_HUB_ETAG_TIMEOUT");
  const long download_timeout = timeout_from_env("HF_HUB_DOWNLOAD_TIMEOUT");

  // Falls back to the cache when the Hub cannot answer (huggingface_hub does the same).
  auto cached_or = [&](const std::function<void()>& raise) -> std::string {
    if (!opts.force_download) {
      if (auto f = cached_file(cache.string(), repo_id, revision, path_in_repo)) return *f;
    }
    raise();
    return "";
  };
  Metadata m;
  try {
    m = fetch_metadata(url, headers, conn, etag_timeout, repo_id, revision, path_in_repo, token.has_value(), storage);
  } catch (const TransportError& e) {
    return cached_or([&] { throw_network(e, repo_id, url, not_cached); });
  } catch (const HubError& e) {
    // As huggingface_hub: any failure but a missing revision or file falls back to the cache.
    if (e.kind() == Kind::kRevisionNotFound || e.kind() == Kind::kEntryNotFound || e.kind() == Kind::kCache) throw;
    return cached_or([&] { throw; });
  }
  if (m.commit.empty())
    throw HubError(Kind::kHttp, repo_id,
                   "the answer of " + url + " has no X-Repo-Commit header: " + ep +
                       " does not seem to be a Hugging Face Hub (check HF_ENDPOINT and the proxy settings)");
  if (m.etag.empty())
    throw HubError(Kind::kHttp, repo_id, "the answer of " + url + " has no ETag: the file cannot be cached reliably");
  if (!safe_name(m.commit) || !safe_name(m.etag))
    throw HubError(Kind::kHttp, repo_id, "the answer of " + url + " names an invalid commit or etag");

  const fs::path blob = storage / "blobs" / m.etag;
  const fs::path pointer = storage / "snapshots" / m.commit / path_in_repo;
  std::error_code ec;
  if (!opts.force_download && fs::exists(pointer, ec)) {
    try {
      write_ref(storage, revision, m.commit, repo_id);
    } catch (const HubError&) {  // best effort (a read-only cache)
    }
    return pointer.string();
  }
  make_dirs(blob.parent_path(), repo_id);
  make_dirs(pointer.parent_path(), repo_id);
  write_cachedir_tag(cache);
  write_ref(storage, revision, m.commit, repo_id);

  const FileLock lock(cache / ".locks" / repo_folder_name(repo_id) / (m.etag + ".lock"), repo_id);
  // Partial files of this blob (blobs/<etag>.<8 hex>.incomplete, as huggingface_hub names its
  // temporaries; <etag>.incomplete from older versions): whoever writes one holds this lock, so the
  // ones found now were left by a download that was killed. The largest is continued.
  std::vector<fs::path> partials;
  for (const auto& entry : fs::directory_iterator(blob.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() >= m.etag.size() + 11 && name.rfind(m.etag + ".", 0) == 0 &&
        name.compare(name.size() - 11, 11, ".incomplete") == 0 && entry.is_regular_file(ec))
      partials.push_back(entry.path());
  }
  std::sort(partials.begin(), partials.end(), [](const fs::path& a, const fs::path& b) {
    std::error_code e;
    return fs::file_size(a, e) > fs::file_size(b, e);
  });
  if (!opts.force_download && fs::exists(blob, ec)) {
    for (const auto& p : partials) fs::remove(p, ec);  // the blob came another way since
    if (!fs::exists(pointer, ec)) link_pointer(blob, pointer, repo_id);
    return pointer.string();
  }
  const bool adopt = !partials.empty() && opts.resume_download && !opts.force_download;
  const fs::path partial = adopt ? partials.front() : fs::path(blob.string() + "." + random_hex(8) + ".incomplete");
  for (size_t i = adopt ? 1 : 0; i < partials.size(); ++i) fs::remove(partials[i], ec);
  const std::vector<std::string> body_headers = m.cross_host ? without_auth(headers) : headers;
  try {
    download_body(m.location, body_headers, partial, m.size, opts.force_download || !opts.resume_download, conn,
                  download_timeout, repo_id, revision, path_in_repo, token.has_value() && !m.cross_host);
  } catch (const TransportError& e) {
    throw_network(e, repo_id, m.location,
                  "the download stopped; the " + std::to_string(fs::file_size(partial, ec)) +
                      " bytes received are kept in " + partial.string() + " and continued next time");
  }
  if (is_hex(m.etag, 64) && sha256_of_file(partial) != lower(m.etag)) {
    fs::remove(partial, ec);
    throw HubError(Kind::kHttp, repo_id,
                   "the bytes received for " + path_in_repo + " do not have the SHA-256 of its etag " + m.etag);
  }
  // _chmod_and_move: the blob gets the mode a new file gets in that folder (0666 minus the umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::chmod(partial.c_str(), 0666 & ~mask);
  fs::rename(partial, blob, ec);
  if (ec) throw HubError(Kind::kCache, repo_id, "cannot write " + blob.string() + ": " + ec.message());
  link_pointer(blob, pointer, repo_id);
  return pointer.string();
}

std::string fetch_url(const std::string& url, const Connection& conn, uint64_t max_bytes) {
  const std::string ep = endpoint(conn);
  const std::optional<std::string> token = same_host(url, ep) ? read_token(conn) : std::nullopt;
  if (offline_mode()) throw HubError(Kind::kOffline, "", url + ": cannot be fetched while HF_HUB_OFFLINE is set");
  Request req;
  req.url = url;
  req.headers = base_headers(token);
  req.follow = true;
  req.connection = &conn;
  req.timeout_s = timeout_from_env("HF_HUB_DOWNLOAD_TIMEOUT");
  std::string body;
  bool too_big = false;
  req.sink = [&](const char* d, size_t n, const Response&) {
    if (body.size() + n > max_bytes) {
      too_big = true;
      return false;
    }
    body.append(d, n);
    return true;
  };
  Response r;
  try {
    r = perform(req);
  } catch (const TransportError& e) {
    throw HubError(Kind::kNetwork, "", url + ": cannot reach " + host_of(url) + " (" + e.message + ")");
  }
  if (too_big) throw HubError(Kind::kHttp, "", url + ": larger than " + std::to_string(max_bytes) + " bytes");
  if (r.status == 404) throw HubError(Kind::kEntryNotFound, "", url + ": not found (HTTP 404)");
  if (r.status < 200 || r.status >= 300) throw HubError(Kind::kHttp, "", url + ": " + describe_status(r));
  return body;
}

namespace {

// json.dumps of a string (ensure_ascii=True).
std::string py_json_string(const std::string& s) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  auto u4 = [&](unsigned v) {
    out += "\\u";
    for (int sh = 12; sh >= 0; sh -= 4) out.push_back(kHex[(v >> sh) & 15]);
  };
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c == '\b') out += "\\b";
      else if (c == '\f') out += "\\f";
      else if (c < 0x20 || c == 0x7f) u4(c);
      else out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // UTF-8 sequence -> code point -> \uXXXX (a surrogate pair above U+FFFF).
    int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    unsigned cp = len == 4 ? c & 0x07 : len == 3 ? c & 0x0f : len == 2 ? c & 0x1f : c;
    for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u4(0xd800 + (cp >> 10));
      u4(0xdc00 + (cp & 0x3ff));
    } else {
      u4(cp);
    }
  }
  return out + "\"";
}

std::string base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    for (int sh = 18; sh >= 0; sh -= 6) out.push_back(kAlphabet[(v >> sh) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace

CommitInfo upload_file(const std::string& repo_id, const std::string& path_in_repo, const std::string& content,
                       const CommitOptions& opts) {
  check_path_in_repo(path_in_repo, repo_id);
  if (offline_mode()) throw HubError(Kind::kOffline, repo_id, "cannot push to the Hub while HF_HUB_OFFLINE is set");
  const Connection& conn = opts.connection;
  const std::optional<std::string> token = conn.use_token ? resolve_token(conn.token) : std::nullopt;
  if (!token)
    throw HubError(Kind::kAuth, repo_id,
                   "pushing to the Hub needs a token with write access: --token, HF_TOKEN or the file "
                   "HF_TOKEN_PATH (default HF_HOME/token)");
  const std::string ep = endpoint(conn);
  const long timeout = timeout_from_env("HF_HUB_DOWNLOAD_TIMEOUT");
  auto post = [&](const std::string& url, const std::string& content_type, const std::string& body, bool retry) {
    Request req;
    req.method = "POST";
    req.url = url;
    req.headers = {user_agent(), "Authorization: Bearer " + *token, "Content-Type: " + content_type, "Expect:"};
    req.body = body;
    req.connection = &conn;
    req.timeout_s = timeout;
    try {
      return retry ? perform(req) : perform_once(req);
    } catch (const TransportError& e) {
      throw_network(e, repo_id, url, "");
    }
  };

  std::string full_repo_id = repo_id;
  if (opts.create_repo) {
    // create_repo(repo_id, exist_ok=True, private=...): httpx's json= body (compact, UTF-8).
    nlohmann::ordered_json payload;
    const auto slash = repo_id.find('/');
    payload["name"] = slash == std::string::npos ? repo_id : repo_id.substr(slash + 1);
    payload["organization"] = slash == std::string::npos ? nlohmann::ordered_json(nullptr)
                                                         : nlohmann::ordered_json(repo_id.substr(0, slash));
    if (opts.private_repo) payload["visibility"] = *opts.private_repo ? "private" : "public";
    const std::string url = ep + "/api/repos/create";
    const Response r = post(url, "application/json", payload.dump(), true);  // 409 once it exists
    // 409: it exists; 401 / 402 / 403: no right to create, it may exist (the commit says).
    if (!(r.status >= 200 && r.status < 300) && r.status != 409 && r.status != 401 && r.status != 402 && r.status != 403)
      throw_for_status(r, repo_id, opts.revision, path_in_repo, url, true);
    // The repository's full id is in the answer's URL (a name without a namespace is the user's):
    // transformers commits to create_repo(...).repo_id.
    try {
      const auto j = nlohmann::json::parse(r.body);
      const std::string repo_url = j.is_object() && j.contains("url") && j["url"].is_string() ? j["url"].get<std::string>() : "";
      if (repo_url.rfind(ep + "/", 0) == 0) {
        std::string full = repo_url.substr(ep.size() + 1);
        while (!full.empty() && full.back() == '/') full.pop_back();
        if (!full.empty() && full.find('/') != std::string::npos && full.find('/') == full.rfind('/') &&
            full.substr(full.find('/') + 1) == payload["name"].get<std::string>())
          full_repo_id = full;
      }
    } catch (const nlohmann::json::exception&) {
    }
  }

  // _prepare_commit_payload, one json.dumps line each.
  const std::string body =
      "{\"key\": \"header\", \"value\": {\"summary\": " + py_json_string(opts.commit_message) +
      ", \"description\": " + py_json_string(opts.commit_description) + "}}\n" +
      "{\"key\": \"file\", \"value\": {\"content\": \"" + base64(content) + "\", \"path\": " +
      py_json_string(path_in_repo) + ", \"encoding\": \"base64\"}}\n";
  const std::string url = ep + "/api/models/" + full_repo_id + "/commit/" + url_quote(opts.revision, "");
  // Not retried (as huggingface_hub by default): a commit whose answer was lost would be made twice.
  const Response r = post(url, "application/x-ndjson", body, false);
  if (r.status < 200 || r.status >= 300) throw_for_status(r, full_repo_id, opts.revision, path_in_repo, url, true);
  CommitInfo info;
  try {
    const auto j = nlohmann::json::parse(r.body);
    info.commit_url = j.value("commitUrl", "");
    info.commit_oid = j.value("commitOid", "");
  } catch (const nlohmann::json::exception&) {
    throw HubError(Kind::kHttp, repo_id, "the answer of " + url + " is not the Hub's (not JSON)");
  }
  return info;
}

std::string expand_user(const std::string& p) {
  if (!p.empty() && p[0] == '~' && (p.size() == 1 || p[1] == '/')) {
    const std::string home = env("HOME");
    if (!home.empty()) return home + p.substr(1);
  }
  return p;
}

}  // namespace pixelflow::pipelines::hub
