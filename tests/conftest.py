import numpy as np
import pytest
from PIL import Image

from pets.cache import build_cache


@pytest.fixture(scope="session")
def colour_cache(tmp_path_factory):
    """A tiny two-class cache (reddish vs bluish noise, 16 px): learnable in a few steps on the CPU."""
    root = tmp_path_factory.mktemp("colours")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(48):
        label = "red" if i % 2 else "blue"
        pixels = rng.integers(0, 120, (20, 20, 3), dtype=np.uint8)
        pixels[..., 0 if label == "red" else 2] += 120
        name = f"images/{label}_{i}.png"
        (root / "images").mkdir(exist_ok=True)
        Image.fromarray(pixels).save(root / name)
        rows.append({"path": name, "label": label, "split": "valid" if i % 4 == 3 else "train"})
    build_cache(rows, ["blue", "red"], root, root, resolution=16, resize="squish", max_bad_frac=0, workers=1)
    return root
