"""Shared by the CLI test files (imported from their own folder, which Python puts first on
sys.path when a file runs as a script)."""


class OneLineErrorAssertions:
    """A unittest.TestCase mixin."""

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
