#!/usr/bin/python3
"""Hostile inputs, as a user would meet them: YAML alias bombs, files that are not regular files
(/dev/zero behind a .jpg or .npy name, FIFOs, folders), zero-sized and absurdly sized images,
control characters in paths and absurd thread counts. Each must end in ONE line on stderr naming
the file or config key and a non-zero exit (never a crash, a hang or unbounded memory), and with
--on-error skip the other inputs must be kept.

Every command runs with a timeout, so that a hang fails the test instead of blocking it.

Usage: test_hostile_inputs.py <path to pixelflow> <source dir> [TestClass[.test]]
"""
import json, os, resource, shutil, subprocess, sys, unittest
import numpy as np

from cli_util import OneLineErrorAssertions, TempFolder, write_edited_config

CLI = SRC = None
TIMEOUT = 60
MAX_RSS_KB = 500 * 1024  # no command here may grow past 500 MB


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=TIMEOUT)


def children_max_rss_kb():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kB on Linux


def manifest(out):
    with open(os.path.join(out, "manifest.jsonl")) as f:
        return [json.loads(line) for line in f]


def save_npy(path, array):
    with open(path, "wb") as f:
        np.save(f, array)


class HostileTest(OneLineErrorAssertions, TempFolder, unittest.TestCase):
    tmp_prefix = "pixelflow_hostile_"

    def setUp(self):
        super().setUp()
        samples = os.path.join(SRC, "pipelines/samples")
        self.samples = sorted(os.path.join(samples, f) for f in os.listdir(samples))
        self.jpg = os.path.join(samples, "grace_hopper.jpg")
        self.clip = os.path.join(SRC, "pipelines/models/openai__clip-vit-base-patch32")

    def path(self, name):
        return os.path.join(self.tmp, name)

    def assert_no_outputs(self):
        self.assertFalse(os.path.exists(self.out) and os.listdir(self.out), "outputs written on failure")

    def list_file(self, inputs):
        path = self.path("inputs.txt")
        with open(path, "w") as f:
            f.write("".join(p + "\n" for p in inputs))
        return path


# ---------------------------------------------------------------------------------------------
# A) YAML alias bombs: nine anchors, each a list of nine aliases of the previous one (9^9 values
# once expanded, from about 1.3 KB), in the three places a pipeline takes free-form values.

def bomb_list(indent=""):
    """A flow list holding the nine levels: &a0 [...], &a1 [*a0 x 9], ..., &a8 [*a7 x 9]."""
    levels = ["&a0 [" + ", ".join(["0.5"] * 9) + "]"]
    for k in range(1, 9):
        levels.append("&a%d [" % k + ", ".join(["*a%d" % (k - 1)] * 9) + "]")
    return "[" + (",\n" + indent).join(levels) + "]"


class AliasBombTest(HostileTest):
    # (name, text before the bomb, key path it is under, text after it)
    def cases(self):
        return [
            ("kwargs", "config: %s\nkwargs:\n  image_mean: " % self.clip, "kwargs.image_mean", "\n"),
            ("normalize", "ops:\n  - normalize:\n      image_mean: ", "ops[0].normalize.image_mean",
             "\n      image_std: [1, 1, 1]\n"),
            ("color_quantize", "ops:\n  - color_quantize:\n      clusters: ", "ops[0].color_quantize.clusters", "\n"),
        ]

    def write_bomb(self, name, before, after):
        path = self.path(name + ".yaml")
        text = before + bomb_list("    ") + after
        self.assertLess(len(text), 2048)
        with open(path, "w") as f:
            f.write(text)
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        return path, "%s:%d:%d" % (path, line, col)

    def check(self, r, where, key):
        self.assertNotEqual(r.returncode, 134, "aborted: " + r.stderr[-500:])
        self.assert_one_line_error(r, where + ": " + key + ": too large after alias expansion")
        self.assertLess(children_max_rss_kb(), MAX_RSS_KB)
        self.assert_no_outputs()

    def test_check_pipeline(self):
        for name, before, key, after in self.cases():
            with self.subTest(name):
                path, where = self.write_bomb(name, before, after)
                self.check(run("check-pipeline", path), where, key)

    def test_preprocess(self):
        for name, before, key, after in self.cases():
            with self.subTest(name):
                path, where = self.write_bomb(name, before, after)
                self.check(run("preprocess", "--config", path, "--out", self.out, self.jpg), where, key)

    def test_run(self):
        for name, before, key, after in self.cases():
            with self.subTest(name):
                path, where = self.write_bomb(name, before, after)
                self.check(run("run", path, "--input", self.list_file([self.jpg]), "--out", self.out), where, key)

    def test_self_referencing_alias(self):
        # An alias inside its own anchor: a cycle once expanded.
        path = self.path("cycle.yaml")
        with open(path, "w") as f:
            f.write("config: %s\nkwargs:\n  image_mean: &a [1, *a]\n" % self.clip)
        r = run("check-pipeline", path)
        self.assertNotEqual(r.returncode, 134, r.stderr[-500:])
        self.assert_one_line_error(r, path + ":3:15: kwargs.image_mean: ")

    def test_aliases_within_bounds_still_work(self):
        path = self.path("alias.yaml")
        with open(path, "w") as f:
            f.write("ops:\n  - normalize: {image_mean: &m [0.5, 0.5, 0.5], image_std: *m}\n")
        r = run("check-pipeline", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        ops = json.loads(r.stdout)["ops"]
        self.assertEqual(ops, [{"normalize": {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}}])


# ---------------------------------------------------------------------------------------------
# B) Files that are not regular files, as inputs and as configs.

class NonRegularFileTest(HostileTest):
    def bad_inputs(self):
        """(path, kind) of each non-regular input, made afresh in the temp folder."""
        zero_jpg, zero_npy = self.path("zero.jpg"), self.path("zero.npy")
        os.symlink("/dev/zero", zero_jpg)
        os.symlink("/dev/zero", zero_npy)
        fifo = self.path("fifo.jpg")
        os.mkfifo(fifo)
        folder = self.path("x.jpg")
        os.mkdir(folder)
        return [(zero_jpg, "a character device"), (zero_npy, "a character device"), (fifo, "a FIFO"),
                (folder, "a directory")]

    def message(self, bad, kind):
        return bad + ": not a regular file (" + kind + ")"

    def test_preprocess_first_and_later_position(self):
        for bad, kind in self.bad_inputs():
            for inputs in ([bad, self.jpg], [self.jpg, bad], [self.jpg, bad, self.jpg]):
                with self.subTest(bad=bad, inputs=inputs):
                    r = run("preprocess", "--config", self.clip, "--out", self.out, *inputs)
                    self.assert_one_line_error(r, "pixelflow: error: " + self.message(bad, kind))
                    self.assertLess(children_max_rss_kb(), MAX_RSS_KB)
                    self.assert_no_outputs()

    def test_run_skip_keeps_the_others(self):
        for bad, kind in self.bad_inputs():
            for position in (0, 1):
                with self.subTest(bad=bad, position=position):
                    inputs = [self.jpg, self.jpg]
                    inputs.insert(position, bad)
                    r = run("run", "--config", self.clip, "--input", self.list_file(inputs), "--out", self.out,
                            "--on-error", "skip", "--batch-size", "2", "--overwrite")
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(r.stderr.strip().splitlines(), ["pixelflow: 1 inputs skipped (see %s)"
                                                                     % os.path.join(self.out, "manifest.jsonl")])
                    summary = json.loads(r.stdout)
                    self.assertEqual((summary["ok"], summary["skipped"]), (2, 1))
                    m = manifest(self.out)
                    self.assertEqual([e["status"] for e in m],
                                     ["error" if i == position else "ok" for i in range(3)])
                    self.assertEqual(m[position]["error"], self.message(bad, kind))
                    self.assertLess(children_max_rss_kb(), MAX_RSS_KB)

    def test_run_fail_one_line(self):
        for bad, kind in self.bad_inputs():
            for position in (0, 1):
                with self.subTest(bad=bad, position=position):
                    shutil.rmtree(self.out, ignore_errors=True)
                    inputs = [self.jpg]
                    inputs.insert(position, bad)
                    r = run("run", "--config", self.clip, "--input", self.list_file(inputs), "--out", self.out,
                            "--on-error", "fail", "--batch-size", "1")
                    self.assert_one_line_error(r, "pixelflow: " + self.message(bad, kind))

    def test_dev_zero_and_fifo_as_config(self):
        zero_yaml, zero_json = self.path("zero.yaml"), self.path("zero.json")
        os.symlink("/dev/zero", zero_yaml)
        os.symlink("/dev/zero", zero_json)
        fifo_yaml = self.path("fifo.yaml")
        os.mkfifo(fifo_yaml)
        for config, kind in ((zero_yaml, "a character device"), (zero_json, "a character device"),
                             (fifo_yaml, "a FIFO")):
            with self.subTest(config=config):
                r = run("preprocess", "--config", config, "--out", self.out, self.jpg)
                self.assert_one_line_error(r, config + ": not a regular file (" + kind + ")")
                self.assertLess(children_max_rss_kb(), MAX_RSS_KB)
        for config, kind in ((zero_yaml, "a character device"), (fifo_yaml, "a FIFO")):
            with self.subTest(config=config):
                self.assert_one_line_error(run("check-pipeline", config), config + ": not a regular file (" + kind + ")")
                r = run("run", config, "--input", self.list_file([self.jpg]), "--out", self.out)
                self.assert_one_line_error(r, config + ": not a regular file (" + kind + ")")

    def test_folder_source_lists_regular_files_only(self):
        folder = self.path("images")
        os.mkdir(folder)
        shutil.copy(self.jpg, os.path.join(folder, "b.jpg"))
        os.symlink("/dev/zero", os.path.join(folder, "a.jpg"))
        os.mkfifo(os.path.join(folder, "c.jpg"))
        os.mkdir(os.path.join(folder, "d.jpg"))
        os.symlink(os.path.join(folder, "e.jpg"), os.path.join(folder, "e.jpg"))  # a loop
        r = run("run", "--config", self.clip, "--input", folder, "--out", self.out, "--recursive")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([e["input"] for e in manifest(self.out)], [os.path.join(folder, "b.jpg")])

    def test_list_file_that_is_not_a_regular_file(self):
        fifo = self.path("list.txt")
        os.mkfifo(fifo)
        r = run("run", "--config", self.clip, "--input", fifo, "--out", self.out)
        self.assert_one_line_error(r, fifo + ": not a regular file (a FIFO)")

    def test_segmentation_map_and_logits(self):
        zero_npy = self.path("zero.npy")
        os.symlink("/dev/zero", zero_npy)
        seg = os.path.join(SRC, "pipelines/models/nvidia__segformer-b0-finetuned-ade-512-512")
        r = run("preprocess", "--config", seg, "--out", self.out, "--segmentation-map", zero_npy, self.jpg)
        self.assert_one_line_error(r, zero_npy + ": not a regular file (a character device)")
        r = run("postprocess", "semantic-segmentation", "--config", seg, "--logits", zero_npy, "--out", self.out)
        self.assert_one_line_error(r, zero_npy + ": not a regular file (a character device)")
        self.assertLess(children_max_rss_kb(), MAX_RSS_KB)


# ---------------------------------------------------------------------------------------------
# C) Sizes: an empty image under a shortest-edge resize, and sizes too large to compute.

class SizeTest(HostileTest):
    def test_zero_sized_npy_input(self):
        empty = self.path("empty.npy")
        save_npy(empty, np.zeros((0, 10, 3), np.uint8))
        for inputs in ([empty], [self.jpg, empty]):
            with self.subTest(inputs=inputs):
                r = run("preprocess", "--config", self.clip, "--out", self.out, *inputs)
                line = self.assert_one_line_error(r, empty + ": ", "no pixels")
                self.assertNotIn("-9223372036854775808", line)

    def test_extreme_aspect_ratio_is_refused_per_input(self):
        # A valid config, but an input so thin that shortest_edge 224 (no crop) makes its resized
        # array 224 x 448 M pixels: refused for that input (4 x the pixel limit, as the limit
        # refuses decompression bombs), before any allocation; the other inputs are kept.
        thin = self.path("thin.npy")
        save_npy(thin, np.zeros((1, 2000000, 3), np.uint8))
        args = ("--set", "do_center_crop=false")
        r = run("preprocess", "--config", self.clip, "--out", self.out, *args, self.jpg, thin)
        self.assert_one_line_error(r, thin + ": ", "(224, 448000000, 3)", "4 x the pixel limit")
        # Float arrays take HF's float resize, which computes the whole array before the crop.
        thin_f = self.path("thin_f.npy")
        save_npy(thin_f, np.zeros((1, 2000000, 3), np.float32))
        r = run("preprocess", "--config", self.clip, "--out", self.out, self.jpg, thin_f)
        self.assert_one_line_error(r, thin_f + ": ", "(224, 448000000, 3) float32", "4 x the pixel limit")
        self.assertLess(children_max_rss_kb(), MAX_RSS_KB)
        images = self.path("thin_run")
        os.makedirs(images)
        shutil.copyfile(self.jpg, os.path.join(images, "a.jpg"))
        shutil.copyfile(thin, os.path.join(images, "b.npy"))
        out = self.path("thin_out")
        r = run("run", "--config", self.clip, "--input", images, "--out", out, "--on-error", "skip", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, "manifest.jsonl")) as f:
            lines = [json.loads(l) for l in f]
        self.assertEqual([l["status"] for l in lines], ["ok", "error"])
        self.assertIn("4 x the pixel limit", lines[1]["error"])

    def test_huge_shortest_edge_from_json(self):
        for value in ("9223372036854775807", "2147483648", "18446744073709551615"):
            with self.subTest(value=value):
                r = run("preprocess", "--config", self.clip, "--out", self.out,
                        "--set", 'size={"shortest_edge": %s}' % value, self.jpg)
                line = self.assert_one_line_error(r, "size.shortest_edge")
                self.assertNotIn("-9223372036854775808", line)
        config = write_edited_config(self.clip, self.path("preprocessor_config.json"),
                                     size={"shortest_edge": 9223372036854775807})
        r = run("preprocess", "--config", config, "--out", self.out, self.jpg)
        self.assert_one_line_error(r, config + ": size.shortest_edge: must be at most 2147483647")

    def test_huge_shortest_edge_from_yaml(self):
        path = self.path("huge.yaml")
        with open(path, "w") as f:
            f.write("ops:\n  - resize:\n      size: {shortest_edge: 9223372036854775807}\n      resample: bicubic\n")
        for args in (("check-pipeline", path), ("preprocess", "--config", path, "--out", self.out, self.jpg)):
            with self.subTest(args=args[0]):
                r = run(*args)
                self.assert_one_line_error(
                    r, path + ":3:29: ops[0].resize.size.shortest_edge: must be at most 2147483647")

    def test_tiny_crop_pct(self):
        # ConvNext resizes to int(shortest_edge / crop_pct): a huge quotient was converted to int64 (UB).
        convnext = os.path.join(SRC, "pipelines/models/facebook__convnext-tiny-224")
        r = run("preprocess", "--config", convnext, "--out", self.out, "--set", "crop_pct=1e-300", self.jpg)
        self.assert_one_line_error(r, "crop_pct: size.shortest_edge / crop_pct = ", "is not a size in pixels")

    def test_output_too_large_is_refused(self):
        # A valid shortest_edge whose long side overflows Pillow's C int.
        path = self.path("big.yaml")
        with open(path, "w") as f:
            f.write("ops:\n  - resize: {size: {shortest_edge: 2147483647}, resample: bilinear}\n")
        # The plan is refused by the output size limit (the pixel limit), naming the key ...
        r = run("preprocess", "--config", path, "--out", self.out, self.jpg)
        self.assert_one_line_error(r, "size.shortest_edge: resize to 2147483647 x 2147483647")
        # ... and with no limit (--max-image-pixels 0), by the resize of the input, naming it.
        r = run("preprocess", "--config", path, "--out", self.out, "--max-image-pixels", "0", self.jpg)
        line = self.assert_one_line_error(r, self.jpg + ": resize")
        self.assertIn("2147483647", line)
        self.assertLess(children_max_rss_kb(), MAX_RSS_KB)


# ---------------------------------------------------------------------------------------------
# D) A newline in a path, absurd thread counts.

class MiscTest(HostileTest):
    def test_newline_in_path_printed_once(self):
        odd = self.path("a\nb.jpg")
        with open(odd, "wb") as f:
            f.write(b"not an image")
        shown = odd.replace("\n", "\\n")
        for inputs in ([odd, self.jpg], [self.jpg, odd]):
            with self.subTest(inputs=inputs):
                r = run("preprocess", "--config", self.clip, "--out", self.out, *inputs)
                line = self.assert_one_line_error(r, shown + ": cannot identify image file")
                self.assertEqual(line.count("b.jpg"), 1, line)

    def test_threads_bound(self):
        flags = ("--threads", "100000")
        yaml = self.path("threads.yaml")
        with open(yaml, "w") as f:
            f.write("config: %s\nthreads: 100000\n" % self.clip)
        cases = [
            (("preprocess", "--config", self.clip, "--out", self.out, *flags, self.jpg), 2, "--threads"),
            (("run", "--config", self.clip, "--input", self.list_file([self.jpg]), "--out", self.out, *flags), 2,
             "--threads"),
            (("bench", "--config", self.clip, "--images", self.tmp, *flags), 2, "--threads"),
            (("postprocess", "semantic-segmentation", "--config", self.clip, "--logits", "x.npy", "--out", self.out,
              *flags), 2, "--threads"),
            (("check-pipeline", yaml), 1, yaml + ":2:10: threads: must be at most 256"),
        ]
        for args, rc, needle in cases:
            with self.subTest(args=args[0]):
                self.assert_one_line_error(run(*args), needle, rc=rc)

    def test_more_threads_than_cores_is_quiet(self):
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--threads", "256", "--quiet", *self.samples)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")


if __name__ == "__main__":
    CLI, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1] + sys.argv[3:], verbosity=1)
