#!/usr/bin/python3
"""The pixelflow CLI contract, as outside checks drive it: exit codes, one-line errors naming the
input or config key, no output files on failure, the output files and their dtypes/shapes.

Usage: test_cli.py <path to pixelflow> <source dir>
"""
import json, os, shutil, subprocess, sys, tempfile, time, unittest, zlib
import numpy as np

from cli_util import OneLineErrorAssertions

CLI = SRC = None


def read(path):
    with open(path) as f:
        return f.read()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


def interrupt_last_batch(out, shard, keep_lines):
    """Leaves the run folder `out` as if interrupted during its last batch: the shard folder is
    gone and the manifest keeps its first `keep_lines` lines."""
    shutil.rmtree(os.path.join(out, shard))
    with open(os.path.join(out, "manifest.jsonl")) as f:
        lines = f.readlines()
    with open(os.path.join(out, "manifest.jsonl"), "w") as f:
        f.writelines(lines[:keep_lines])


class CliTest(OneLineErrorAssertions, unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pixelflow_cli_")
        self.out = os.path.join(self.tmp, "out")
        self.samples = sorted(os.path.join(SRC, "pipelines/samples", f)
                              for f in os.listdir(os.path.join(SRC, "pipelines/samples")))
        self.clip = os.path.join(SRC, "pipelines/models/openai__clip-vit-base-patch32")

    def tearDown(self):
        shutil.rmtree(self.tmp)

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
        self.assert_failed_without_outputs(r, "--unbatched")
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
        self.assert_failed_without_outputs(r, missing)
        bad = os.path.join(self.tmp, "truncated.jpg")
        with open(self.samples[1], "rb") as f:
            data = f.read()
        with open(bad, "wb") as f:
            f.write(data[: len(data) // 3])
        r = run("preprocess", "--config", self.clip, "--out", self.out, self.samples[0], bad, self.samples[2])
        self.assert_failed_without_outputs(r, bad)
        empty = os.path.join(self.tmp, "empty.png")
        open(empty, "wb").close()
        r = run("preprocess", "--config", self.clip, "--out", self.out, empty)
        self.assert_failed_without_outputs(r, empty)
        text = os.path.join(self.tmp, "notes.txt")
        with open(text, "w") as f:
            f.write("not an image\n")
        r = run("preprocess", "--config", self.clip, "--out", self.out, text)
        self.assert_failed_without_outputs(r, text)

    def test_golden_error_cases(self):
        """Every error case of the golden subset (tests/data/golden) fails as golden_check.py
        drives it, and says more than it checks: exit 1, one line naming the input file and
        stating Hugging Face's condition (the recorded message's first line), no outputs."""
        gdir = os.path.join(SRC, "tests/data/golden")
        with open(os.path.join(gdir, "cases.jsonl")) as f:
            cases = [json.loads(line) for line in f if line.strip()]
        errors = [c for c in cases if "error" in c]
        self.assertGreaterEqual(len(errors), 20)
        for c in errors:
            with self.subTest(case=c["id"]):
                self.assertEqual(c["structure"], "single")
                kwargs = dict(c["call_kwargs"])
                args = ["preprocess", "--config", os.path.join(SRC, "pipelines/models", c["model"]), "--out", self.out]
                if kwargs.pop("return_tensors", "np") is None:
                    args.append("--unbatched")
                if any(x["kind"] == "load_image" for x in c["inputs"]):
                    args.append("--load-image")
                for k, v in kwargs.items():
                    args += ["--set", f"{k}={json.dumps(v)}"]
                files = [os.path.join(gdir, x["file"]) for x in c["inputs"]]
                r = run(*args, *files)
                condition = c["error"]["message"].splitlines()[0]
                self.assert_failed_without_outputs(r, files[0], condition)

    def test_max_image_pixels(self):
        # A 60-byte PNG claiming 100000 x 100000: refused from its header at once, whatever the limit.
        def chunk(kind, data):
            return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
        bomb = os.path.join(self.tmp, "bomb.png")
        with open(bomb, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", (100000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
                    + chunk(b"IDAT", b"\x78\x9c\x63\x60\x00\x00\x00\x02\x00\x01") + chunk(b"IEND", b""))
        r = run("preprocess", "--config", self.clip, "--out", self.out, self.samples[0], bomb)
        self.assert_failed_without_outputs(r, bomb, "exceeds the limit of 178956970 pixels")
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--max-image-pixels", "0", bomb)
        self.assert_failed_without_outputs(r, bomb, "truncated")
        # The flag and the environment variable set the limit; the flag wins.
        small = self.samples[0]
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--max-image-pixels", "100", small)
        self.assert_failed_without_outputs(r, small, "exceeds the limit of 100 pixels")
        env = dict(os.environ, PIXELFLOW_MAX_IMAGE_PIXELS="100")
        r = subprocess.run([CLI, "preprocess", "--config", self.clip, "--out", self.out, small],
                           capture_output=True, text=True, timeout=120, env=env)
        self.assert_failed_without_outputs(r, small, "exceeds the limit of 100 pixels")
        r = subprocess.run([CLI, "preprocess", "--config", self.clip, "--out", self.out, "--quiet",
                            "--max-image-pixels", "0", small], capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        shutil.rmtree(self.out)
        env["PIXELFLOW_MAX_IMAGE_PIXELS"] = "lots"
        r = subprocess.run([CLI, "preprocess", "--config", self.clip, "--out", self.out, small],
                           capture_output=True, text=True, timeout=120, env=env)
        self.assert_failed_without_outputs(r, "PIXELFLOW_MAX_IMAGE_PIXELS", rc=2)
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--max-image-pixels", "-5", small)
        self.assert_failed_without_outputs(r, "--max-image-pixels", rc=2)

    def test_bad_config_values_name_the_key(self):
        cfg = json.loads(read(os.path.join(self.clip, "preprocessor_config.json")))
        cfg["image_std"] = [0.2, "x", 0.3]
        path = os.path.join(self.tmp, "bad.json")
        write_json(path, cfg)
        r = run("preprocess", "--config", path, "--out", self.out, self.samples[0])
        self.assert_failed_without_outputs(r, "image_std")
        cfg["image_std"] = [0.2, 0.2, 0.3]
        cfg["image_processor_type"] = "NoSuchImageProcessor"
        write_json(path, cfg)
        r = run("preprocess", "--config", path, "--out", self.out, self.samples[0])
        self.assert_failed_without_outputs(r, "NoSuchImageProcessor", "CLIPImageProcessor")
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--set", "size=oops", self.samples[0])
        self.assert_failed_without_outputs(r, "size")
        r = run("preprocess", "--config", self.clip, "--out", self.out, "--set", 'size={"height": -3, "width": 4}',
                self.samples[0])
        self.assert_failed_without_outputs(r, "size")
        r = run("preprocess", "--config", os.path.join(self.tmp, "missing_dir"), "--out", self.out, self.samples[0])
        self.assert_failed_without_outputs(r, "missing_dir")

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
        self.assert_failed_without_outputs(r, gray)

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
        self.assert_failed_without_outputs(r, "lengths")
        r = run("preprocess", "--config", vmae, "--out", self.out, "--video", f"{a},{gray}")
        self.assert_failed_without_outputs(r, gray, "dimensions")
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
        self.assert_failed_without_outputs(r, "target sizes")
        r = run("postprocess", "semantic-segmentation", "--config", self.clip, "--logits", path, "--out", self.out)
        self.assert_failed_without_outputs(r, "CLIPImageProcessor")
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

    def test_qwen2vl_patch_batches(self):
        # Qwen2-VL: pixel_values holds every image's patch rows one after the other and
        # image_grid_thw one row per image, in preprocess (also --unbatched) and in run shards.
        qwen = os.path.join(SRC, "pipelines/models/Qwen__Qwen2-VL-7B-Instruct")
        r = run("preprocess", "--quiet", "--config", qwen, "--set", "max_pixels=20000", "--out", self.out, *self.samples)
        self.assertEqual(r.returncode, 0, r.stderr)
        pv = np.load(os.path.join(self.out, "pixel_values.npy"))
        grid = np.load(os.path.join(self.out, "image_grid_thw.npy"))
        self.assertEqual(grid.dtype, np.int64)
        self.assertEqual(grid.shape, (len(self.samples), 3))
        self.assertEqual(pv.shape, (int(grid.prod(axis=1).sum()), 3 * 2 * 14 * 14))
        self.assertTrue((grid[:, 0] == 1).all() and (grid[:, 1:] % 2 == 0).all())
        unbatched = os.path.join(self.tmp, "unbatched")
        r = run("preprocess", "--quiet", "--unbatched", "--config", qwen, "--set", "max_pixels=20000", "--out", unbatched,
                *self.samples)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(os.listdir(unbatched)), ["image_grid_thw.npy", "pixel_values.npy"])
        # pixelflow run: each shard is the batch preprocess gives for its inputs.
        inputs = os.path.join(self.tmp, "inputs.txt")
        with open(inputs, "w") as f:
            f.write("\n".join(self.samples) + "\n")
        out = os.path.join(self.tmp, "run")
        r = run("run", "--config", qwen, "--set", "max_pixels=20000", "--input", inputs, "--out", out, "--batch-size", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = 0
        for b, start in enumerate(range(0, len(self.samples), 2)):
            shard = os.path.join(out, "shard-%06d" % b)
            g = np.load(os.path.join(shard, "image_grid_thw.npy"))
            p = np.load(os.path.join(shard, "pixel_values.npy"))
            np.testing.assert_array_equal(g, grid[start:start + 2])
            np.testing.assert_array_equal(p, pv[rows:rows + len(p)])
            rows += len(p)
        self.assertEqual(rows, len(pv))

    def test_preprocess_with_yaml_pipeline(self):
        # Every bundled model's pipeline.yaml gives the bytes of its preprocessor_config.json.
        models = os.path.join(SRC, "pipelines/models")
        jpegs = [s for s in self.samples if s.endswith(".jpg")]
        checked = 0
        for m in sorted(os.listdir(models)):
            yaml_path = os.path.join(models, m, "pipeline.yaml")
            if not os.path.exists(yaml_path) or "imagegpt" in m or "videomae" in m:
                continue  # ImageGPT's default call / VideoMAE's video inputs: covered by [yaml] tests
            a, b = os.path.join(self.tmp, m + "_yaml"), os.path.join(self.tmp, m + "_json")
            ra = run("preprocess", "--quiet", "--unbatched", "--config", yaml_path, "--out", a, *jpegs)
            rb = run("preprocess", "--quiet", "--unbatched", "--config", os.path.join(models, m), "--out", b, *jpegs)
            self.assertEqual(ra.returncode, 0, m + ": " + ra.stderr)
            self.assertEqual(rb.returncode, 0, m + ": " + rb.stderr)
            self.assertEqual(sorted(os.listdir(a)), sorted(os.listdir(b)), m)
            for f in os.listdir(a):
                self.assertEqual(read_bytes(os.path.join(a, f)), read_bytes(os.path.join(b, f)), m + "/" + f)
            checked += 1
        self.assertGreaterEqual(checked, 15)
        r = run("preprocess", "--config", os.path.join(self.clip, "pipeline.yaml"), "--set", "do_resize=false",
                "--out", self.out, *jpegs)
        self.assert_failed_without_outputs(r, "--set does not apply to a YAML pipeline", rc=2)

    def test_check_pipeline(self):
        r = run("check-pipeline", os.path.join(self.clip, "pipeline.yaml"))
        self.assertEqual(r.returncode, 0, r.stderr)
        spec = json.loads(r.stdout)
        self.assertEqual(spec["processor"], "CLIPImageProcessor")
        self.assertEqual([next(iter(op)) for op in spec["ops"]],
                         ["resize", "center_crop", "rescale", "normalize", "to_channel_dimension_format"])
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("ops:\n  - resize: {size: {shortest_edge: 0}, resample: 3}\nbatch_size: 4\n")
        self.assert_failed_without_outputs(run("check-pipeline", bad),
                                   bad + ":2:36: ops[0].resize.size.shortest_edge: must be > 0")
        self.assertEqual(run("check-pipeline").returncode, 2)


SMALL = ["--set", 'size={"shortest_edge":32}', "--set", 'crop_size={"height":32,"width":32}']


def read_safetensors(path):
    """{name: array} from a safetensors file (8-byte little-endian header length, JSON header)."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8,
              "BOOL": np.bool_, "U16": np.uint16, "F16": np.float16, "BF16": np.uint16}  # BF16: its bits
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out, header


def manifest(out):
    entries = []
    with open(os.path.join(out, "manifest.jsonl"), encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            # The documented text exactly: Python json.dumps' separators, keys in this order.
            assert line == json.dumps(e, ensure_ascii=False) + "\n", line
            assert list(e) in (["input", "status", "shard", "index"], ["input", "status", "error"]), line
            entries.append(e)
    return entries


class RunTest(unittest.TestCase):
    """pixelflow run: shards, manifest, on-error policies, resume, progress, a long streamed run."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pixelflow_run_")
        self.out = os.path.join(self.tmp, "out")
        self.clip = os.path.join(SRC, "pipelines/models/openai__clip-vit-base-patch32")
        data = os.path.join(SRC, "tests/data")
        # Small real images of several formats and modes.
        self.images = [os.path.join(SRC, "pipelines/samples/happy_fish.jpg"),
                       os.path.join(SRC, "pipelines/samples/microaneurysms.png"),
                       os.path.join(data, "golden/images/opencv_scenetext_word01.jpg"),
                       os.path.join(data, "golden/images/mpl_Minduka_Present_Blue_Pack.png"),
                       os.path.join(data, "decode/jpeg_rgb_420.jpg"),
                       os.path.join(data, "golden/images/jpegdec_jpg-cmyk-2.jpg"),
                       os.path.join(data, "golden/images/opencv_scenetext_char01.jpg")]
        self.folder = os.path.join(self.tmp, "images")
        os.makedirs(self.folder)
        self.inputs = []
        for i, src in enumerate(self.images):
            dst = os.path.join(self.folder, "%02d_%s" % (i, os.path.basename(src)))
            shutil.copyfile(src, dst)
            self.inputs.append(dst)
        with open(os.path.join(self.folder, "README.txt"), "w") as f:
            f.write("not an input\n")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_cmd(self, *args, out=None):
        return run("run", "--config", self.clip, "--out", out or self.out, *SMALL, *args)

    def test_pixel_limit(self):
        # Images above --max-image-pixels (or PIXELFLOW_MAX_IMAGE_PIXELS) are input errors: with
        # skip they are recorded, the others processed; the flag wins over the environment.
        import PIL.Image
        sizes = []
        for p in self.inputs:
            with PIL.Image.open(p) as im:
                sizes.append(im.size[0] * im.size[1])
        limit = sorted(sizes)[len(sizes) // 2]
        r = self.run_cmd("--input", self.folder, "--on-error", "skip", "--max-image-pixels", str(limit))
        self.assertEqual(r.returncode, 0, r.stderr)
        m = manifest(self.out)
        self.assertEqual([e["status"] for e in m], ["ok" if n <= limit else "error" for n in sizes])
        for e, n in zip(m, sizes):
            if n > limit:
                self.assertIn("exceeds the limit of %d pixels" % limit, e["error"])
                self.assertTrue(e["error"].startswith(e["input"] + ": "))
        env = dict(os.environ, PIXELFLOW_MAX_IMAGE_PIXELS=str(limit))
        r = subprocess.run([CLI, "run", "--config", self.clip, "--out", os.path.join(self.tmp, "o2"), *SMALL,
                            "--input", self.folder, "--on-error", "fail"], capture_output=True, text=True,
                           env=env, timeout=120)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exceeds the limit", r.stderr)
        r = subprocess.run([CLI, "run", "--config", self.clip, "--out", os.path.join(self.tmp, "o3"), *SMALL,
                            "--input", self.folder, "--max-image-pixels", "0"], capture_output=True, text=True,
                           env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)

    def reference(self, inputs):
        """pixel_values of `inputs` through pixelflow preprocess, one row each."""
        ref = os.path.join(self.tmp, "ref")
        r = run("preprocess", "--config", self.clip, "--out", ref, *SMALL, "--quiet", *inputs)
        self.assertEqual(r.returncode, 0, r.stderr)
        return np.load(os.path.join(ref, "pixel_values.npy"))

    def summary(self, r):
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        return json.loads(lines[0])

    def test_npy_and_safetensors_shards_and_manifest(self):
        ref = self.reference(self.inputs)
        for fmt in ("npy", "safetensors"):
            out = os.path.join(self.tmp, fmt)
            r = self.run_cmd("--input", self.folder, "--batch-size", "3", "--format", fmt, "--threads", "2", out=out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")  # quiet when stderr is not a terminal
            s = self.summary(r)
            self.assertEqual([s[k] for k in ("inputs", "ok", "skipped", "batches", "out")], [7, 7, 0, 3, out])
            self.assertGreater(s["images_per_s"], 0)
            shards = ["shard-%06d" % b + ("" if fmt == "npy" else ".safetensors") for b in range(3)]
            self.assertEqual(manifest(out), [{"input": p, "status": "ok", "shard": shards[i // 3], "index": i % 3}
                                             for i, p in enumerate(self.inputs)])
            rows = []
            for b, shard in enumerate(shards):
                if fmt == "npy":
                    self.assertEqual(os.listdir(os.path.join(out, shard)), ["pixel_values.npy"])
                    pv = np.load(os.path.join(out, shard, "pixel_values.npy"))
                else:
                    tensors, header = read_safetensors(os.path.join(out, shard))
                    self.assertEqual(header["__metadata__"], {"format": "pt"})
                    self.assertEqual(list(tensors), ["pixel_values"])
                    pv = tensors["pixel_values"]
                self.assertEqual(pv.dtype, np.float32)
                self.assertEqual(pv.shape, (3 if b < 2 else 1, 3, 32, 32))
                rows.append(pv)
            np.testing.assert_array_equal(np.concatenate(rows), ref)

    def test_list_file_and_glob_inputs(self):
        lst = os.path.join(self.tmp, "lists", "inputs.txt")
        os.makedirs(os.path.dirname(lst))
        picked = [self.inputs[4], self.inputs[0], self.inputs[4]]
        with open(lst, "w") as f:
            f.write("# three inputs, one twice\n../images/%s\n\n%s\n../images/%s\n" % (
                os.path.basename(picked[0]), picked[1], os.path.basename(picked[2])))
        r = self.run_cmd("--input", lst, "--batch-size", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([m["input"] for m in manifest(self.out)],
                         [os.path.join(self.tmp, "lists", "../images", os.path.basename(picked[0])), picked[1],
                          os.path.join(self.tmp, "lists", "../images", os.path.basename(picked[2]))])
        got = np.concatenate([np.load(os.path.join(self.out, "shard-%06d" % b, "pixel_values.npy")) for b in (0, 1)])
        np.testing.assert_array_equal(got, self.reference(picked))
        out = os.path.join(self.tmp, "glob")
        r = self.run_cmd("--input", os.path.join(self.tmp, "**", "0[0-2]_*.*"), "--batch-size", "8", out=out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([m["input"] for m in manifest(out)], self.inputs[:3])
        r = self.run_cmd("--input", os.path.join(self.tmp, "nothing"), "--batch-size", "8", out=out)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "pixelflow: error: %s: no such folder or list file" % os.path.join(self.tmp, "nothing"))

    def with_bad_inputs(self):
        """The inputs with damaged files among them; returns (inputs, set of bad ones)."""
        with open(self.inputs[0], "rb") as f:
            fish = f.read()
        bad = {"03_truncated.jpg": fish[: len(fish) // 3], "05_empty.png": b"", "06_text.jpg": b"hello\n"}
        for name, data in bad.items():
            with open(os.path.join(self.folder, name), "wb") as f:
                f.write(data)
        inputs = sorted(self.inputs + [os.path.join(self.folder, n) for n in bad])
        return inputs, {os.path.join(self.folder, n) for n in bad}

    def test_on_error_fail_and_skip(self):
        inputs, bad = self.with_bad_inputs()
        first_bad = min(inputs.index(b) for b in bad)
        r = self.run_cmd("--input", self.folder, "--batch-size", "2", "--on-error", "fail")
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("pixelflow: %s: " % inputs[first_bad]), lines[0])
        self.assertEqual(r.stdout, "")
        # The batches before the failing one are committed, nothing after.
        done = first_bad // 2
        self.assertEqual(len(manifest(self.out)), 2 * done)
        self.assertEqual(sorted(f for f in os.listdir(self.out) if f.startswith("shard-")),
                         ["shard-%06d" % b for b in range(done)])

        out = os.path.join(self.tmp, "skip")
        r = self.run_cmd("--input", self.folder, "--batch-size", "2", "--on-error", "skip", out=out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), "pixelflow: 3 inputs skipped (see %s)" % os.path.join(out, "manifest.jsonl"))
        s = self.summary(r)
        self.assertEqual((s["inputs"], s["ok"], s["skipped"], s["batches"]), (10, 7, 3, 5))
        m = manifest(out)
        self.assertEqual([e["input"] for e in m], inputs)
        rows = {}
        for i, e in enumerate(m):
            if e["input"] in bad:
                self.assertEqual(set(e), {"input", "status", "error"})
                self.assertEqual(e["status"], "error")
                self.assertTrue(e["error"].startswith(e["input"] + ": "), e["error"])
            else:
                self.assertEqual(e["status"], "ok")
                self.assertEqual(e["shard"], "shard-%06d" % (i // 2))
                rows.setdefault(e["shard"], []).append(e["index"])
        for shard, idx in rows.items():
            self.assertEqual(idx, list(range(len(idx))))
            self.assertEqual(np.load(os.path.join(out, shard, "pixel_values.npy")).shape[0], len(idx))
        good = [p for p in inputs if p not in bad]
        got = np.concatenate([np.load(os.path.join(out, s, "pixel_values.npy")) for s in sorted(rows)])
        np.testing.assert_array_equal(got, self.reference(good))

    def test_resume(self):
        clean = os.path.join(self.tmp, "clean")
        r = self.run_cmd("--input", self.folder, "--batch-size", "2", out=clean)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_cmd("--input", self.folder, "--batch-size", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Simulate an interruption during the last batch: its shard and manifest lines are gone.
        interrupt_last_batch(self.out, "shard-000003", keep_lines=6)
        mtimes = {b: os.stat(os.path.join(self.out, "shard-%06d" % b, "pixel_values.npy")).st_mtime_ns for b in range(3)}
        r = self.run_cmd("--input", self.folder, "--batch-size", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = self.summary(r)
        self.assertEqual((s["resumed_batches"], s["batches"], s["ok"]), (3, 1, 1))
        for b in range(3):
            self.assertEqual(os.stat(os.path.join(self.out, "shard-%06d" % b, "pixel_values.npy")).st_mtime_ns, mtimes[b])
        self.assertEqual(read(os.path.join(self.out, "manifest.jsonl")), read(os.path.join(clean, "manifest.jsonl")))
        for b in range(4):
            name = os.path.join("shard-%06d" % b, "pixel_values.npy")
            with open(os.path.join(self.out, name), "rb") as f1, open(os.path.join(clean, name), "rb") as f2:
                self.assertEqual(f1.read(), f2.read(), name)
        # Complete: nothing to do. Other settings on the same folder: refused.
        r = self.run_cmd("--input", self.folder, "--batch-size", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.summary(r)["batches"], 0)
        r = self.run_cmd("--input", self.folder, "--batch-size", "3")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("batch_size", r.stderr)
        r = self.run_cmd("--input", self.folder, "--batch-size", "3", "--overwrite", "--sync")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(f for f in os.listdir(self.out) if f.startswith("shard-")),
                         ["shard-%06d" % b for b in range(3)])
        self.assertEqual([(m["shard"], m["index"]) for m in manifest(self.out)],
                         [("shard-%06d" % (i // 3), i % 3) for i in range(7)])

    def test_dtype_float16_and_bfloat16(self):
        # --dtype: each float32 array as NumPy's astype(np.float16) / torch's .to(torch.bfloat16)
        # of the float32 run's, byte for byte (npy files as np.save writes them); the manifest as
        # the float32 run's; the dtype in run.json, so that resuming with another is refused.
        import io
        f32 = os.path.join(self.tmp, "f32")
        r = self.run_cmd("--input", self.folder, "--batch-size", "3", out=f32)
        self.assertEqual(r.returncode, 0, r.stderr)
        ref = [np.load(os.path.join(f32, "shard-%06d" % b, "pixel_values.npy")) for b in range(3)]
        f16 = os.path.join(self.tmp, "f16")
        r = self.run_cmd("--input", self.folder, "--batch-size", "3", "--dtype", "float16", out=f16)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(manifest(f16), manifest(f32))
        self.assertEqual(json.loads(read(os.path.join(f16, "run.json")))["dtype"], "float16")
        self.assertNotIn("dtype", json.loads(read(os.path.join(f32, "run.json"))))
        for b in range(3):
            want = io.BytesIO()
            np.save(want, ref[b].astype(np.float16))
            self.assertEqual(read_bytes(os.path.join(f16, "shard-%06d" % b, "pixel_values.npy")), want.getvalue())
        # shards.jsonl records the float16 files.
        for line in read(os.path.join(f16, "shards.jsonl")).splitlines():
            rec = json.loads(line)
            data = read_bytes(os.path.join(f16, rec["shard"], "pixel_values.npy"))
            import hashlib
            self.assertEqual(rec["files"]["pixel_values.npy"], {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        # Resuming with another dtype (or none) is refused; the same one finds the run complete.
        r = self.run_cmd("--input", self.folder, "--batch-size", "3", out=f16)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn('dtype "float16" there, absent now', r.stderr)
        r = self.run_cmd("--input", self.folder, "--batch-size", "3", "--dtype", "float16", out=f16)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((self.summary(r)["resumed_batches"], self.summary(r)["batches"]), (3, 0))

        # bfloat16 in safetensors: torch's rounding of the float32 run's values.
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed")
        bf16 = os.path.join(self.tmp, "bf16")
        r = self.run_cmd("--input", self.folder, "--batch-size", "3", "--dtype", "bfloat16", "--format", "safetensors",
                         out=bf16)
        self.assertEqual(r.returncode, 0, r.stderr)
        r2 = self.run_cmd("--input", self.folder, "--batch-size", "3", "--dtype", "float16", "--format", "safetensors",
                          out=os.path.join(self.tmp, "st16"))
        self.assertEqual(r2.returncode, 0, r2.stderr)
        for b in range(3):
            tensors, header = read_safetensors(os.path.join(bf16, "shard-%06d.safetensors" % b))
            self.assertEqual(header["pixel_values"]["dtype"], "BF16")
            self.assertEqual(header["pixel_values"]["shape"], list(ref[b].shape))
            want = torch.from_numpy(ref[b]).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
            self.assertEqual(tensors["pixel_values"].tobytes(), want.tobytes())
            tensors, header = read_safetensors(os.path.join(self.tmp, "st16", "shard-%06d.safetensors" % b))
            self.assertEqual(header["pixel_values"]["dtype"], "F16")
            self.assertEqual(tensors["pixel_values"].tobytes(), ref[b].astype(np.float16).tobytes())
            try:
                from safetensors.torch import load_file
            except ImportError:
                continue
            loaded = load_file(os.path.join(bf16, "shard-%06d.safetensors" % b))["pixel_values"]
            self.assertEqual(loaded.dtype, torch.bfloat16)
            self.assertTrue(torch.equal(loaded, torch.from_numpy(ref[b]).to(torch.bfloat16)))

    def test_dtype_usage_errors(self):
        # npy has no bfloat16: refused before anything is written, pointing at safetensors; an
        # unknown dtype is a usage error too.
        r = self.run_cmd("--input", self.folder, "--dtype", "bfloat16")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("safetensors", r.stderr)
        self.assertIn("bfloat16", r.stderr)
        self.assertFalse(os.path.exists(self.out))
        r = self.run_cmd("--input", self.folder, "--dtype", "half")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--dtype expects float32, float16 or bfloat16, got 'half'", r.stderr)
        self.assertFalse(os.path.exists(self.out))
        # A PIPELINE.yaml sets it under output:, and the flag overrides it.
        yaml = os.path.join(self.tmp, "run.yaml")
        with open(yaml, "w") as f:
            f.write("config: %s\nkwargs:\n  size: {shortest_edge: 32}\n  crop_size: {height: 32, width: 32}\n"
                    "input: {folder: images}\nbatch_size: 4\noutput: {dir: yaml_out, format: safetensors, "
                    "dtype: bfloat16}\n" % self.clip)
        r = run("run", yaml)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "yaml_out")
        self.assertEqual(json.loads(read(os.path.join(out, "run.json")))["dtype"], "bfloat16")
        self.assertEqual(read_safetensors(os.path.join(out, "shard-000000.safetensors"))[1]["pixel_values"]["dtype"], "BF16")
        r = run("run", yaml, "--format", "npy", "--out", self.out)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("safetensors", r.stderr)
        r = run("run", yaml, "--format", "npy", "--dtype", "float16", "--out", self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(os.path.join(self.out, "shard-000000", "pixel_values.npy")).dtype, np.float16)
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write(read(yaml).replace("dtype: bfloat16", "dtype: half"))
        r = run("run", bad, "--out", os.path.join(self.tmp, "bad_out"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("output.dtype", r.stderr)

    def test_resume_after_kill(self):
        # A run killed (SIGKILL) while it writes, then resumed: the same bytes as a clean run.
        lst = os.path.join(self.tmp, "inputs.txt")
        with open(lst, "w") as f:
            f.write("\n".join(self.inputs[i % 5] for i in range(1500)) + "\n")
        clean = os.path.join(self.tmp, "clean")
        r = self.run_cmd("--input", lst, "--batch-size", "25", "--no-sync", out=clean)
        self.assertEqual(r.returncode, 0, r.stderr)
        p = subprocess.Popen([CLI, "run", "--config", self.clip, "--out", self.out, *SMALL, "--input", lst,
                              "--batch-size", "25", "--threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mf = os.path.join(self.out, "manifest.jsonl")
        while p.poll() is None and not (os.path.exists(mf) and os.path.getsize(mf) > 0):
            time.sleep(0.002)
        p.kill()
        p.wait()
        r = self.run_cmd("--input", lst, "--batch-size", "25", "--no-sync")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = self.summary(r)
        self.assertLess(s["resumed_batches"], 60)  # it was killed mid-run
        self.assertEqual(s["resumed_batches"] + s["batches"], 60)
        self.assertEqual(read_bytes(mf), read_bytes(os.path.join(clean, "manifest.jsonl")))
        names = sorted(f for f in os.listdir(clean) if f.startswith("shard-"))
        self.assertEqual(len(names), 60)
        self.assertEqual(sorted(f for f in os.listdir(self.out) if f not in ("run.json", "manifest.jsonl", "shards.jsonl")),
                         names)
        for name in names:
            f = os.path.join(name, "pixel_values.npy")
            self.assertEqual(read_bytes(os.path.join(self.out, f)), read_bytes(os.path.join(clean, f)), name)

    def test_yaml_pipeline(self):
        ref_out = os.path.join(self.tmp, "ref_run")
        r = self.run_cmd("--input", self.folder, "--batch-size", "3", out=ref_out)
        self.assertEqual(r.returncode, 0, r.stderr)
        yaml = os.path.join(self.tmp, "run.yaml")
        with open(yaml, "w") as f:
            f.write("config: %s\nkwargs:\n  size: {shortest_edge: 32}\n  crop_size: {height: 32, width: 32}\n"
                    "input: {folder: images}\nbatch_size: 3\non_error: skip\noutput: {dir: yaml_out}\n" % self.clip)
        r = run("run", yaml)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "yaml_out")
        self.assertEqual(self.summary(r)["out"], out)
        self.assertEqual(manifest(out), manifest(ref_out))
        for b in range(3):
            name = os.path.join("shard-%06d" % b, "pixel_values.npy")
            self.assertEqual(read_bytes(os.path.join(out, name)), read_bytes(os.path.join(ref_out, name)))
        # Flags override the file's settings.
        other = os.path.join(self.tmp, "other")
        r = run("run", yaml, "--batch-size", "4", "--out", other, "--format", "safetensors")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(f for f in os.listdir(other) if f.startswith("shard-")),
                         ["shard-000000.safetensors", "shard-000001.safetensors"])
        with open(yaml, "a") as f:
            f.write("batch_size: 0\n")
        r = run("run", yaml)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn(yaml, r.stderr)
        r = run("run", yaml, "--config", self.clip)
        self.assertEqual(r.returncode, 2)

    def test_unordered_rows(self):
        # ordered: false: a shard's rows may come in completion order; the manifest's index says
        # which row holds each input, and each row is that input's bytes.
        ref = self.reference(self.inputs)
        yaml = os.path.join(self.tmp, "unordered.yaml")
        with open(yaml, "w") as f:
            f.write("config: %s\nkwargs:\n  size: {shortest_edge: 32}\n  crop_size: {height: 32, width: 32}\n"
                    "input: {folder: images}\nbatch_size: 4\nthreads: 2\nordered: false\n"
                    "output: {dir: unordered_out}\n" % self.clip)
        r = run("check-pipeline", yaml)
        self.assertEqual(json.loads(r.stdout)["ordered"], False)
        r = run("run", yaml)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "unordered_out")
        m = manifest(out)
        self.assertEqual([e["input"] for e in m], self.inputs)
        rows = {}
        for i, e in enumerate(m):
            self.assertEqual(e["shard"], "shard-%06d" % (i // 4))
            rows.setdefault(e["shard"], []).append(e["index"])
            shard = np.load(os.path.join(out, e["shard"], "pixel_values.npy"))
            np.testing.assert_array_equal(shard[e["index"]], ref[i])
        for shard, idx in rows.items():
            self.assertEqual(sorted(idx), list(range(len(idx))), shard)

    def logits_folder(self):
        """Random logits files with many ties: five (C, h, w) of two sizes, one (1, C, h, w), one float64."""
        rng = np.random.default_rng(5)
        folder = os.path.join(self.tmp, "logits")
        os.makedirs(folder)
        files = []
        for i in range(7):
            h, w = (12, 16) if i % 2 == 0 else (9, 21)
            a = (rng.integers(-2, 3, size=(6, h, w)) * 0.5).astype(np.float64 if i == 6 else np.float32)
            a[:, 0, :] = 1.0  # a whole row of exact ties across classes
            path = os.path.join(folder, "%02d.npy" % i)
            np.save(path, a[None] if i == 3 else a)
            files.append(path)
        with open(os.path.join(folder, "notes.txt"), "w") as f:
            f.write("not an input\n")
        return folder, files

    def postprocess_reference(self, path, target_size=None):
        """The map `pixelflow postprocess semantic-segmentation` gives for one logits file."""
        a = np.load(path)
        one = os.path.join(self.tmp, "one.npy")
        np.save(one, a if a.ndim == 4 else a[None])
        ref = os.path.join(self.tmp, "pp_ref")
        shutil.rmtree(ref, ignore_errors=True)
        seg = os.path.join(SRC, "pipelines/models/nvidia__segformer-b0-finetuned-ade-512-512")
        extra = ["--target-size", "%d,%d" % target_size] if target_size else []
        r = run("postprocess", "semantic-segmentation", "--config", seg, "--logits", one, "--out", ref, "--quiet", *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return np.load(os.path.join(ref, "semantic_segmentation_0.npy"))

    def post_yaml(self, target_size=None, extra=""):
        yaml = os.path.join(self.tmp, "post%s.yaml" % ("" if target_size is None else "_%d_%d" % target_size))
        op = "post_process_semantic_segmentation"
        if target_size:
            op += ": {target_size: [%d, %d]}" % target_size
        with open(yaml, "w") as f:
            f.write("post_process:\n  - %s\ninput: {folder: logits}\nbatch_size: 3\n%s" % (op, extra))
        return yaml

    def shard_maps(self, out, shard, fmt):
        """{name: array} of one shard."""
        if fmt == "npy":
            d = os.path.join(out, shard)
            return {f[:-4]: np.load(os.path.join(d, f)) for f in os.listdir(d)}
        return read_safetensors(os.path.join(out, shard))[0]

    def test_post_process_run(self):
        folder, files = self.logits_folder()
        size = (37, 29)
        refs = [self.postprocess_reference(p, size) for p in files]
        yaml = self.post_yaml(size)
        for fmt in ("npy", "safetensors"):
            out = os.path.join(self.tmp, "post_" + fmt)
            r = run("run", yaml, "--out", out, "--format", fmt, "--threads", "2")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")
            s = self.summary(r)
            self.assertEqual([s[k] for k in ("inputs", "ok", "skipped", "resumed_batches", "batches", "out")],
                             [7, 7, 0, 0, 3, out])
            shards = ["shard-%06d" % b + ("" if fmt == "npy" else ".safetensors") for b in range(3)]
            self.assertEqual(manifest(out), [{"input": p, "status": "ok", "shard": shards[i // 3], "index": i % 3}
                                             for i, p in enumerate(files)])
            for b, shard in enumerate(shards):
                maps = self.shard_maps(out, shard, fmt)
                self.assertEqual(list(maps), ["semantic_segmentation"])
                m = maps["semantic_segmentation"]
                self.assertEqual((m.dtype, m.shape), (np.int64, (3 if b < 2 else 1, 37, 29)))
                for row in range(m.shape[0]):
                    np.testing.assert_array_equal(m[row], refs[b * 3 + row])
        # --config PIPELINE.yaml is the same run.
        out = os.path.join(self.tmp, "post_config")
        r = run("run", "--config", yaml, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(os.path.join(out, "manifest.jsonl")), read(os.path.join(self.tmp, "post_npy", "manifest.jsonl")))
        for b in range(3):
            name = os.path.join("shard-%06d" % b, "semantic_segmentation.npy")
            self.assertEqual(read_bytes(os.path.join(out, name)), read_bytes(os.path.join(self.tmp, "post_npy", name)))

        # No target size: each map at its logits' size; batches of mixed sizes are lists.
        refs = [self.postprocess_reference(p) for p in files]
        for fmt in ("npy", "safetensors"):
            out = os.path.join(self.tmp, "native_" + fmt)
            r = run("run", self.post_yaml(), "--out", out, "--format", fmt, "--batch-size", "2")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(self.summary(r)["batches"], 4)
            for b in range(4):
                shard = "shard-%06d" % b + ("" if fmt == "npy" else ".safetensors")
                maps = self.shard_maps(out, shard, fmt)
                rows = files[2 * b: 2 * b + 2]
                if len(rows) == 1:
                    self.assertEqual(list(maps), ["semantic_segmentation"])
                    got = [maps["semantic_segmentation"][0]]
                else:  # sizes (12, 16) and (9, 21) alternate: never stackable
                    self.assertEqual(sorted(maps), ["semantic_segmentation.0", "semantic_segmentation.1"])
                    got = [maps["semantic_segmentation.%d" % i] for i in range(2)]
                for i, m in enumerate(got):
                    self.assertEqual(m.dtype, np.int64)
                    np.testing.assert_array_equal(m, refs[2 * b + i])

    def test_post_process_run_errors_and_resume(self):
        folder, files = self.logits_folder()
        size = (20, 20)
        yaml = self.post_yaml(size)
        clean = os.path.join(self.tmp, "clean")
        r = run("run", yaml, "--out", clean)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Resume after an interrupted last batch: the same bytes as the clean run.
        r = run("run", yaml, "--out", self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        interrupt_last_batch(self.out, "shard-000002", keep_lines=6)
        r = run("run", yaml, "--out", self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        s = self.summary(r)
        self.assertEqual((s["resumed_batches"], s["batches"], s["ok"]), (2, 1, 1))
        self.assertEqual(read(os.path.join(self.out, "manifest.jsonl")), read(os.path.join(clean, "manifest.jsonl")))
        for b in range(3):
            name = os.path.join("shard-%06d" % b, "semantic_segmentation.npy")
            self.assertEqual(read_bytes(os.path.join(self.out, name)), read_bytes(os.path.join(clean, name)), name)
        # Another target size on the same folder is another run: refused.
        r = run("run", self.post_yaml((21, 20)), "--out", self.out)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

        # Damaged inputs: a corrupt .npy and a file holding two images' logits.
        corrupt = os.path.join(folder, "01.npy")
        with open(corrupt, "wb") as f:
            f.write(b"\x93NUMPY\x01\x00garbage")
        two = os.path.join(folder, "04.npy")
        np.save(two, np.zeros((2, 6, 12, 16), np.float32))
        refs = [self.postprocess_reference(p, size) for p in files if p not in (corrupt, two)]
        out = os.path.join(self.tmp, "fail")
        r = run("run", yaml, "--out", out, "--on-error", "fail")
        self.assertEqual(r.returncode, 1)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("pixelflow: %s: " % corrupt), lines[0])
        self.assertEqual(r.stdout, "")
        mf = os.path.join(out, "manifest.jsonl")
        self.assertFalse(os.path.exists(mf) and os.path.getsize(mf) > 0)
        self.assertFalse([f for f in os.listdir(out) if f.startswith("shard-")])

        out = os.path.join(self.tmp, "skip")
        r = run("run", yaml, "--out", out, "--on-error", "skip", "--format", "safetensors")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), "pixelflow: 2 inputs skipped (see %s)" % os.path.join(out, "manifest.jsonl"))
        s = self.summary(r)
        self.assertEqual((s["inputs"], s["ok"], s["skipped"], s["batches"]), (7, 5, 2, 3))
        m = manifest(out)
        self.assertEqual([e["input"] for e in m], files)
        self.assertEqual(m[1]["status"], "error")
        self.assertTrue(m[1]["error"].startswith(corrupt + ": "), m[1]["error"])
        self.assertEqual(m[4]["status"], "error")
        self.assertTrue(m[4]["error"].startswith(two + ": ") and "2 images" in m[4]["error"], m[4]["error"])
        self.assertEqual([(e["shard"], e["index"]) for e in m if e["status"] == "ok"],
                         [("shard-000000.safetensors", 0), ("shard-000000.safetensors", 1),
                          ("shard-000001.safetensors", 0), ("shard-000001.safetensors", 1),
                          ("shard-000002.safetensors", 0)])
        got = np.concatenate([self.shard_maps(out, "shard-%06d.safetensors" % b, "safetensors")["semantic_segmentation"]
                              for b in range(3)])
        np.testing.assert_array_equal(got, np.stack(refs))

        # Image ops and post_process in one run: refused, naming the file.
        both = os.path.join(self.tmp, "both.yaml")
        with open(both, "w") as f:
            f.write("ops: [flip_channel_order]\npost_process: [post_process_semantic_segmentation]\n"
                    "input: {folder: logits}\n")
        r = run("run", both, "--out", os.path.join(self.tmp, "both"))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn(both, r.stderr)
        self.assertIn("post_process", r.stderr)
        # A folder without .npy files.
        empty = os.path.join(self.tmp, "nologits.yaml")
        with open(empty, "w") as f:
            f.write("post_process: [post_process_semantic_segmentation]\ninput: {folder: images}\n")
        r = run("run", empty, "--out", os.path.join(self.tmp, "none"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("no .npy files", r.stderr)

    def test_progress_line_on_a_terminal(self):
        import pty
        master, slave = pty.openpty()
        p = subprocess.Popen([CLI, "run", "--config", self.clip, "--out", self.out, *SMALL, "--input", self.folder,
                              "--batch-size", "2"], stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
        p.wait(timeout=60)
        os.close(master)
        self.assertEqual(p.returncode, 0, err)
        text = err.decode()
        self.assertIn("\r7/7 inputs", text)
        self.assertIn("images/s, ETA", text)
        self.assertIn("\r2/7 inputs", text)

    def test_usage(self):
        r = run("run", "--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--input", "--out", "--batch-size", "--on-error", "--format", "manifest.jsonl"):
            self.assertIn(opt, r.stdout)
        r = self.run_cmd("--input", self.folder, "--on-error", "ignore")
        self.assertEqual(r.returncode, 2)
        r = run("run", "--config", self.clip, "--input", self.folder)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--out", r.stderr)

    def test_streaming_thousands_of_inputs_with_damaged_ones(self):
        # 2000 list entries cycling through small real images, 1% of them damaged files.
        small = [self.inputs[i] for i in (0, 1, 2, 4, 6)]
        lst = os.path.join(self.tmp, "inputs.txt")
        entries, bad = [], set()
        for i in range(2000):
            if i % 100 == 37:
                path = os.path.join(self.tmp, "bad_%04d.jpg" % i)
                with open(path, "wb") as f:
                    f.write(b"\xff\xd8\xff\xe0" + bytes(i % 50))
                bad.add(i)
                entries.append(path)
            else:
                entries.append(small[(i * 7) % len(small)])
        with open(lst, "w") as f:
            f.write("\n".join(entries) + "\n")
        ref = self.reference(small)
        r = self.run_cmd("--input", lst, "--batch-size", "64", "--on-error", "skip", "--threads", "2", "--no-sync")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), "pixelflow: 20 inputs skipped (see %s)" % os.path.join(self.out, "manifest.jsonl"))
        s = self.summary(r)
        self.assertEqual((s["inputs"], s["ok"], s["skipped"], s["batches"]), (2000, 1980, 20, 32))
        m = manifest(self.out)
        self.assertEqual(len(m), 2000)
        shards = {}
        row = 0
        for i, e in enumerate(m):
            self.assertEqual(e["input"], entries[i])  # input order, each exactly once
            if i % 64 == 0:
                row = 0
            if i in bad:
                self.assertEqual(e["status"], "error", e)
                self.assertTrue(e["error"].startswith(entries[i] + ": "), e)
                continue
            self.assertEqual(e["status"], "ok", e)
            self.assertEqual((e["shard"], e["index"]), ("shard-%06d" % (i // 64), row))
            row += 1
            if e["shard"] not in shards:
                shards[e["shard"]] = np.load(os.path.join(self.out, e["shard"], "pixel_values.npy"))
            np.testing.assert_array_equal(shards[e["shard"]][e["index"]], ref[small.index(entries[i])])
        self.assertEqual(len(shards), 32)
        self.assertEqual(sum(v.shape[0] for v in shards.values()), 1980)


if __name__ == "__main__":
    CLI, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    # Further arguments select test classes or methods (e.g. RunTest), as unittest names them.
    unittest.main(argv=sys.argv[:1] + sys.argv[3:], verbosity=1)
