import os

import numpy as np
import pytest
from PIL import Image

from pets.data.cache import build_cache

os.environ["PETS_PROGRESS_SECONDS"] = "off"  # no progress lines in the tests' output, theirs or their subprocesses'


def colours(root, n, is_valid):
    """A tiny two-class cache at `root` (reddish vs bluish noise, 16 px): learnable in a few steps on the CPU."""
    rng = np.random.default_rng(0)
    rows = []
    (root / "images").mkdir(exist_ok=True)
    for i in range(n):
        label = "red" if i % 2 else "blue"
        pixels = rng.integers(0, 120, (20, 20, 3), dtype=np.uint8)
        pixels[..., 0 if label == "red" else 2] += 120
        name = f"images/{label}_{i}.png"
        Image.fromarray(pixels).save(root / name)
        rows.append({"path": name, "label": label, "split": "valid" if is_valid(i) else "train"})
    build_cache(rows, ["blue", "red"], root, root, resolution=16, resize="squish", max_bad_frac=0, workers=1)
    return root


@pytest.fixture(scope="session")
def colour_cache(tmp_path_factory):
    """48 images: 36 to train, 12 to validate (all of them red)."""
    return colours(tmp_path_factory.mktemp("colours"), 48, lambda i: i % 4 == 3)


@pytest.fixture(scope="session")
def balanced_colour_cache(tmp_path_factory):
    """48 images: 32 to train, 16 to validate, half of each colour."""
    return colours(tmp_path_factory.mktemp("balanced"), 48, lambda i: i % 6 >= 4)
