// The Hugging Face Hub client: downloads into huggingface_hub's shared cache and commits files,
// over HTTP(S) with libcurl. Written to behave as huggingface_hub (file_download.py, hf_api.py,
// _commit_api.py, v1.33) does for one file, so that both tools share one cache:
//
//   <cache>/models--ORG--NAME/blobs/<etag>                          the file's bytes
//   <cache>/models--ORG--NAME/snapshots/<commit>/<path in repo>      -> ../../blobs/<etag> (relative)
//   <cache>/models--ORG--NAME/refs/<revision>                        the commit, no newline
//   <cache>/models--ORG--NAME/.no_exist/<commit>/<path in repo>      an empty file: not in that commit
//   <cache>/.locks/models--ORG--NAME/<etag>.lock                     flock(2), as filelock takes it
//   <cache>/CACHEDIR.TAG
//
// A download: GET {endpoint}/{repo_id}/resolve/{revision}/{path} (redirects not followed): the
// commit (X-Repo-Commit), the etag (X-Linked-Etag, else ETag; W/ and quotes stripped) and the size
// (X-Linked-Size, else Content-Length) come from the Hub's first answer; the Hub's relative
// redirects (307 to /api/resolve-cache/...) are followed with the token, a redirect to another host
// (302 to a CDN for LFS files) without it. Under the lock, the bytes go to
// blobs/<etag>.<8 hex>.incomplete (huggingface_hub's temporary name; a partial file left by a killed
// download, of either tool, is continued with a Range request), are checked (size; SHA-256 when
// the etag is one) and renamed to blobs/<etag>; the refs file is written through a temporary
// refs/<revision>.<8 hex>.tmp renamed over it, as huggingface_hub does.
//
// Errors are HubError (base/errors.h), one line naming the repository and what is missing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace pixelflow::pipelines::hub {

// How to reach the Hub (the downloads' and the commits' common settings).
struct Connection {
  std::optional<std::string> endpoint;          // unset: HF_ENDPOINT, else https://huggingface.co
  std::optional<std::string> token;             // unset: the implicit token (resolve_token)
  bool use_token = true;                        // false: send no token at all
  std::map<std::string, std::string> proxies;  // requests' form; empty: the environment's
};

struct DownloadOptions {
  Connection connection;
  std::optional<std::string> cache_dir;  // unset: hub_cache_dir()
  bool force_download = false;
  bool local_files_only = false;  // HF_HUB_OFFLINE=1 (offline_mode()) has the same effect
  bool resume_download = true;
};

// ---- settings from the environment, as huggingface_hub.constants reads them ----------------
// HF_ENDPOINT without a trailing "/", else "https://huggingface.co".
std::string endpoint(const Connection& c = {});
// HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/ON/YES/TRUE (any case).
bool offline_mode();
// HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
// else ~/.cache/huggingface/hub.
std::string hub_cache_dir();
// `~` or `~/...` with $HOME put in (os.path.expanduser's common case); other paths as given.
std::string expand_user(const std::string& p);
// The token to send: `explicit_token` when given, else HF_TOKEN (or HUGGING_FACE_HUB_TOKEN), else
// the file HF_TOKEN_PATH (default HF_HOME/token); line breaks removed and spaces trimmed, empty
// meaning none.
std::optional<std::string> resolve_token(const std::optional<std::string>& explicit_token);

// ---- names ------------------------------------------------------------------------------------
// "models--ORG--NAME" for "ORG/NAME".
std::string repo_folder_name(const std::string& repo_id);
// An ETag header as a file name: leading W/ and surrounding quotes removed.
std::string normalize_etag(const std::string& etag);
// Percent-encoding as urllib.parse.quote(s, safe=safe) does (letters, digits, "_.-~" and `safe`
// kept).
std::string url_quote(const std::string& s, const std::string& safe = "/");
// 40 lower-case hex digits.
bool is_commit_hash(const std::string& s);
// {endpoint}/{repo_id}/resolve/{quote(revision, safe="")}/{quote(path)}
std::string resolve_url(const std::string& endpoint, const std::string& repo_id, const std::string& revision,
                        const std::string& path_in_repo);

// ---- the cache --------------------------------------------------------------------------------
// try_to_load_from_cache: refs/<revision> gives the commit (the revision itself otherwise) and
// snapshots/<commit>/<path> the file. nullopt when not cached.
std::optional<std::string> cached_file(const std::string& cache_dir, const std::string& repo_id,
                                       const std::string& revision, const std::string& path_in_repo);
// The file is recorded as absent from the revision's commit (.no_exist).
bool cached_as_missing(const std::string& cache_dir, const std::string& repo_id, const std::string& revision,
                       const std::string& path_in_repo);

// hf_hub_download(repo_id, path_in_repo, revision=..., cache_dir=...): the path of the snapshot
// file (snapshots/<commit>/<path_in_repo>), downloaded when it is not cached (or when
// force_download). When the Hub cannot be reached (or answers 5xx / 429 after the retries) and
// the cache holds the revision, the cached file is returned.
std::string download(const std::string& repo_id, const std::string& path_in_repo, const std::string& revision,
                     const DownloadOptions& opts);

// The body of a GET on `url` (a JSON file given as a URL), with the connection's proxies, the
// time-outs and the retries; the token only when the URL is on the Hub's host. Not cached.
std::string fetch_url(const std::string& url, const Connection& c, uint64_t max_bytes);

// ---- uploads ----------------------------------------------------------------------------------
struct CommitOptions {
  Connection connection;
  std::optional<bool> private_repo;  // create_repo(private=...): visibility of a new repository
  std::string commit_message;
  std::string commit_description;
  std::string revision = "main";
  bool create_repo = true;           // POST /api/repos/create first (409: it exists)
};
struct CommitInfo {
  std::string commit_url;
  std::string commit_oid;
};
// create_repo(repo_id, exist_ok=True, private=...) then create_commit with one
// CommitOperationAdd(path_in_repo, content): POST {endpoint}/api/models/{repo_id}/commit/{revision}
// with an NDJSON body (a header line, then the file in base64). A token is required.
CommitInfo upload_file(const std::string& repo_id, const std::string& path_in_repo, const std::string& content,
                       const CommitOptions& opts);

}  // namespace pixelflow::pipelines::hub
