"""A small archive shaped like the real Pets one, built from its real file names and official lists."""

import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from tests.imagefiles import encode, gradient, jpeg_with_corrupt_data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "oxford-iiit-pet"


def shared_text(name):
    """A file of the real Pets lists, which DESIGN.md keeps in shared/ beside the clone, not in the repository."""
    path = SHARED / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: these tests read the real Pets file lists from shared/ beside "
                                f"the repository (DESIGN.md); clone the repository next to shared/")
    return path.read_text()


def pets_shaped_archives():
    """VGG-style images.tar.gz (a plain tar, as the real one) and annotations.tar.gz from the real names:
    three images per breed, the odd files the real archive has, and its three .mat files."""
    names = shared_text("images.txt").split()
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
    files.update({
        "Egyptian_Mau_129.jpg": encode(base.convert("L"), "JPEG"),
        "Abyssinian_34.jpg": encode(base.convert("P", palette=Image.Palette.ADAPTIVE), "GIF"),
        "Abyssinian_5.jpg": encode(base.convert("RGBA"), "PNG"),
        "Egyptian_Mau_156.jpg": encode(base, "PNG"),
        "beagle_116.jpg": jpeg_with_corrupt_data(base),
    })
    files.update({f"Abyssinian_{n}.mat": b"MATLAB 5.0 MAT-file" for n in (100, 101, 102)})
    images = tar_bytes({f"images/{name}": data for name, data in files.items()}, compress=False)
    annotations = tar_bytes({f"annotations/{name}": shared_text(f"annotations/{name}").encode()
                             for name in ("list.txt", "trainval.txt", "test.txt")}, compress=True)
    return images, annotations, len(files) - 3


def tar_bytes(members, compress):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
