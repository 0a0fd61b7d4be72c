"""Hugging Face Hub downloads and uploads (issue 14) against the fake Hub of fake_hub.py, checked
against the real huggingface_hub client: the same cache byte for byte and link for link, each
tool reading the other's cache offline, pushes seen by hf_hub_download, the requests' bodies,
concurrent downloads, cut and resumed downloads, a stopped server, and every error."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import pixelflow

from fake_hub import READ_TOKEN, WRITE_TOKEN, FakeHub

huggingface_hub = pytest.importorskip("huggingface_hub")

CONFIG = {"image_processor_type": "ViTImageProcessor", "size": {"height": 32, "width": 32}, "do_normalize": False}
CONFIG_BYTES = (json.dumps(CONFIG, indent=2) + "\n").encode()
# A larger config (an unknown key is kept, as transformers keeps it) for the cut / stalled bodies.
BIG_CONFIG_BYTES = (json.dumps(dict(CONFIG, notes="x" * 20000), indent=2) + "\n").encode()
NAME = "preprocessor_config.json"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A fake Hub with org/vit (main + a dev branch + a subfolder), HF_ENDPOINT pointing at it and
    a clean environment (no token, no offline mode, no bundled configs)."""
    fake = FakeHub()
    fake.add_repo("org/vit", {NAME: CONFIG_BYTES, "sub/" + NAME: CONFIG_BYTES.replace(b"32", b"48")})
    fake.commit("org/vit", {NAME: CONFIG_BYTES.replace(b"32", b"64")}, branch="dev", summary="dev")
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE",
                "HUGGINGFACE_HUB_CACHE", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    (tmp_path / "no_models").mkdir()
    monkeypatch.setenv("PIXELFLOW_MODELS_DIR", str(tmp_path / "no_models"))
    yield fake
    fake.stop()


def tree(cache, repo_folder):
    """{relative path: ("link", target) | ("file", bytes) | ("dir",)} of one repository folder."""
    out = {}
    top = os.path.join(cache, repo_folder)
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, top)
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                out[rel] = ("dir",)
            else:
                with open(full, "rb") as f:
                    out[rel] = ("file", f.read())
    return out


def hf_download(hub, cache, repo_id="org/vit", filename=NAME, **kw):
    return huggingface_hub.hf_hub_download(repo_id, filename, cache_dir=str(cache), endpoint=hub.url, **kw)


def run_python(code, env_extra=None, check=True):
    """Runs `code` in a fresh interpreter that imports the same pixelflow and huggingface_hub."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=check,
                          timeout=120)


# ---- the cache ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lfs", [False, True], ids=["regular", "lfs"])
def test_cache_is_huggingface_hubs_byte_for_byte_and_link_for_link(hub, tmp_path, lfs):
    if lfs:
        hub.repos["org/vit"].lfs.add(NAME)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    proc = pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=ours, token=READ_TOKEN)
    assert type(proc).__name__ == "ViTImageProcessor" and proc.size == {"height": 32, "width": 32}
    hf_download(hub, theirs, token=READ_TOKEN)
    assert tree(ours, "models--org--vit") == tree(theirs, "models--org--vit")
    assert sorted(os.listdir(ours / ".locks" / "models--org--vit")) == \
        sorted(os.listdir(theirs / ".locks" / "models--org--vit"))
    assert (ours / "CACHEDIR.TAG").read_bytes() == (theirs / "CACHEDIR.TAG").read_bytes()
    refs = (ours / "models--org--vit" / "refs" / "main").read_bytes()
    assert refs == hub.repos["org/vit"].branches["main"].encode()  # no newline
    # The token went to the Hub, never to the CDN (which refuses a request carrying one).
    assert all("authorization" not in r["headers"] for r in hub.sent(lambda r: r["cdn"]))
    assert any(r["headers"].get("authorization") == f"Bearer {READ_TOKEN}" for r in hub.sent(lambda r: not r["cdn"]))
    if lfs:
        assert hub.sent(lambda r: r["cdn"] and r["method"] == "GET")


def test_subfolder_and_revisions_match_huggingface_hub(hub, tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=ours, subfolder="sub").size == \
        {"height": 48, "width": 48}
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=ours, revision="dev").size == \
        {"height": 64, "width": 64}
    main_sha = hub.repos["org/vit"].branches["main"]
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=ours, revision=main_sha).size == \
        {"height": 32, "width": 32}
    hf_download(hub, theirs, subfolder="sub")
    hf_download(hub, theirs, revision="dev")
    hf_download(hub, theirs, revision=main_sha)
    assert tree(ours, "models--org--vit") == tree(theirs, "models--org--vit")
    assert os.readlink(ours / "models--org--vit" / "snapshots" / main_sha / "sub" / NAME).startswith("../../../blobs/")


def test_huggingface_hub_cache_read_by_pixelflow_offline(hub, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    hf_download(hub, cache)
    hf_download(hub, cache, revision="dev")
    hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=cache).size == {"height": 32, "width": 32}
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=cache, revision="dev").size == \
        {"height": 64, "width": 64}
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=cache, local_files_only=True).size == \
        {"height": 32, "width": 32}
    assert hub.requests == []


def test_pixelflow_cache_read_by_huggingface_hub_offline(hub, tmp_path):
    cache = tmp_path / "cache"
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=cache)
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=cache, revision="dev")
    hub.requests.clear()
    out = run_python(
        "import huggingface_hub as h, sys\n"
        f"a = h.hf_hub_download('org/vit', {NAME!r}, cache_dir={str(cache)!r})\n"
        f"b = h.hf_hub_download('org/vit', {NAME!r}, cache_dir={str(cache)!r}, revision='dev')\n"
        f"c = h.try_to_load_from_cache('org/vit', {NAME!r}, cache_dir={str(cache)!r})\n"
        "print(a); print(b); print(c)\n", {"HF_HUB_OFFLINE": "1"})
    a, b, c = out.stdout.split()
    assert open(a, "rb").read() == CONFIG_BYTES and a == c
    assert open(b, "rb").read() == CONFIG_BYTES.replace(b"32", b"64")
    assert hub.requests == []


# ---- options ------------------------------------------------------------------------------------


def test_token_sources_and_token_false(hub, tmp_path, monkeypatch):
    cache = tmp_path / "cache"

    def auth_of_last_resolve():
        return [r["headers"].get("authorization") for r in hub.sent(lambda r: "/resolve/" in r["path"])][-1]

    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=cache, force_download=True)
    assert auth_of_last_resolve() is None
    token_file = tmp_path / "tok"
    token_file.write_text(f"{READ_TOKEN}\n")
    monkeypatch.setenv("HF_TOKEN_PATH", str(token_file))
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=cache, force_download=True)
    assert auth_of_last_resolve() == f"Bearer {READ_TOKEN}"
    monkeypatch.setenv("HF_TOKEN", WRITE_TOKEN)
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=cache, force_download=True)
    assert auth_of_last_resolve() == f"Bearer {WRITE_TOKEN}"
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=cache, force_download=True, token=False)
    assert auth_of_last_resolve() is None


def test_private_repository_needs_a_token(hub, tmp_path):
    hub.add_repo("org/private", {NAME: CONFIG_BYTES}, private=True)
    with pytest.raises(pixelflow.HubError, match="token may be needed") as e:
        pixelflow.AutoImageProcessor.from_pretrained("org/private", cache_dir=tmp_path)
    assert e.value.kind == "repo_not_found" and isinstance(e.value, OSError)
    assert pixelflow.AutoImageProcessor.from_pretrained("org/private", cache_dir=tmp_path, token=READ_TOKEN)


def test_force_download_downloads_again(hub, tmp_path):
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path)
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path)
    bodies = lambda: len(hub.sent(lambda r: r["method"] == "GET" and "/api/resolve-cache/" in r["path"]))  # noqa: E731
    assert bodies() == 1
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path, force_download=True)
    assert bodies() == 2


def test_retries_with_back_off_on_429_and_5xx(hub, tmp_path):
    hub.fail(lambda m, p: "/resolve/" in p, 503, times=2)
    hub.fail(lambda m, p: "/api/resolve-cache/" in p, 429, times=1)
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path)
    assert len(hub.sent(lambda r: "/resolve/" in r["path"] and "resolve-cache" not in r["path"])) == 3
    assert len(hub.sent(lambda r: "/api/resolve-cache/" in r["path"])) == 2


def test_proxies_keyword(hub, tmp_path, monkeypatch):
    # The fake Hub also answers as an HTTP proxy (absolute-form requests): the Hub's host name is
    # then never resolved.
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")
    monkeypatch.delenv("NO_PROXY")
    proc = pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path, proxies={"http": hub.url})
    assert proc.size == {"height": 32, "width": 32}
    assert hub.sent(lambda r: r["path"].startswith("http://hub.invalid/org/vit/resolve/main/"))


def test_url_as_config(hub, tmp_path):
    url = f"{hub.url}/org/vit/resolve/dev/{NAME}"
    assert pixelflow.AutoImageProcessor.from_pretrained(url).size == {"height": 64, "width": 64}


# ---- errors -------------------------------------------------------------------------------------


def hub_error(**kw):
    cache = kw.pop("cache")
    repo_id = kw.pop("repo_id", "org/vit")
    with pytest.raises(pixelflow.HubError) as e:
        pixelflow.AutoImageProcessor.from_pretrained(repo_id, cache_dir=cache, **kw)
    msg = str(e.value)
    assert "\n" not in msg and isinstance(e.value, OSError) and isinstance(e.value, ValueError)
    return e.value.kind, msg


def test_errors_are_one_line_and_name_what_is_missing(hub, tmp_path, monkeypatch):
    kind, msg = hub_error(cache=tmp_path, repo_id="org/nope")
    assert kind == "repo_not_found" and msg.startswith("org/nope: repository not found") and "HTTP 401" in msg
    assert "token may be needed" in msg
    kind, msg = hub_error(cache=tmp_path, repo_id="org/nope", token=READ_TOKEN)
    assert kind == "repo_not_found" and "HTTP 404" in msg and "token" in msg
    kind, msg = hub_error(cache=tmp_path, token="hf_invalid")
    assert kind == "auth" and "invalid credentials" in msg
    kind, msg = hub_error(cache=tmp_path, revision="v9")
    assert kind == "revision_not_found" and '"v9"' in msg
    kind, msg = hub_error(cache=tmp_path, subfolder="missing")
    assert kind == "entry_not_found" and "missing/preprocessor_config.json" in msg
    hub.add_repo("org/gated", {NAME: CONFIG_BYTES}, gated=True)
    kind, msg = hub_error(cache=tmp_path, repo_id="org/gated")
    assert kind == "gated_repo" and "gated" in msg and "HTTP 401" in msg
    kind, msg = hub_error(cache=tmp_path, repo_id="org/gated", token=READ_TOKEN)
    assert kind == "gated_repo" and "HTTP 403" in msg
    hub.repos["org/gated"].granted.add(READ_TOKEN)
    assert pixelflow.AutoImageProcessor.from_pretrained("org/gated", cache_dir=tmp_path, token=READ_TOKEN)
    kind, msg = hub_error(cache=tmp_path / "empty", local_files_only=True)
    assert kind == "offline" and "local_files_only" in msg
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    kind, msg = hub_error(cache=tmp_path / "empty")
    assert kind == "offline" and "HF_HUB_OFFLINE" in msg
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.stop()
    kind, msg = hub_error(cache=tmp_path / "empty")
    assert kind == "network" and f"127.0.0.1:{hub.port}" in msg and "not in the Hugging Face cache" in msg
    hub.restart()


def test_huggingface_hub_raises_on_the_same_answers(hub, tmp_path):
    """The fake's error answers are the ones huggingface_hub maps to its own exceptions."""
    from huggingface_hub import errors
    hub.add_repo("org/gated", {NAME: CONFIG_BYTES}, gated=True)
    for kw, exc in [({"repo_id": "org/nope"}, errors.RepositoryNotFoundError),
                    ({"revision": "v9"}, errors.RevisionNotFoundError),
                    ({"filename": "missing.json"}, errors.RemoteEntryNotFoundError),
                    ({"repo_id": "org/gated"}, errors.GatedRepoError)]:
        with pytest.raises(exc):
            hf_download(hub, tmp_path, **kw)


# ---- concurrency, interruptions -----------------------------------------------------------------


def test_two_processes_download_at_once(hub, tmp_path):
    """Both processes ask the Hub before either downloads (a barrier in the fake): the lock file
    lets one download while the other waits, then links the blob. One of them is huggingface_hub."""
    cache = tmp_path / "cache"
    hub.barrier(lambda m, p: "/resolve/" in p and "resolve-cache" not in p, 3)
    code = f"import pixelflow; pixelflow.AutoImageProcessor.from_pretrained('org/vit', cache_dir={str(cache)!r})"
    hf = (f"import huggingface_hub as h; h.hf_hub_download('org/vit', {NAME!r}, cache_dir={str(cache)!r}, "
          f"endpoint={hub.url!r})")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    procs = [subprocess.Popen([sys.executable, "-c", c], env=env, stderr=subprocess.PIPE) for c in (code, code, hf)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert len(hub.sent(lambda r: r["method"] == "GET" and "/api/resolve-cache/" in r["path"])) == 1
    theirs = tmp_path / "theirs"
    hf_download(hub, theirs)
    assert tree(cache, "models--org--vit") == tree(theirs, "models--org--vit")


def test_cut_download_is_resumed_with_range(hub, tmp_path):
    hub.commit("org/vit", {NAME: BIG_CONFIG_BYTES}, summary="big")
    hub.cut(lambda m, p: m == "GET" and "/api/resolve-cache/" in p, after=5000)
    proc = pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path)
    assert len(proc.notes) == 20000
    gets = hub.sent(lambda r: r["method"] == "GET" and "/api/resolve-cache/" in r["path"])
    assert [g["headers"].get("range") for g in gets] == [None, "bytes=5000-"]
    blobs = os.listdir(tmp_path / "models--org--vit" / "blobs")
    assert len(blobs) == 1 and not blobs[0].endswith(".incomplete")


def test_range_ignored_by_the_server_starts_over(hub, tmp_path):
    hub.commit("org/vit", {NAME: BIG_CONFIG_BYTES}, summary="big")
    hub.ignore_range = True
    hub.cut(lambda m, p: m == "GET" and "/api/resolve-cache/" in p, after=5000)
    proc = pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path)
    assert len(proc.notes) == 20000
    ours = tree(tmp_path, "models--org--vit")
    hub.ignore_range = False
    hf_download(hub, tmp_path / "theirs")
    assert ours == tree(tmp_path / "theirs", "models--org--vit")


def test_missing_file_is_recorded_as_huggingface_hub_does(hub, tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with pytest.raises(pixelflow.HubError):
        pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=ours, subfolder="missing")
    with pytest.raises(huggingface_hub.errors.RemoteEntryNotFoundError):
        hf_download(hub, theirs, subfolder="missing")
    assert tree(ours, "models--org--vit") == tree(theirs, "models--org--vit")
    commit = hub.repos["org/vit"].branches["main"]
    assert (ours / "models--org--vit" / ".no_exist" / commit / "missing" / NAME).is_file()
    # Offline, the recorded absence is what the error says.
    with pytest.raises(pixelflow.HubError, match="does not exist") as e:
        pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=theirs, subfolder="missing",
                                                     local_files_only=True)
    assert e.value.kind == "entry_not_found"


def test_killed_download_is_resumed_by_the_next_process(hub, tmp_path):
    hub.commit("org/vit", {NAME: BIG_CONFIG_BYTES}, summary="big")
    hub.stall(lambda m, p: m == "GET" and "/api/resolve-cache/" in p, after=7000)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    code = f"import pixelflow; pixelflow.AutoImageProcessor.from_pretrained('org/vit', cache_dir={str(tmp_path)!r})"
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    blobs = tmp_path / "models--org--vit" / "blobs"
    partial = None
    for _ in range(1200):  # until the partial file holds what the fake sent (not a timing check)
        found = [f for f in os.listdir(blobs)] if blobs.is_dir() else []
        if found and found[0].endswith(".incomplete") and os.path.getsize(blobs / found[0]) == 7000:
            partial = found[0]
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    hub.release()
    assert partial is not None
    proc = pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path)
    assert len(proc.notes) == 20000
    gets = hub.sent(lambda r: r["method"] == "GET" and "/api/resolve-cache/" in r["path"])
    assert gets[-1]["headers"].get("range") == "bytes=7000-"
    etag = partial.split(".")[0]
    assert len(partial.split(".")[1]) == 8  # huggingface_hub's temporary name: <etag>.<8 hex>.incomplete
    assert os.listdir(blobs) == [etag]
    assert (blobs / etag).read_bytes() == BIG_CONFIG_BYTES


def test_partial_file_of_a_killed_huggingface_hub_is_continued(hub, tmp_path):
    hub.commit("org/vit", {NAME: BIG_CONFIG_BYTES}, summary="big")
    etag = os.path.basename(os.path.realpath(hf_download(hub, tmp_path / "theirs")))
    blobs = tmp_path / "ours" / "models--org--vit" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / f"{etag}.0123abcd.incomplete").write_bytes(BIG_CONFIG_BYTES[:6000])
    hub.requests.clear()
    assert len(pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path / "ours").notes) == 20000
    gets = hub.sent(lambda r: r["method"] == "GET" and "/api/resolve-cache/" in r["path"])
    assert [g["headers"].get("range") for g in gets] == ["bytes=6000-"]
    assert tree(tmp_path / "ours", "models--org--vit") == tree(tmp_path / "theirs", "models--org--vit")


def test_partial_download_left_behind_is_removed_once_the_blob_is_there(hub, tmp_path):
    """huggingface_hub completes the file without looking at pixelflow's partial one; the next
    pixelflow download removes it (under the lock), leaving huggingface_hub's layout."""
    path = hf_download(hub, tmp_path)
    blob = os.path.realpath(path)
    with open(blob + ".incomplete", "wb") as f:
        f.write(CONFIG_BYTES[:10])
    os.remove(path)  # the snapshot link is made again
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path)
    assert sorted(os.listdir(os.path.dirname(blob))) == [os.path.basename(blob)]
    assert os.readlink(path) == os.path.relpath(blob, os.path.dirname(path))


def test_server_stopped_after_a_first_download(hub, tmp_path):
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path)
    pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path, revision="dev")
    hub.stop()
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path).size == \
        {"height": 32, "width": 32}
    assert pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path, revision="dev").size == \
        {"height": 64, "width": 64}
    # A download that must reach the server says so, naming the host.
    with pytest.raises(pixelflow.HubError, match=f"cannot reach 127.0.0.1:{hub.port}"):
        pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path, force_download=True)
    hub.restart()


# ---- push ---------------------------------------------------------------------------------------


def test_push_to_hub_is_seen_by_hf_hub_download(hub, tmp_path):
    proc = pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path / "c")
    proc.size = {"height": 40, "width": 40}
    with pytest.raises(pixelflow.HubError, match="needs a token"):
        proc.save_pretrained(tmp_path / "out", push_to_hub=True, repo_id="alice/vit-40")
    files = proc.save_pretrained(tmp_path / "out", push_to_hub=True, repo_id="alice/vit-40", token=WRITE_TOKEN,
                                 commit_message="forty")
    assert files == [str(tmp_path / "out" / NAME)]
    path = hf_download(hub, tmp_path / "theirs", repo_id="alice/vit-40")
    assert open(path, "rb").read() == (tmp_path / "out" / NAME).read_bytes()
    repo = hub.repos["alice/vit-40"]
    assert repo.commits[repo.branches["main"]]["summary"] == "forty" and not repo.private
    # Pushing again to the existing repository (409 on create), privately named, from the folder's name.
    proc.size = {"height": 41, "width": 41}
    proc.save_pretrained(tmp_path / "vit-41", push_to_hub=True, token=WRITE_TOKEN, private=True)
    assert hub.repos["alice/vit-41"].private
    assert pixelflow.AutoImageProcessor.from_pretrained("alice/vit-41", cache_dir=tmp_path / "c2",
                                                        token=READ_TOKEN).size == {"height": 41, "width": 41}


def test_push_request_bodies_are_huggingface_hubs(hub, tmp_path):
    proc = pixelflow.AutoImageProcessor.from_pretrained("org/vit", cache_dir=tmp_path / "c")
    hub.requests.clear()
    message = 'Upload processor: \u00e9 \u2603 \U0001d11e "quoted" \\ \t\x7f'  # escaped as json.dumps does
    proc.save_pretrained(tmp_path / "out", push_to_hub=True, repo_id="alice/a", token=WRITE_TOKEN, private=True,
                         commit_message=message)
    ours = {("repos" if "/api/repos/" in r["path"] else r["path"].split("/")[-2]): r for r in hub.sent(
        lambda r: r["method"] == "POST")}
    content = (tmp_path / "out" / NAME).read_bytes()
    api = huggingface_hub.HfApi(endpoint=hub.url, token=WRITE_TOKEN)
    hub.requests.clear()
    api.create_repo("alice/b", private=True, exist_ok=True)
    api.create_commit("alice/b", [huggingface_hub.CommitOperationAdd(NAME, content)], commit_message=message)
    theirs = {("repos" if "/api/repos/" in r["path"] else r["path"].split("/")[-2]): r for r in hub.sent(
        lambda r: r["method"] == "POST")}
    assert ours["repos"]["body"] == theirs["repos"]["body"].replace(b'"b"', b'"a"')
    assert ours["commit"]["body"] == theirs["commit"]["body"]
    assert ours["commit"]["headers"]["content-type"] == "application/x-ndjson"
    assert ours["repos"]["headers"]["authorization"] == f"Bearer {WRITE_TOKEN}"
