#!/usr/bin/python3
"""Checks DatasetWriter's output folders with Python alone (json + numpy), as a PyTorch or NumPy
user would read them: run.json, manifest.jsonl (exact key order), npy shards via np.load, and
safetensors shards parsed by the format's rules (u64 LE header length, JSON header padded with
spaces to 8, contiguous aligned data). When the `safetensors` package is installed its loader
reads the shards too and its writer must give the same bytes.

Usage: check_dataset_writer.py <path to pixelflow_dataset_writer_sample>
Exit code 77 (skipped) when numpy is missing.
"""
import json, os, random, shutil, signal, struct, subprocess, sys, tempfile, time, unittest

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from cli_util import tree  # noqa: E402

SAMPLE = None
TOTAL, BATCH = 5, 2
ST_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "U16": "<u2", "I32": "<i4", "I64": "<i8",
             "F32": "<f4", "F64": "<f8"}


def expected_batch(b, rows):
    """The tensors of batch b, as documented in dataset_writer_sample.cpp."""
    k = lambda *shape: np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    out = {
        "pixel_values": (b * 100 + k(rows, 3, 2, 2)).astype(np.float32),
        "pixel_values_f64": (b * 100 + k(rows, 2)).astype(np.float64) + 0.5,
        "labels": (b * 10 + k(rows)).astype(np.int64),
        "ids": (-(b * 100 + k(rows, 2))).astype(np.int32),
        "depth": (60000 + b * 100 + k(rows, 2)).astype(np.uint16),
        "mask": (b * 10 + k(rows, 3)).astype(np.uint8),
        "valid": (k(rows, 3) % 2 == 1),
    }
    for r in range(rows):
        out["sizes.%d" % r] = np.array([b, r], dtype=np.int64)
    return out


def read_safetensors(path, test):
    """Parses a safetensors file by the format's rules, checking them on the way."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    test.assertEqual(n % 8, 0)
    text = data[8:8 + n].decode("utf-8")
    test.assertTrue(text.startswith("{"))
    test.assertLess(len(text) - len(text.rstrip(" ")), 8)  # padding: spaces, to a multiple of 8
    pairs = json.loads(text, object_pairs_hook=lambda p: p)
    header = dict(pairs)
    test.assertEqual(header.pop("__metadata__"), [("format", "pt")])
    body = data[8 + n:]
    names = [k for k, _ in pairs if k != "__metadata__"]
    infos = [dict(header[k]) for k in names]
    # Header order is data order; tensors are contiguous from 0 to the end of the file.
    pos = 0
    out = {}
    for name, info in zip(names, infos):
        begin, end = info["data_offsets"]
        test.assertEqual(begin, pos, name)
        dtype = np.dtype(ST_DTYPES[info["dtype"]])
        test.assertEqual((8 + n + begin) % dtype.itemsize, 0, name + " not aligned")
        arr = np.frombuffer(body[begin:end], dtype=dtype).reshape(info["shape"])
        out[name] = arr
        pos = end
    test.assertEqual(pos, len(body))
    # Data order: larger alignment first, then by name (as the reference writer orders them).
    rank = {"I64": 13, "F64": 12, "F32": 11, "I32": 9, "U16": 6, "U8": 1, "BOOL": 0}
    test.assertEqual(names, sorted(names, key=lambda k: (-rank[header[k][0][1]], k)))
    return out


class DatasetWriterOutput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pixelflow_dataset_writer_py_")
        subprocess.run([SAMPLE, cls.tmp], check=True, timeout=120)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def manifest(self, fmt):
        with open(os.path.join(self.tmp, fmt, "manifest.jsonl"), encoding="utf-8") as f:
            text = f.read()
        self.assertTrue(text.endswith("\n"))
        return [json.loads(line, object_pairs_hook=lambda p: p) for line in text.splitlines()]

    def check_folder(self, fmt, load_shard):
        folder = os.path.join(self.tmp, fmt)
        with open(os.path.join(folder, "run.json")) as f:
            run = json.load(f)
        self.assertEqual(run["total"], TOTAL)
        self.assertEqual(run["batch_size"], BATCH)
        self.assertEqual(run["format"], fmt)
        self.assertEqual(run["config"], {"model": "sample"})
        self.assertEqual(len(run["inputs_sha256"]), 64)
        lines = self.manifest(fmt)
        self.assertEqual(len(lines), TOTAL)
        suffix = ".safetensors" if fmt == "safetensors" else ""
        shards = set()
        for i, line in enumerate(lines):
            b = i // BATCH
            if i == 3:
                self.assertEqual(line, [("input", "img3.png"), ("status", "error"),
                                        ("error", "img3.png: cannot identify image file")])
                continue
            self.assertEqual([k for k, _ in line], ["input", "status", "shard", "index"])
            d = dict(line)
            self.assertEqual(d["input"], "img%d.png" % i)
            self.assertEqual(d["status"], "ok")
            self.assertEqual(d["shard"], "shard-%06d%s" % (b, suffix))
            shards.add(d["shard"])
        self.assertEqual(sorted(os.listdir(folder)),
                         sorted(["run.json", "manifest.jsonl", "shards.jsonl"] + list(shards)))
        for shard in sorted(shards):
            b = int(shard[6:12])
            rows = sum(1 for i, l in enumerate(lines) if i // BATCH == b and dict(l)["status"] == "ok")
            got = load_shard(os.path.join(folder, shard))
            want = expected_batch(b, rows)
            self.assertEqual(sorted(got), sorted(want), shard)
            for key, arr in want.items():
                self.assertEqual(got[key].dtype, arr.dtype, key)
                self.assertEqual(got[key].shape, arr.shape, key)
                np.testing.assert_array_equal(got[key], arr, err_msg=shard + " " + key)
            # Each row of the shard is the input the manifest names at that index.
            for i, l in enumerate(lines):
                d = dict(l)
                if i // BATCH == b and d["status"] == "ok":
                    self.assertEqual(got["sizes.%d" % d["index"]][1], d["index"])

    def test_npy(self):
        def load(path):
            return {name[:-4]: np.load(os.path.join(path, name)) for name in os.listdir(path)}
        self.check_folder("npy", load)

    def test_safetensors(self):
        self.check_folder("safetensors", lambda path: read_safetensors(path, self))

    def test_safetensors_package_agrees(self):
        try:
            from safetensors.numpy import load_file, save_file
        except ImportError:
            self.skipTest("the safetensors package is not installed")
        folder = os.path.join(self.tmp, "safetensors")
        for shard in os.listdir(folder):
            if not shard.endswith(".safetensors"):
                continue
            path = os.path.join(folder, shard)
            loaded = load_file(path)
            mine = read_safetensors(path, self)
            self.assertEqual(sorted(loaded), sorted(mine))
            for k in mine:
                np.testing.assert_array_equal(loaded[k], mine[k])
            again = os.path.join(self.tmp, "again.safetensors")
            save_file(loaded, again, metadata={"format": "pt"})
            with open(again, "rb") as a, open(path, "rb") as b:
                self.assertEqual(a.read(), b.read(), shard)


class KilledAndResumed(unittest.TestCase):
    """A writer process killed (SIGKILL) at random moments and restarted each time ends with the
    folder an uninterrupted run writes, byte for byte."""

    def test_kill_resume(self):
        tmp = tempfile.mkdtemp(prefix="pixelflow_dataset_writer_kill_")
        try:
            total = "40"
            ref = os.path.join(tmp, "ref")
            start = time.monotonic()
            subprocess.run([SAMPLE, ref, total], check=True, timeout=300)
            duration = time.monotonic() - start
            rng = random.Random(1234)
            kills = 0
            # Trials until some process was killed mid-run: each trial kills writers at random
            # moments until one finishes, then compares the folder with the reference. Sleeps
            # shrink from trial to trial, so that a loaded machine (a reference run slower than
            # the later ones) cannot leave every writer unkilled.
            scale = 1.0
            for trial in range(12):
                crashed = os.path.join(tmp, "crashed%d" % trial)
                for attempt in range(60):  # then one uninterrupted run finishes the folder
                    p = subprocess.Popen([SAMPLE, crashed, total])
                    if attempt < 59:
                        time.sleep(rng.uniform(0.0, duration * scale))
                    else:
                        p.wait(timeout=300)
                    if p.poll() is None:
                        p.send_signal(signal.SIGKILL)
                        p.wait()
                        kills += 1
                        continue
                    self.assertEqual(p.wait(), 0)
                    break
                self.assertEqual(tree(crashed), tree(ref))
                if kills >= 3:
                    break
                scale /= 2
            self.assertGreater(kills, 0)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    SAMPLE = sys.argv.pop(1)
    unittest.main(verbosity=2)
