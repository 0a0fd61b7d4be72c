#!/usr/bin/python3
"""pixelflow run and the files around it, as a user meets them: a run deletes no file that is not
its own (a fresh run, --overwrite, resume), resume redoes damaged shards, non-UTF-8 file names
survive the manifest, and --recursive leaves the output folder out of the inputs.

Usage: test_run_safety.py <path to pixelflow> <source dir> [TestClass]
"""
import json, os, shutil, subprocess, sys, tempfile, unittest

from cli_util import tree

CLI = SRC = None

SMALL = ["--set", 'size={"shortest_edge":32}', "--set", 'crop_size={"height":32,"width":32}']


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


def write(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


class RunSafetyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pixelflow_run_safety_")
        self.out = os.path.join(self.tmp, "out")
        self.clip = os.path.join(SRC, "pipelines/models/openai__clip-vit-base-patch32")
        samples = [os.path.join(SRC, "pipelines/samples/happy_fish.jpg"),
                   os.path.join(SRC, "pipelines/samples/microaneurysms.png"),
                   os.path.join(SRC, "tests/data/decode/jpeg_rgb_420.jpg")]
        self.images = os.path.join(self.tmp, "images")
        os.makedirs(self.images)
        for i in range(5):
            src = samples[i % len(samples)]
            shutil.copyfile(src, os.path.join(self.images, "%02d%s" % (i, os.path.splitext(src)[1])))

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_cmd(self, *args, out=None, inputs=None):
        return run("run", "--config", self.clip, "--input", inputs or self.images, "--out", out or self.out,
                   "--batch-size", "2", *SMALL, *args)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        return json.loads(lines[0])

    def refused(self, r, *needles):
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("pixelflow: "), lines[0])
        for n in needles:
            self.assertIn(n, lines[0])

    def user_files(self, folder):
        """Writes a user's files into `folder` (*.tmp ones, a folder named like a shard, a note);
        returns them, relative path -> bytes."""
        files = {"my_experiment.tmp/weights.bin": b"mine 1", "notes.tmp": b"mine 2",
                 "shard-000007/keep.txt": b"mine 3", "README.txt": b"mine 4"}
        for name, data in files.items():
            write(os.path.join(folder, name), data)
        return files

    def assert_kept(self, files, folder):
        for name, data in files.items():
            path = os.path.join(folder, name)
            self.assertTrue(os.path.isfile(path), name)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), data, name)

    def test_fresh_run_refuses_a_folder_of_other_files_and_deletes_none(self):
        mine = self.user_files(self.out)
        before = tree(self.out)
        self.refused(self.run_cmd(), self.out + ": holds ", "no run.json", "overwrite")
        self.assertEqual(tree(self.out), before)
        # --overwrite: the run goes next to them (its 3 shards), they stay.
        s = self.ok(self.run_cmd("--overwrite"))
        self.assertEqual((s["ok"], s["batches"]), (5, 3))
        self.assert_kept(mine, self.out)
        self.assertEqual(sorted(f for f in os.listdir(self.out) if f.startswith("shard-")),
                         ["shard-000000", "shard-000001", "shard-000002", "shard-000007"])
        # Resuming (complete: nothing to do) keeps them too.
        s = self.ok(self.run_cmd())
        self.assertEqual((s["resumed_batches"], s["batches"]), (3, 0))
        self.assert_kept(mine, self.out)

    def test_a_file_in_the_way_is_refused_not_replaced(self):
        write(os.path.join(self.out, "shard-000001", "mine.txt"), b"mine")
        before = tree(self.out)
        self.refused(self.run_cmd("--overwrite"), os.path.join(self.out, "shard-000001"), "in the way")
        self.assertEqual(tree(self.out), before)

    def test_overwrite_deletes_only_the_previous_runs_files(self):
        self.ok(self.run_cmd())
        mine = self.user_files(self.out)
        # Another run (other batch size): refused without --overwrite, then it replaces the
        # previous run's files only.
        self.refused(run("run", "--config", self.clip, "--input", self.images, "--out", self.out, *SMALL,
                         "--batch-size", "3"), "batch_size")
        r = run("run", "--config", self.clip, "--input", self.images, "--out", self.out, *SMALL,
                "--batch-size", "3", "--overwrite")
        s = self.ok(r)
        self.assertEqual((s["resumed_batches"], s["batches"]), (0, 2))
        self.assert_kept(mine, self.out)
        self.assertEqual(sorted(f for f in os.listdir(self.out) if f.startswith("shard-")),
                         ["shard-000000", "shard-000001", "shard-000007"])
        with open(os.path.join(self.out, "manifest.jsonl")) as f:
            self.assertEqual(len(f.readlines()), 5)

    def damaged_shard_is_redone(self, fmt, damage, resumed):
        suffix = "" if fmt == "npy" else ".safetensors"
        ref = os.path.join(self.tmp, "ref_" + fmt)
        self.ok(self.run_cmd("--format", fmt, out=ref))
        out = os.path.join(self.tmp, "out_" + fmt)
        self.ok(self.run_cmd("--format", fmt, out=out))
        shard = os.path.join(out, "shard-%06d%s" % (resumed, suffix))
        damage(os.path.join(shard, "pixel_values.npy") if fmt == "npy" else shard)
        s = self.ok(self.run_cmd("--format", fmt, out=out))
        self.assertEqual((s["resumed_batches"], s["batches"]), (resumed, 3 - resumed))
        self.assertEqual(tree(out), tree(ref))

    def test_truncated_shard_is_redone(self):
        def truncate(path):
            os.truncate(path, os.path.getsize(path) // 2)
        for fmt in ("npy", "safetensors"):
            with self.subTest(fmt=fmt):
                self.damaged_shard_is_redone(fmt, truncate, 1)

    def test_overwritten_shard_of_the_same_size_is_redone(self):
        def rewrite(path):
            with open(path, "r+b") as f:
                f.seek(-4, os.SEEK_END)
                last = f.read(4)
                f.seek(-4, os.SEEK_END)
                f.write(bytes(b ^ 0x5A for b in last))
        for fmt in ("npy", "safetensors"):
            with self.subTest(fmt=fmt):
                self.damaged_shard_is_redone(fmt, rewrite, 2)

    def test_a_fifo_planted_in_the_output_folder_never_blocks(self):
        # A FIFO (or a device) where the run keeps its own files: resume neither waits on it nor
        # reads it as data; it refuses with one line naming it, or redoes the shard it replaced.
        for name in ("manifest.jsonl", "shards.jsonl", "run.json", "shard-000000/pixel_values.npy"):
            with self.subTest(name=name):
                out = os.path.join(self.tmp, "fifo_" + name.replace("/", "_"))
                self.ok(self.run_cmd(out=out))
                ref = tree(out)
                path = os.path.join(out, name)
                os.remove(path)
                os.mkfifo(path)
                r = self.run_cmd(out=out)  # run() times out (a failure) rather than hanging
                if name.startswith("shard-"):
                    s = self.ok(r)
                    self.assertEqual((s["resumed_batches"], s["batches"]), (0, 3))
                    self.assertEqual(tree(out), ref)
                else:
                    self.refused(r, path, "not a regular file (a FIFO)") if name != "run.json" else \
                        self.refused(r, out, "run.json")

    def test_non_utf8_file_names_round_trip_through_the_manifest(self):
        folder = os.fsencode(os.path.join(self.tmp, "latin1"))
        os.makedirs(folder)
        good = b"caf\xe9.png"                   # Latin-1, not UTF-8
        bad = b"\xff\xfe broken.jpg"            # not an image either
        utf8 = "d\u00e9j\u00e0.jpg".encode()    # valid UTF-8: written as is
        shutil.copyfile(os.fsencode(os.path.join(SRC, "pipelines/samples/microaneurysms.png")), folder + b"/" + good)
        write(folder + b"/" + bad, b"not an image")
        shutil.copyfile(os.fsencode(os.path.join(SRC, "pipelines/samples/happy_fish.jpg")), folder + b"/" + utf8)
        r = self.run_cmd("--on-error", "skip", inputs=os.fsdecode(folder))
        s = self.ok(r)
        self.assertEqual((s["ok"], s["skipped"]), (2, 1))
        with open(os.path.join(self.out, "manifest.jsonl"), "rb") as f:
            raw = f.read()
        self.assertIn(b"caf\\udce9.png", raw)
        self.assertIn(utf8, raw)
        entries = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
        names = sorted([bad, good, utf8])
        self.assertEqual([os.fsencode(e["input"]) for e in entries], [folder + b"/" + n for n in names])
        for e in entries:
            if os.fsencode(e["input"]).endswith(bad):
                self.assertEqual(e["status"], "error")
                self.assertTrue(os.fsencode(e["error"]).startswith(folder + b"/" + bad + b": "), e)
            else:
                self.assertEqual(e["status"], "ok", e)
        # The folder resumes (its lines read back), complete.
        s = self.ok(self.run_cmd("--on-error", "skip", inputs=os.fsdecode(folder)))
        self.assertEqual((s["resumed_batches"], s["batches"]), (2, 0))

    def test_recursive_run_with_its_output_inside_the_input_folder(self):
        os.makedirs(os.path.join(self.images, "sub"))
        shutil.copyfile(os.path.join(self.images, "00.jpg"), os.path.join(self.images, "sub", "05.jpg"))
        out = os.path.join(self.images, "out")
        inputs = sorted(os.path.join(self.images, n) for n in os.listdir(self.images) if n != "sub" and n != "out")
        inputs.append(os.path.join(self.images, "sub", "05.jpg"))
        for fmt in ("npy", "safetensors"):
            with self.subTest(fmt=fmt):
                args = ("--recursive", "--format", fmt, "--overwrite")
                s = self.ok(self.run_cmd(*args, out=out))
                self.assertEqual((s["inputs"], s["batches"]), (6, 3))
                with open(os.path.join(out, "manifest.jsonl")) as f:
                    manifest = f.read()
                self.assertEqual([json.loads(line)["input"] for line in manifest.splitlines()], inputs)
                # Again: the same inputs (not its shards), so it resumes the complete run.
                s = self.ok(self.run_cmd(*args[:-1], out=out))
                self.assertEqual((s["inputs"], s["resumed_batches"], s["batches"]), (6, 3, 0))
                with open(os.path.join(out, "manifest.jsonl")) as f:
                    self.assertEqual(f.read(), manifest)
                # A glob reaching into it too.
                s = self.ok(self.run_cmd("--format", fmt, out=out,
                                         inputs=os.path.join(self.images, "**", "*.*")))
                self.assertEqual((s["inputs"], s["resumed_batches"]), (6, 3))
        # The input folder as the output folder: one line, nothing written.
        self.refused(self.run_cmd("--recursive", out=self.images), self.images, "also the output folder")


if __name__ == "__main__":
    CLI, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1] + sys.argv[3:], verbosity=1)
