"""The main job through the Python package: transformers' CLIP processor, exact, on the bundled
sample images (paths and PIL images), as ./build.sh demo runs it.

    python examples/python/demo.py IMAGE...
"""
import sys
import time

import pixelflow

proc = pixelflow.AutoImageProcessor.from_pretrained("openai/clip-vit-base-patch32")
paths = sys.argv[1:]
t = time.perf_counter()
batch = proc(paths, return_tensors="np")
ms = (time.perf_counter() - t) * 1e3
x = batch["pixel_values"]
print(f"{type(proc).__name__}: {len(paths)} images -> pixel_values {x.dtype} {tuple(x.shape)} in {ms:.1f} ms")
try:
    from PIL import Image
    import numpy as np
    same = np.array_equal(proc([Image.open(p) for p in paths], return_tensors="np")["pixel_values"], x)
    print(f"from PIL images: {'the same bytes' if same else 'DIFFERENT bytes'}")
except ImportError:
    pass
