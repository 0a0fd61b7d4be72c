"""Shared by the CLI test files (imported from their own folder, which Python puts first on
sys.path when a file runs as a script) and tests/tools/check_dataset_writer.py."""

import json, os, shutil, tempfile


def tree(root):
    """Every file and folder under root: relative path (bytes) -> contents (folders -> None)."""
    out = {}
    root = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for f in filenames:
            with open(os.path.join(dirpath, f), "rb") as fh:
                out[os.path.relpath(os.path.join(dirpath, f), root)] = fh.read()
    return out


def write_edited_config(folder, path, **changes):
    """Writes to `path` the preprocessor_config.json of `folder` with `changes` set; returns path."""
    with open(os.path.join(folder, "preprocessor_config.json")) as f:
        cfg = json.load(f)
    cfg.update(changes)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


class TempFolder:
    """A unittest.TestCase mixin: self.tmp, a fresh folder (named after `tmp_prefix`) removed after
    each test, and self.out inside it (not created)."""

    tmp_prefix = "pixelflow_"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=self.tmp_prefix)
        self.out = os.path.join(self.tmp, "out")

    def tearDown(self):
        shutil.rmtree(self.tmp)


class OneLineErrorAssertions:
    """A unittest.TestCase mixin."""

    def assert_failed_without_outputs(self, r, *needles, rc=1):
        """The command exited with `rc`, printed one line holding every needle, and wrote nothing
        into self.out."""
        self.assertEqual(r.returncode, rc, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertFalse(os.path.exists(self.out) and os.listdir(self.out), "outputs written on failure")

    def assert_one_line_error(self, r, *needles, rc=1):
        """The command exited with `rc` and printed one line, `pixelflow: ...`, holding every
        needle, and no oneTBB warning; returns the line."""
        self.assertEqual(r.returncode, rc, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("pixelflow: "), lines[0])
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertNotIn("TBB Warning", r.stderr)
        return lines[0]
