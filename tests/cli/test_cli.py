#!/usr/bin/python3
"""The pixelflow CLI contract, as outside checks drive it: exit codes, one-line errors naming the
input or config key, no output files on failure, the output files and their dtypes/shapes.

Usage: test_cli.py <path to pixelflow> <source dir>
"""
import json, os, shutil, subprocess, sys, tempfile, unittest, zlib
import numpy as np

CLI = SRC = None


def read(path):
    with open(path) as f:
        return f.read()


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pixelflow_cli_")
        self.out = os.path.join(self.tmp, "out")
        self.samples = sorted(os.path.join(SRC, "pipelines/samples", f)
                              for f in os.listdir(os.path.join(SRC, "pipelines/samples")))
        self.clip = os.path.join(SRC, "pipelines/models/openai__clip-vit-base-patch32")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def assert_one_line_error(self, r, *needles, rc=1):
        self.assertEqual(r.returncode, rc, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertFalse(os.path.exists(self.out) and os.listdir(self.out), "outputs written on failure")

    def test_help(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("preprocess", r.stdout)
        self.assertIn("postprocess", r.stdout)
        for cmd in ("preprocess", "postprocess"):
            r = run(cmd, "--help")
            self.assertEqual(r.returncode, 0)
            self.assertIn("Usage: pixelflow " + cmd, r.stdout)
        r = run("preprocess", "--help")
        for opt in ("--set", "--unbatched", "--load-image", "--segmentation-map", "--video"):
            self.assertIn(opt, r.stdout)

    def test_batch_by_model_id_folder_and_file(self):
        for config in ("openai/clip-vit-base-patch32", self.clip,
                       os.path.join(self.clip, "preprocessor_config.json")):
            r = run("preprocess", "--config", config, "--out", self.out, *self.samples)
            self.assertEqual(r.returncode, 0, r.stderr)
            pv = np.load(os.path.join(self.out, "pixel_values.npy"))
            self.assertEqual(pv.shape, (len(self.samples), 3, 224, 224))
            self.assertEqual(pv.dtype, np.float32)

    def test_unbatched_and_shape_mismatch(self):
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--set", "do_center_crop=false",
                *self.samples)
        self.assert_one_line_error(r, "--unbatched")
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--set", "do_center_crop=false",
                "--unbatched", *self.samples)
        self.assertEqual(r.returncode, 0, r.stderr)
        shapes = [np.load(os.path.join(self.out, f"pixel_values_{i}.npy")).shape for i in range(len(self.samples))]
        self.assertTrue(all(s[0] == 3 and min(s[1:]) == 224 for s in shapes), shapes)
        self.assertFalse(os.path.exists(os.path.join(self.out, "pixel_values.npy")))

    def test_set_overrides(self):
        r = run("preprocess", "--config", self.clip, "--out", self.out,
                "--set", 'crop_size={"height": 100, "width": 120}', "--set", "do_normalize=false",
                "--set", "data_format=\"channels_last\"", self.samples[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        pv = np.load(os.path.join(self.out, "pixel_values.npy"))
        self.assertEqual(pv.shape, (1, 100, 120, 3))
        self.assertTrue(0.0 <= pv.min() and pv.max() <= 1.0)
        r = run("preprocess", "--config", self.clip, "--out", self.out,
                "--set", "do_rescale=false", "--set", "do_normalize=false", self.samples[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(os.path.join(self.out, "pixel_values.npy")).dtype, np.uint8)

    def test_missing_and_corrupt_inputs(self):
        missing = os.path.join(self.tmp, "nope.jpg")
        r = run("preprocess", "--config", self.clip, "--out", self.out, self.samples[0], missing)
        self.assert_one_line_error(r, missing)
        bad = os.path.join(self.tmp, "truncated.jpg")
        with open(self.samples[1], "rb") as f:
            data = f.read()
        with open(bad, "wb") as f:
            f.write(data[: len(data) // 3])
        r = run("preprocess", "--config", self.clip, "--out", self.out, self.samples[0], bad, self.samples[2])
        self.assert_one_line_error(r, bad)
        empty = os.path.join(self.tmp, "empty.png")
        open(empty, "wb").close()
        r = run("preprocess", "--config", self.clip, "--out", self.out, empty)
        self.assert_one_line_error(r, empty)
        text = os.path.join(self.tmp, "notes.txt")
        with open(text, "w") as f:
            f.write("not an image\n")
        r = run("preprocess", "--config", self.clip, "--out", self.out, text)
        self.assert_one_line_error(r, text)

    def test_max_image_pixels(self):
        # A 60-byte PNG claiming 100000 x 100000: refused from its header at once, whatever the limit.
        def chunk(kind, data):
            return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        bomb = os.path.join(self.tmp, "bomb.png")
        with open(bomb, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", (100000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
                    + chunk(b"IDAT", b"\x78\x9c\x63\x60\x00\x00\x00\x02\x00\x01") + chunk(b"IEND", b""))
        r = run("preprocess", "--config", self.clip, "--out", self.out, self.samples[0], bomb)
        self.assert_one_line_error(r, bomb, "exceeds the limit of 178956970 pixels")
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--max-image-pixels", "0", bomb)
        self.assert_one_line_error(r, bomb, "truncated")
        # The flag and the environment variable set the limit; the flag wins.
        small = self.samples[0]
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--max-image-pixels", "100", small)
        self.assert_one_line_error(r, small, "exceeds the limit of 100 pixels")
        env = dict(os.environ, PIXELFLOW_MAX_IMAGE_PIXELS="100")
        r = subprocess.run([CLI, "preprocess", "--config", self.clip, "--out", self.out, small],
                           capture_output=True, text=True, timeout=120, env=env)
        self.assert_one_line_error(r, small, "exceeds the limit of 100 pixels")
        r = subprocess.run([CLI, "preprocess", "--config", self.clip, "--out", self.out, "--quiet",
                            "--max-image-pixels", "0", small], capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        shutil.rmtree(self.out)
        env["PIXELFLOW_MAX_IMAGE_PIXELS"] = "lots"
        r = subprocess.run([CLI, "preprocess", "--config", self.clip, "--out", self.out, small],
                           capture_output=True, text=True, timeout=120, env=env)
        self.assert_one_line_error(r, "PIXELFLOW_MAX_IMAGE_PIXELS", rc=2)
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--max-image-pixels", "-5", small)
        self.assert_one_line_error(r, "--max-image-pixels", rc=2)

    def test_bad_config_values_name_the_key(self):
        cfg = json.loads(read(os.path.join(self.clip, "preprocessor_config.json")))
        cfg["image_std"] = [0.2, "x", 0.3]
        path = os.path.join(self.tmp, "bad.json")
        write_json(path, cfg)
        r = run("preprocess", "--config", path, "--out", self.out, self.samples[0])
        self.assert_one_line_error(r, "image_std")
        cfg["image_std"] = [0.2, 0.2, 0.3]
        cfg["image_processor_type"] = "NoSuchImageProcessor"
        write_json(path, cfg)
        r = run("preprocess", "--config", path, "--out", self.out, self.samples[0])
        self.assert_one_line_error(r, "NoSuchImageProcessor", "CLIPImageProcessor")
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--set", "size=oops", self.samples[0])
        self.assert_one_line_error(r, "size")
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--set", 'size={"height": -3, "width": 4}',
                self.samples[0])
        self.assert_one_line_error(r, "size")
        r = run("preprocess", "--config", os.path.join(self.tmp, "missing_dir"), "--out", self.out, self.samples[0])
        self.assert_one_line_error(r, "missing_dir")

    def test_arrays(self):
        img = np.random.default_rng(0).integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
        hwc = os.path.join(self.tmp, "hwc.npy")
        chw = os.path.join(self.tmp, "chw.npy")
        np.save(hwc, img)
        np.save(chw, np.ascontiguousarray(img.transpose(2, 0, 1)))
        outs = []
        for p in (hwc, chw):
            r = run("preprocess", "--config", self.clip, "--out", self.out, p)
            self.assertEqual(r.returncode, 0, r.stderr)
            outs.append(np.load(os.path.join(self.out, "pixel_values.npy")))
        np.testing.assert_array_equal(outs[0], outs[1])
        gray = os.path.join(self.tmp, "gray.npy")
        np.save(gray, img[:, :, 0])
        shutil.rmtree(self.out)
        r = run("preprocess", "--config", self.clip, "--out", self.out, gray)
        self.assert_one_line_error(r, gray)

    def test_usage_errors(self):
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--bogus", self.samples[0])
        self.assertEqual(r.returncode, 2)
        r = run("preprocess", "--config", self.clip, self.samples[0])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--out", r.stderr)
        r = run("frobnicate")
        self.assertEqual(r.returncode, 2)

    def test_video_and_segmentation_maps(self):
        vmae = os.path.join(SRC, "pipelines/models/MCG-NJU__videomae-base")
        a, b, gray = self.samples  # VideoMAE has no convert_rgb: grayscale frames are an error
        r = run("preprocess", "--config", vmae, "--out", self.out, "--video", f"{a},{b}", f"{b},{a}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(os.path.join(self.out, "pixel_values.npy")).shape, (2, 2, 3, 224, 224))
        r = run("preprocess", "--config", vmae, "--out", self.out, a, b, a)  # one video of 3 frames
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(os.path.join(self.out, "pixel_values.npy")).shape, (1, 3, 3, 224, 224))
        shutil.rmtree(self.out)
        r = run("preprocess", "--config", vmae, "--out", self.out, "--video", f"{a},{b}", a)
        self.assert_one_line_error(r, "lengths")
        r = run("preprocess", "--config", vmae, "--out", self.out, "--video", f"{a},{gray}")
        self.assert_one_line_error(r, gray, "dimensions")
        seg = os.path.join(SRC, "pipelines/models/nvidia__segformer-b0-finetuned-ade-512-512")
        label = os.path.join(self.tmp, "label.npy")
        np.save(label, np.random.default_rng(1).integers(0, 151, size=(194, 259), dtype=np.uint8))
        r = run("preprocess", "--config", seg, "--out", self.out, "--segmentation-map", label,
                "--set", "do_reduce_labels=true", a)
        self.assertEqual(r.returncode, 0, r.stderr)
        labels = np.load(os.path.join(self.out, "labels.npy"))
        self.assertEqual((labels.dtype, labels.shape), (np.int64, (1, 512, 512)))
        self.assertTrue(labels.max() <= 255 and labels.min() >= 0)
        r = run("preprocess", "--config", seg, "--out", self.out, "--segmentation-map", label, a, b)
        self.assertEqual(r.returncode, 2)

    def test_postprocess_semantic_segmentation(self):
        seg = os.path.join(SRC, "pipelines/models/nvidia__segformer-b0-finetuned-ade-512-512")
        logits = np.zeros((2, 4, 8, 8), np.float32)
        logits[0, 2] = 1.0          # class 2 everywhere
        logits[1, 3, :4] = 5.0      # class 3 on top, ties (all zero) below -> class 0
        path = os.path.join(self.tmp, "logits.npy")
        np.save(path, logits)
        r = run("postprocess", "semantic-segmentation", "--config", seg, "--logits", path,
                "--target-size", "16,16", "--target-size", "8,8", "--out", self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        m0 = np.load(os.path.join(self.out, "semantic_segmentation_0.npy"))
        m1 = np.load(os.path.join(self.out, "semantic_segmentation_1.npy"))
        self.assertEqual((m0.dtype, m0.shape, m1.shape), (np.int64, (16, 16), (8, 8)))
        self.assertTrue((m0 == 2).all())
        self.assertTrue((m1[:4] == 3).all() and (m1[4:] == 0).all())
        shutil.rmtree(self.out)
        r = run("postprocess", "semantic-segmentation", "--config", seg, "--logits", path,
                "--target-size", "16,16", "--out", self.out)
        self.assert_one_line_error(r, "target sizes")
        r = run("postprocess", "semantic-segmentation", "--config", self.clip, "--logits", path, "--out", self.out)
        self.assert_one_line_error(r, "CLIPImageProcessor")
        r = run("postprocess", "semantic-segmentation", "--config", seg, "--logits", path, "--out", self.out,
                "--target-size", "16x16")
        self.assertEqual(r.returncode, 2)

    def test_bench_and_tune(self):
        images = os.path.join(SRC, "pipelines/samples")
        for source in ("decoded", "jpeg"):
            r = run("bench", "--config", self.clip, "--images", images, "--threads", "1", "--from", source,
                    "--batch-size", "4", "--seconds", "0.2")
            self.assertEqual(r.returncode, 0, r.stderr)
            line = json.loads(r.stdout.strip().splitlines()[-1])
            self.assertEqual((line["threads"], line["from"], line["batch_size"]), (1, source, 4))
            self.assertGreater(line["images_per_s"], 0)
        tuning = os.path.join(self.tmp, "tuning.json")
        r = run("tune", "--config", self.clip, "--images", images, "--threads", "1", "--batch-size", "4",
                "--seconds", "0.05", "--out", tuning)
        self.assertEqual(r.returncode, 0, r.stderr)
        saved = json.loads(read(tuning))
        host = json.loads(r.stdout.strip().splitlines()[-1])["cpu"]
        self.assertIn(host, saved["hosts"])
        self.assertIn("rescale_normalize_uint8", saved["hosts"][host]["kernels"])
        # A tuned run gives the same bytes as the defaults.
        outs = []
        for t in (tuning, "none"):
            out = os.path.join(self.tmp, "o_" + os.path.basename(t))
            r = run("preprocess", "--config", self.clip, "--out", out, "--tuning", t, *self.samples)
            self.assertEqual(r.returncode, 0, r.stderr)
            outs.append(np.load(os.path.join(out, "pixel_values.npy")))
        np.testing.assert_array_equal(outs[0], outs[1])
        r = run("bench", "--config", self.clip, "--images", images, "--from", "png")
        self.assertEqual(r.returncode, 2)

    def test_save_config_round_trip(self):
        r = run("save-config", "--config", self.clip, "--out", self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        saved = read(os.path.join(self.out, "preprocessor_config.json"))
        r = run("save-config", "--config", self.out, "--out", os.path.join(self.tmp, "again"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(saved, read(os.path.join(self.tmp, "again", "preprocessor_config.json")))
        self.assertEqual(json.loads(saved)["image_processor_type"], "CLIPImageProcessor")


if __name__ == "__main__":
    CLI, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=1)
