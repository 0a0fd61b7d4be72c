#!/usr/bin/env python3
"""The layers of pixelflow's C++ tree and which ones each may include (dependencies point down):

    base  <-  graph  <-  ops  <-  registry  <-  pipelines  <-  cli, python/src

base/ holds errors, text and file helpers; graph/ is the engine (Tensor, BufferPool, the Op
interface, the flow graph, BatchFeature) and knows no op; ops/ the transforms (an op may use
another op's header); registry/ the op registry, the fusion rules list and the builder;
pipelines/ the processor declarations and front ends. halide_generators/ are build-time tools
and include nothing of the tree. Usage: check_layers.py <source dir>; exit 1 listing each
include that points up or sideways.
"""
import pathlib
import re
import sys

ALLOWED = {
    "base": {"base"},
    "graph": {"base", "graph"},
    "ops": {"base", "graph", "ops"},
    "registry": {"base", "graph", "ops", "registry"},
    "pipelines": {"base", "graph", "ops", "registry", "pipelines"},
    "cli": {"base", "graph", "ops", "registry", "pipelines", "cli"},
    "halide_generators": {"halide_generators"},
}
LAYERS = set(ALLOWED) | {"python", "tests", "bench", "examples"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]*"', re.M)


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    bad = []
    checked = 0
    for layer, allowed in ALLOWED.items():
        for f in sorted((root / layer).rglob("*")):
            if f.suffix not in {".h", ".cpp", ".def"} or "models" in f.parts:
                continue
            checked += 1
            for m in INCLUDE.finditer(f.read_text(errors="replace")):
                target = m.group(1)
                if target in LAYERS and target not in allowed:
                    line = f.read_text(errors="replace")[: m.start()].count("\n") + 1
                    bad.append(f"{f.relative_to(root)}:{line}: {layer}/ may not include {target}/ ({m.group(0).strip()})")
    if checked == 0:
        print(f"check_layers: no sources under {root}", file=sys.stderr)
        return 1
    for b in bad:
        print(b)
    print(f"check_layers: {checked} files, {len(bad)} includes against the layering")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
