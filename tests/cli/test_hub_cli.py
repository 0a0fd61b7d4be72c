#!/usr/bin/python3
"""The Hugging Face Hub through the command line (issue 14), against the fake Hub of
tests/python/fake_hub.py on 127.0.0.1: model ids downloaded into the hub cache (--cache-dir,
--revision, --subfolder, --token, --local-files-only, --force-download, --proxy, a URL as
--config), save-config --push-to-hub (--token, --private, --commit-message, --revision), two
processes at once, and the one-line errors with a non-zero exit and no outputs.

Usage: test_hub_cli.py <path to pixelflow> <source dir>
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from cli_util import OneLineErrorAssertions

CLI = SRC = None
NAME = "preprocessor_config.json"
CONFIG = (json.dumps({"image_processor_type": "ViTImageProcessor", "size": {"height": 32, "width": 32}}, indent=2)
          + "\n").encode()


class HubCliTest(OneLineErrorAssertions, unittest.TestCase):
    def setUp(self):
        from fake_hub import FakeHub
        self.hub = FakeHub()
        self.hub.add_repo("org/vit", {NAME: CONFIG, "sub/" + NAME: CONFIG.replace(b"32", b"48")})
        self.hub.commit("org/vit", {NAME: CONFIG.replace(b"32", b"64")}, branch="dev")
        self.tmp = tempfile.mkdtemp(prefix="pixelflow_hub_")
        self.cache = os.path.join(self.tmp, "cache")
        self.out = os.path.join(self.tmp, "out")
        os.mkdir(os.path.join(self.tmp, "no_models"))
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HF_", "HUGGING", "TRANSFORMERS_")) and "proxy" not in k.lower()}
        self.env.update(HF_ENDPOINT=self.hub.url, HF_HOME=os.path.join(self.tmp, "home"), NO_PROXY="127.0.0.1,localhost",
                        PIXELFLOW_MODELS_DIR=os.path.join(self.tmp, "no_models"))
        self.image = os.path.join(SRC, "pipelines", "samples", sorted(os.listdir(os.path.join(SRC, "pipelines", "samples")))[0])

    def tearDown(self):
        self.hub.stop()
        shutil.rmtree(self.tmp)

    def run_cli(self, *args, env=None):
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env=e)

    def save(self, *args, env=None):
        return self.run_cli("save-config", "--out", self.out, "--cache-dir", self.cache, *args, env=env)

    def saved(self):
        with open(os.path.join(self.out, NAME)) as f:
            return json.load(f)

    def test_preprocess_downloads_into_the_cache(self):
        r = self.run_cli("preprocess", "--config", "org/vit", "--cache-dir", self.cache, "--out", self.out, self.image)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.out, "pixel_values.npy")))
        repo = os.path.join(self.cache, "models--org--vit")
        with open(os.path.join(repo, "refs", "main")) as f:
            commit = f.read()
        self.assertEqual(commit, self.hub.repos["org/vit"].branches["main"])
        link = os.readlink(os.path.join(repo, "snapshots", commit, NAME))
        self.assertTrue(link.startswith("../../blobs/"), link)

    def test_options(self):
        r = self.save("--config", "org/vit", "--revision", "dev")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.saved()["size"], {"height": 64, "width": 64})
        self.assertEqual(self.save("--config", "org/vit", "--subfolder", "sub").returncode, 0)
        self.assertEqual(self.saved()["size"], {"height": 48, "width": 48})
        # Cached now: --local-files-only and HF_HUB_OFFLINE read the cache without a request.
        self.hub.requests.clear()
        self.assertEqual(self.save("--config", "org/vit", "--revision", "dev", "--local-files-only").returncode, 0)
        self.assertEqual(self.save("--config", "org/vit", "--revision", "dev", env={"HF_HUB_OFFLINE": "1"}).returncode, 0)
        self.assertEqual(self.hub.requests, [])
        r = self.save("--config", "org/vit", "--force-download", "--token", "hf_read")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.hub.requests[0]["headers"].get("authorization"), "Bearer hf_read")
        self.assertEqual(self.save("--config", f"{self.hub.url}/org/vit/resolve/main/{NAME}").returncode, 0)
        self.assertEqual(self.saved()["size"], {"height": 32, "width": 32})

    def test_proxy(self):
        self.hub.requests.clear()
        r = self.save("--config", "org/vit", "--proxy", self.hub.url, env={"HF_ENDPOINT": "http://hub.invalid",
                                                                             "NO_PROXY": ""})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(self.hub.requests[0]["path"].startswith("http://hub.invalid/org/vit/resolve/main/"))

    def test_errors(self):
        self.assert_failed_without_outputs(self.save("--config", "org/nope"), "org/nope: repository not found",
                                   "token may be needed")
        self.assert_failed_without_outputs(self.save("--config", "org/vit", "--revision", "v9"), 'revision "v9" not found')
        self.assert_failed_without_outputs(self.save("--config", "org/vit", "--subfolder", "x"),
                                   "x/preprocessor_config.json not found")
        self.hub.add_repo("org/gated", {NAME: CONFIG}, gated=True)
        self.assert_failed_without_outputs(self.save("--config", "org/gated"), "gated repository")
        self.assert_failed_without_outputs(self.save("--config", "org/vit", "--local-files-only"), "downloads are off")
        self.assert_failed_without_outputs(self.save("--config", "org/vit", env={"HF_HUB_OFFLINE": "1"}), "HF_HUB_OFFLINE")
        self.hub.stop()
        self.assert_failed_without_outputs(self.save("--config", "org/vit"), f"cannot reach 127.0.0.1:{self.hub.port}")
        self.hub.restart()
        self.assert_failed_without_outputs(self.save("--config", "org/vit", "--push-to-hub", "alice/x"), "needs a token")
        self.assert_failed_without_outputs(self.save("--config", "org/vit", "--push-to-hub", "alice/x", "--token", "hf_read"),
                                   "alice/x")

    def test_push_to_hub(self):
        r = self.save("--config", "org/vit", "--push-to-hub", "alice/pushed", "--token", "hf_write", "--private",
                      "--commit-message", "from the CLI")
        self.assertEqual(r.returncode, 0, r.stderr)
        repo = self.hub.repos["alice/pushed"]
        commit = repo.branches["main"]
        self.assertIn(f"/alice/pushed/commit/{commit}", r.stdout)
        self.assertTrue(repo.private)
        self.assertEqual(repo.commits[commit]["summary"], "from the CLI")
        with open(os.path.join(self.out, NAME), "rb") as f:
            self.assertEqual(repo.commits[commit]["files"][NAME], f.read())
        # --revision: the branch committed to.
        self.hub.commit("alice/pushed", {}, branch="dev")
        r = self.save("--config", "org/vit", "--push-to-hub", "alice/pushed", "--revision", "dev",
                      env={"HF_TOKEN": "hf_write"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(repo.commits[repo.branches["dev"]]["summary"], "Upload processor")
        # What was pushed is what a download then gives.
        r = self.run_cli("save-config", "--config", "alice/pushed", "--out", os.path.join(self.tmp, "back"),
                         "--cache-dir", os.path.join(self.tmp, "c2"), "--token", "hf_read")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_two_processes_at_once(self):
        self.hub.barrier(lambda m, p: "/resolve/" in p, 2)
        procs = [subprocess.Popen([CLI, "save-config", "--config", "org/vit", "--cache-dir", self.cache, "--out",
                                   os.path.join(self.tmp, f"o{i}")], env=self.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
                 for i in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        bodies = [r for r in self.hub.requests if r["method"] == "GET" and "/api/resolve-cache/" in r["path"]]
        self.assertEqual(len(bodies), 1)

    def test_help(self):
        r = self.run_cli("save-config", "--help")
        for flag in ("--push-to-hub", "--token", "--private", "--commit-message", "--revision", "--cache-dir",
                     "--force-download", "--local-files-only", "--subfolder", "--proxy"):
            self.assertIn(flag, r.stdout)


if __name__ == "__main__":
    CLI, SRC = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(SRC, "tests", "python"))
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=1)
