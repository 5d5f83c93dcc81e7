"""The built-in real-photo dataset: crops of the photographs that ship with scikit-image, scikit-learn and
matplotlib, one class per photograph, laid out like Pets (`images/<class>_<n>.jpg`, JPEGs about 500x375).

Training and validation crops come from disjoint parts of each photograph: training crops from its top-left
and bottom-right quadrants, validation crops from the other two, with a band between them that no crop
touches. So a validation image is never a near-duplicate of a training one, yet both splits see the top
and the bottom, the left and the right of every photograph. `labels.csv` says which split each image
belongs to (`index.split: csv`).
"""

import csv
import importlib.util
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from pets.errors import PetsError
from pets.progress import progress

BYTES_PER_CROP = 60_000  # a crop's JPEG: 28 KB on average, 60 KB leaves room (checked against free space first)
REGION = 0.45  # share of each side a quadrant spans: the 10 % band between quadrants is never used
QUADRANTS = {"train": [(0, 0), (1, 1)], "valid": [(0, 1), (1, 0)]}  # (row, column): each split on a diagonal


def rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def photographs():
    """{class name: RGB uint8 photograph}: eleven colour ones, and two greyscale ones as RGB."""
    import matplotlib.cbook  # noqa: PLC0415 - the libraries' own photographs, imported when they are used
    import skimage.data  # noqa: PLC0415

    # scikit-learn's two, read from its package as its load_sample_images reads them, without importing it (2.5 s)
    sklearn_images = Path(importlib.util.find_spec("sklearn").origin).parent / "datasets/images"
    china, flower = rgb(sklearn_images / "china.jpg"), rgb(sklearn_images / "flower.jpg")
    grace_hopper = rgb(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    photos = {
        "astronaut": skimage.data.astronaut(),
        "chelsea": skimage.data.chelsea(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "hubble_deep_field": skimage.data.hubble_deep_field(),
        "immunohistochemistry": skimage.data.immunohistochemistry(),
        "retina": skimage.data.retina(),
        "motorcycle": skimage.data.stereo_motorcycle()[0],
        "china": china,
        "flower": flower,
        "grace_hopper": grace_hopper,
    }
    for name in ("coins", "moon"):  # not the cameraman: grey sky and a grey coat, it is half of every other photo
        photos[name] = np.repeat(getattr(skimage.data, name)()[..., None], 3, axis=2)
    return photos


def random_crop(photo, quadrant, rng):
    """A crop inside one quadrant (row, column) of `photo`, of 60-100 % of its height and an aspect ratio
    between 3:4 and 4:3, scaled so that its longer side is 400-500 pixels."""
    sides = photo.shape[:2]
    region = [round(side * REGION) for side in sides]
    height = round(region[0] * rng.uniform(0.6, 1.0))
    length = (height, min(region[1], round(height * rng.uniform(3 / 4, 4 / 3))))
    start = [
        int(rng.integers(0, region[axis] - length[axis] + 1)) + (sides[axis] - region[axis]) * quadrant[axis]
        for axis in (0, 1)
    ]
    crop = Image.fromarray(
        np.ascontiguousarray(photo[start[0] : start[0] + length[0], start[1] : start[1] + length[1]])
    )
    scale = rng.uniform(400, 500) / max(crop.size)
    return crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.BICUBIC)


def write_photos(target, train_per_class=10, valid_per_class=20, seed=0):
    """Write the crops as `target/images/<class>_<n>.jpg` and their splits to `target/labels.csv`."""
    images = Path(target) / "images"
    images.mkdir(parents=True, exist_ok=True)
    photos = photographs()
    count = len(photos) * (train_per_class + valid_per_class)
    needed, free = count * BYTES_PER_CROP, shutil.disk_usage(images).free
    if needed > free:
        raise PetsError(
            f"the photos need about {needed:,} bytes for {count:,} crops but only {free:,} are free in {images}; "
            "free some space or ask for fewer crops (datasets.photos.train_per_class, valid_per_class)"
        )
    rng = np.random.default_rng(seed)
    rows = []
    with progress(total=count, desc="photos", unit=" img") as bar:
        for name, photo in photos.items():
            for n in range(1, train_per_class + valid_per_class + 1):
                split = "train" if n <= train_per_class else "valid"
                quadrant = QUADRANTS[split][int(rng.integers(2))]
                random_crop(photo, quadrant, rng).save(images / f"{name}_{n}.jpg", quality=90)
                rows.append((f"images/{name}_{n}.jpg", name, split))
                bar.update(1)
    with open(Path(target) / "labels.csv", "w", newline="") as table:
        csv.writer(table).writerows([("file", "label", "split"), *rows])
    return len(rows)
