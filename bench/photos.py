"""Pets-sized JPEGs (about 500x375) cut from scikit-learn's two sample photographs, for the benchmarks."""

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images


def make_photos(folder, count=2000, seed=0):
    """Write `count` JPEGs named like Pets (`<class>_<n>.jpg`, 37 classes) into `folder`; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    photos = load_sample_images().images  # two 427x640 RGB photographs
    rng = np.random.default_rng(seed)
    paths = []
    for n in range(count):
        photo = photos[n % len(photos)]
        width, height = int(rng.integers(440, 520)), int(rng.integers(330, 400))
        top, left = int(rng.integers(0, photo.shape[0] - height)), int(rng.integers(0, photo.shape[1] - width))
        crop = photo[top : top + height, left : left + width]
        if n % 2:
            crop = crop[:, ::-1]
        path = folder / f"class{n % 37}_{n}.jpg"
        Image.fromarray(np.ascontiguousarray(crop)).save(path, quality=90)
        paths.append(path)
    return paths
