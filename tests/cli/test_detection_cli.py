#!/usr/bin/python3
"""`pixelflow postprocess object-detection`: outputs equal to transformers' goldens
(tests/data/post_process/object_detection), the class read from the config (image_processor_type,
"...Fast" names, feature_extractor_type), one-line errors naming the file or key, exit codes, and no
outputs on failure.

Usage: test_detection_cli.py <path to pixelflow> <source dir>
"""
import json, os, shutil, subprocess, sys, tempfile, unittest
import numpy as np

from cli_util import OneLineErrorAssertions

CLI = SRC = None


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


class DetectionCliTest(OneLineErrorAssertions, unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pixelflow_det_")
        self.out = os.path.join(self.tmp, "out")
        self.data = os.path.join(SRC, "tests/data/post_process/object_detection")
        with open(os.path.join(self.data, "cases.json")) as f:
            self.cases = {c["name"]: c for c in json.load(f)["cases"]}

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def config(self, **keys):
        path = os.path.join(self.tmp, "preprocessor_config.json")
        with open(path, "w") as f:
            json.dump(keys, f)
        return path

    def run_case(self, name, config, *extra):
        c = self.cases[name]
        args = ["postprocess", "object-detection", "--config", config,
                "--logits", os.path.join(self.data, name + "_logits.npy"),
                "--boxes", os.path.join(self.data, name + "_boxes.npy"),
                "--threshold", repr(c["threshold"]), "--out", self.out, *extra]
        if "target_sizes" in c:
            args += ["--target-sizes", ";".join(f"{h},{w}" for h, w in c["target_sizes"])]
        if "top_k" in c:
            args += ["--top-k", str(c["top_k"])]
        if "use_focal_loss" in c:
            args += ["--use-focal-loss", "true" if c["use_focal_loss"] else "false"]
        return run(*args)

    def test_goldens(self):
        for name, c in self.cases.items():
            with self.subTest(name):
                config = self.config(image_processor_type=c["class"] + "Fast")
                r = self.run_case(name, config)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(c["class"], r.stdout)
                for i in range(c["batch"]):
                    for key, want_key in (("scores", "scores"), ("labels", "labels"), ("boxes", "out_boxes")):
                        got = np.load(os.path.join(self.out, f"{key}_{i}.npy"))
                        want = np.load(os.path.join(self.data, f"{name}_{i}_{want_key}.npy"))
                        self.assertEqual((got.dtype, got.shape), (want.dtype, want.shape), (name, key, i))
                        if key == "labels":
                            self.assertTrue((got == want).all())
                        else:
                            self.assertTrue(np.allclose(got, want, rtol=1e-6, atol=1e-6), (name, key, i))
                shutil.rmtree(self.out)

    def test_feature_extractor_type_and_quiet(self):
        config = self.config(feature_extractor_type="DetrFeatureExtractor")
        r = self.run_case("detr_sizes", config, "--quiet")
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.out, "boxes_1.npy")))

    def test_errors(self):
        detr = self.config(image_processor_type="DetrImageProcessor")
        logits = os.path.join(self.data, "detr_sizes_logits.npy")
        boxes = os.path.join(self.data, "detr_sizes_boxes.npy")
        base = ["postprocess", "object-detection", "--config", detr, "--logits", logits, "--boxes", boxes,
                "--out", self.out]
        # Count of target sizes: transformers' message, naming the logits file.
        self.assert_failed_without_outputs(run(*base, "--target-sizes", "10,20"), "as many target sizes", logits)
        # Arguments the class's method does not take.
        self.assert_failed_without_outputs(run(*base, "--top-k", "5"), "top_k")
        self.assert_failed_without_outputs(run(*base, "--use-focal-loss", "false"), "use_focal_loss")
        # Wrong dtype / shape / mismatch, naming the file.
        bad = os.path.join(self.tmp, "bad.npy")
        np.save(bad, np.zeros((2, 20, 6), np.int64))
        self.assert_failed_without_outputs(run(*base[:5], bad, *base[6:]), bad, "float32")
        np.save(bad, np.zeros((2, 20, 5), np.float32))
        self.assert_failed_without_outputs(run(*base[:7], bad, *base[8:]), bad, "(batch_size, num_queries, 4)")
        np.save(bad, np.zeros((3, 20, 4), np.float32))
        self.assert_failed_without_outputs(run(*base[:7], bad, *base[8:]), bad, "do not match")
        np.save(bad, np.zeros((20, 6), np.float32))
        self.assert_failed_without_outputs(run(*base[:5], bad, *base[6:]), bad, "num_classes")
        # A class without the method.
        clip = self.config(image_processor_type="CLIPImageProcessor")
        self.assert_failed_without_outputs(run("postprocess", "object-detection", "--config", clip, "--logits", logits,
                                       "--boxes", boxes, "--out", self.out), "CLIPImageProcessor", "DetrImageProcessor")
        # Usage errors: exit 2.
        for extra in (["--target-sizes", "10x20"], ["--threshold", "high"], ["--top-k", "-1"],
                      ["--use-focal-loss", "maybe"], ["--target-size", "1,2"]):
            r = run(*base, *extra)
            self.assertEqual(r.returncode, 2, (extra, r.stderr))
        r = run("postprocess", "object-detection", "--config", detr, "--logits", logits, "--out", self.out)
        self.assert_failed_without_outputs(r, "--boxes", rc=2)

    def test_help(self):
        r = run("postprocess", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("object-detection", r.stdout)
        self.assertIn("--use-focal-loss", r.stdout)
        self.assertIn("object-detection", run("--help").stdout)


if __name__ == "__main__":
    CLI, SRC = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=1)
