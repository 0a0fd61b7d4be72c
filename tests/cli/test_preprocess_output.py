#!/usr/bin/python3
"""How `pixelflow preprocess` (and the other commands writing files) write their outputs, as a user
sees it: files replaced through a temporary and rename (a symlink at an output name is replaced,
its target untouched; no temporaries left; an old output survives a failed or killed run), all
outputs of a call appearing together; the memory it takes (no second copy of the output while
writing); and out-of-memory or absurd sizes as one line naming the cause.

Usage: test_preprocess_output.py <path to pixelflow> <source dir> [TestClass]
"""
import json, os, resource, shutil, signal, subprocess, sys, time, unittest
import numpy as np

from cli_util import OneLineErrorAssertions, TempFolder, write_edited_config

CLI = SRC = None


def run(*args, **kw):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, **kw)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def npy_is_complete(path):
    """The file at `path` is a whole .npy file: its header parses and the data is all there."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
        header_end = f.tell()
    expected = header_end + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return os.path.getsize(path) == expected


def asan_instrumented():
    with open(CLI, "rb") as f:
        return b"__asan_init" in f.read()


class PreprocessTest(OneLineErrorAssertions, TempFolder, unittest.TestCase):
    """A temp folder, a sample JPEG and the bundled CLIP config (no tests of its own)."""

    def setUp(self):
        super().setUp()
        self.sample = os.path.join(SRC, "pipelines/samples/happy_fish.jpg")
        self.clip = os.path.join(SRC, "pipelines/models/openai__clip-vit-base-patch32")


class OutputFilesTest(PreprocessTest):
    tmp_prefix = "pixelflow_out_"

    def preprocess(self, *args):
        return run("preprocess", "--config", self.clip, "--out", self.out, "--quiet", *args)

    def test_symlink_at_output_name_is_replaced_not_followed(self):
        os.makedirs(self.out)
        target = os.path.join(self.tmp, "precious.bin")
        with open(target, "wb") as f:
            f.write(b"precious")
        link = os.path.join(self.out, "pixel_values.npy")
        os.symlink(target, link)
        r = self.preprocess(self.sample)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read_bytes(target), b"precious")
        self.assertFalse(os.path.islink(link))
        self.assertEqual(np.load(link).shape, (1, 3, 224, 224))
        self.assertEqual(sorted(os.listdir(self.out)), ["pixel_values.npy"])
        # --unbatched outputs too.
        link1 = os.path.join(self.out, "pixel_values_1.npy")
        os.symlink(target, link1)
        r = self.preprocess("--unbatched", self.sample, self.sample)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read_bytes(target), b"precious")
        self.assertFalse(os.path.islink(link1))
        self.assertEqual(np.load(link1).shape, (3, 224, 224))

    def test_save_config_replaces_a_symlink(self):
        os.makedirs(self.out)
        target = os.path.join(self.tmp, "precious.json")
        with open(target, "w") as f:
            f.write("{}")
        link = os.path.join(self.out, "preprocessor_config.json")
        os.symlink(target, link)
        r = run("save-config", "--config", self.clip, "--out", self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read_bytes(target), b"{}")
        self.assertFalse(os.path.islink(link))
        with open(link) as f:
            self.assertEqual(json.load(f)["crop_size"], {"height": 224, "width": 224})
        self.assertEqual(os.listdir(self.out), ["preprocessor_config.json"])

    def test_failed_run_keeps_old_outputs_and_leaves_no_temporaries(self):
        r = self.preprocess(self.sample)
        self.assertEqual(r.returncode, 0, r.stderr)
        old = read_bytes(os.path.join(self.out, "pixel_values.npy"))
        # A corrupt input.
        bad = os.path.join(self.tmp, "bad.jpg")
        with open(bad, "wb") as f:
            f.write(read_bytes(self.sample)[:500])
        r = self.preprocess(self.sample, bad, "--set", 'crop_size={"height": 100, "width": 100}')
        self.assert_one_line_error(r, bad)
        self.assertEqual(read_bytes(os.path.join(self.out, "pixel_values.npy")), old)
        self.assertEqual(os.listdir(self.out), ["pixel_values.npy"])
        # A failure while writing: one of the outputs cannot be replaced (a folder holds its name).
        # Nothing is replaced, not even the outputs before it.
        r = self.preprocess("--unbatched", self.sample, self.sample)
        self.assertEqual(r.returncode, 0, r.stderr)
        old0 = read_bytes(os.path.join(self.out, "pixel_values_0.npy"))
        os.remove(os.path.join(self.out, "pixel_values_1.npy"))
        os.makedirs(os.path.join(self.out, "pixel_values_1.npy", "inside"))
        r = self.preprocess("--unbatched", "--set", 'crop_size={"height": 100, "width": 100}', self.sample, self.sample)
        self.assert_one_line_error(r, os.path.join(self.out, "pixel_values_1.npy"), "folder")
        self.assertEqual(read_bytes(os.path.join(self.out, "pixel_values_0.npy")), old0)
        self.assertEqual(sorted(os.listdir(self.out)), ["pixel_values.npy", "pixel_values_0.npy", "pixel_values_1.npy"])
        # And after a success, nothing but the outputs.
        shutil.rmtree(os.path.join(self.out, "pixel_values_1.npy"))
        r = self.preprocess("--unbatched", self.sample, self.sample)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(os.listdir(self.out)), ["pixel_values.npy", "pixel_values_0.npy", "pixel_values_1.npy"])

    def test_kill_during_the_write_never_leaves_a_torn_file(self):
        # An old output, then runs killed at the moment the output folder changes (the write
        # begins) or at random times: the final name holds the old or the new file, whole.
        final = os.path.join(self.out, "pixel_values.npy")
        r = self.preprocess(self.sample)
        self.assertEqual(r.returncode, 0, r.stderr)
        old = read_bytes(final)
        size = '{"height": 640, "width": 640}'
        args = [CLI, "preprocess", "--config", self.clip, "--out", self.out, "--quiet", "--threads", "2",
                "--set", "size=" + size, "--set", "crop_size=" + size] + [self.sample] * 48
        new_size = None
        for attempt in range(6):
            before = (os.listdir(self.out), os.stat(final).st_mtime_ns, os.stat(final).st_size)
            p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            start = time.monotonic()
            delay = None if attempt < 4 else 0.2 * attempt
            while p.poll() is None:
                now = (os.listdir(self.out), os.stat(final).st_mtime_ns, os.stat(final).st_size)
                if (delay is None and now != before) or (delay is not None and time.monotonic() - start > delay):
                    p.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.0005)
            p.wait()
            self.assertTrue(npy_is_complete(final), f"attempt {attempt}: torn {final}")
            content = read_bytes(final)
            if content != old:
                self.assertEqual(np.load(final).shape, (48, 3, 640, 640))
                new_size = len(content)
            # Only a temporary of the killed process may be left (hidden, named after the output).
            for name in os.listdir(self.out):
                if name != "pixel_values.npy":
                    self.assertTrue(name.startswith(".pixel_values.npy.") and name.endswith(".tmp"), name)
                    os.remove(os.path.join(self.out, name))
            old = content
        if new_size is None:  # never got to the rename: check a full run too
            r = subprocess.run(args, capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(npy_is_complete(final))


class SizesAndMemoryTest(PreprocessTest):
    tmp_prefix = "pixelflow_mem_"

    def assert_nothing_written(self):
        self.assertFalse(os.path.exists(self.out) and os.listdir(self.out), "outputs written on failure")

    def test_absurd_sizes_are_config_errors_naming_the_key(self):
        huge = '{"height": 200000, "width": 200000}'
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--set", "size=" + huge, self.sample)
        self.assert_one_line_error(r, "size: resize to 200000 x 200000 = 40000000000 pixels per image",
                                   "--max-image-pixels")
        self.assert_nothing_written()
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--set", "crop_size=" + huge, self.sample)
        self.assert_one_line_error(r, "crop_size: center_crop to 200000 x 200000")
        self.assert_nothing_written()
        # In a preprocessor_config.json ...
        config = write_edited_config(self.clip, os.path.join(self.tmp, "preprocessor_config.json"),
                                     size={"shortest_edge": 100000})
        r = run("preprocess", "--config", config, "--out", self.out, self.sample)
        self.assert_one_line_error(r, "size.shortest_edge: resize to 100000 x 100000")
        self.assert_nothing_written()
        # ... and in a YAML pipeline.
        pipeline = os.path.join(self.tmp, "huge.yaml")
        with open(pipeline, "w") as f:
            f.write("ops:\n  - resize: {size: {height: 200000, width: 200000}, resample: bilinear}\n"
                    "  - to_channel_dimension_format: {data_format: channels_first}\n")
        r = run("preprocess", "--config", pipeline, "--out", self.out, self.sample)
        self.assert_one_line_error(r, "size: resize to 200000 x 200000")
        self.assert_nothing_written()
        # --max-image-pixels 0 lifts the check: memory is then the limit, and running out of it is
        # one line too (the 120 GB output under a 3 GB address-space limit).
        r = self.run_limited(3 << 30, "preprocess", "--config", self.clip, "--out", self.out, "--max-image-pixels", "0",
                             "--set", "crop_size=" + huge, "--set", "do_resize=false", "--set", "do_rescale=false",
                             "--set", "do_normalize=false", self.sample)
        self.assert_one_line_error(r, "out of memory allocating the batch output pixel_values (1, 3, 200000, 200000) "
                                      "uint8, 120.0 GB")
        self.assert_nothing_written()

    def run_limited(self, limit_bytes, *args):
        # An AddressSanitizer binary reserves terabytes of shadow address space at start, so it
        # cannot run under RLIMIT_AS at all: these cases are the Release build's (build.sh unit),
        # and the ASan step checks everything else.
        if asan_instrumented():
            self.skipTest("RLIMIT_AS cannot bound an AddressSanitizer binary; run by the Release build")
        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, preexec_fn=limit)

    def test_out_of_memory_is_one_line_naming_what(self):
        # The stacked output of 400 images of 3 x 1024 x 1024 float32 (5.0 GB) under a 3 GB
        # address-space limit: refused at once, naming the output, not the first image.
        size = '{"height": 1024, "width": 1024}'
        r = self.run_limited(3 << 30, "preprocess", "--config", self.clip, "--out", self.out, "--threads", "2",
                             "--set", "size=" + size, "--set", "crop_size=" + size, *([self.sample] * 400))
        self.assert_one_line_error(
            r, "pixelflow: error: out of memory allocating the batch output pixel_values (400, 3, 1024, 1024) "
               "float32, 5.0 GB")
        self.assertNotIn(self.sample, r.stderr)
        self.assert_nothing_written()
        # Per-image buffers that do not fit: the input being processed is named.
        size = '{"height": 12000, "width": 12000}'
        r = self.run_limited(3 << 30, "preprocess", "--config", self.clip, "--out", self.out, "--threads", "2",
                             "--unbatched", "--set", "size=" + size, "--set", "crop_size=" + size, *([self.sample] * 4))
        self.assert_one_line_error(r, "out of memory", self.sample)
        self.assert_nothing_written()

    def test_peak_memory_holds_one_copy_of_the_output(self):
        # 200 images of 3 x 512 x 512 float32: 629 MB of output. Writing it must not copy it.
        n, side = 200, 512
        size = '{"height": %d, "width": %d}' % (side, side)
        output_bytes = n * 3 * side * side * 4
        probe = ("import resource, subprocess, sys\n"
                 "r = subprocess.run(sys.argv[1:], capture_output=True)\n"
                 "sys.stderr.buffer.write(r.stderr)\n"
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                 "sys.exit(r.returncode)\n")
        r = subprocess.run([sys.executable, "-c", probe, CLI, "preprocess", "--config", self.clip, "--out", self.out,
                            "--quiet", "--threads", "2", "--set", "size=" + size, "--set", "crop_size=" + size,
                            *([self.sample] * n)], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        peak = int(r.stdout.split()[-1]) * 1024  # ru_maxrss is in kB on Linux
        self.assertEqual(os.path.getsize(os.path.join(self.out, "pixel_values.npy")), output_bytes + 128)
        self.assertLess(peak, 1.3 * output_bytes, f"peak RSS {peak / 1e6:.0f} MB for {output_bytes / 1e6:.0f} MB of output")


if __name__ == "__main__":
    CLI = os.path.abspath(sys.argv[1])
    SRC = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:])
