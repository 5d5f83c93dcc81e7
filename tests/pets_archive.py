"""A small archive shaped like the real Pets one, built from its real file names and official lists."""

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from tests.imagefiles import encode, gradient, jpeg_with_corrupt_data

PETS_LISTS = Path(__file__).resolve().parent / "data" / "oxford-iiit-pet"


def pets_text(name):
    """A file of the real Pets file names and official split lists, kept in tests/data (README.md there)."""
    return (PETS_LISTS / name).read_text()


def pets_shaped_archives():
    """VGG-style images.tar.gz (a plain tar, as the real one) and annotations.tar.gz from the real names:
    three images per breed, the odd files the real archive has, and its three .mat files."""
    names = pets_text("images.txt").split()
    per_class = {}
    for name in names:
        if name.endswith(".jpg"):
            per_class.setdefault(name.rsplit("_", 1)[0], []).append(name)
    rng = np.random.default_rng(0)
    files = {}
    for breed_names in per_class.values():
        for name in breed_names[:3]:
            pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            files[name] = encode(Image.fromarray(pixels), "JPEG")
    base = gradient()
    files.update(
        {
            "Egyptian_Mau_129.jpg": encode(base.convert("L"), "JPEG"),
            "Abyssinian_34.jpg": encode(base.convert("P", palette=Image.Palette.ADAPTIVE), "GIF"),
            "Abyssinian_5.jpg": encode(base.convert("RGBA"), "PNG"),
            "Egyptian_Mau_156.jpg": encode(base, "PNG"),
            "beagle_116.jpg": jpeg_with_corrupt_data(base),
        }
    )
    files.update({f"Abyssinian_{n}.mat": b"MATLAB 5.0 MAT-file" for n in (100, 101, 102)})
    images = tar_bytes({f"images/{name}": data for name, data in files.items()}, compress=False)
    annotations = tar_bytes(
        {
            f"annotations/{name}": pets_text(f"annotations/{name}").encode()
            for name in ("list.txt", "trainval.txt", "test.txt")
        },
        compress=True,
    )
    return images, annotations, len(files) - 3


def tar_bytes(members, compress):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def digits_archive(per_class):
    """A tar of the first `per_class` of scikit-learn's digits of each class, laid out as the built-in digits
    (images/<digit>_<n>.png, white on black): a dataset of the digits' kind small enough to train on in a second."""
    from sklearn.datasets import load_digits

    digits, members, counts = load_digits(), {}, {}
    for pixels, label in zip(digits.images, digits.target):
        counts[label] = counts.get(label, 0) + 1
        if counts[label] <= per_class:
            grey = np.clip(pixels * (255 / 16), 0, 255).round().astype(np.uint8)
            members[f"images/{label}_{counts[label]}.png"] = encode(Image.fromarray(grey), "PNG")
    return tar_bytes(members, compress=False)
