"""Decode any image Pillow opens into an RGB uint8 square of a given resolution, and find the images a user names.
No torch: the ONNX predictor (pets/inference/onnx_model.py) uses it outside this project."""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from pets.errors import PetsError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}  # the files taken as images
RESAMPLE = Image.Resampling.BILINEAR
ORIENTATION = 0x0112  # the EXIF tag


def to_rgb(image):
    """RGB whatever the mode: transparency goes on white, 16-bit and float pixels are scaled to 8 bits."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        high = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        image = Image.fromarray(np.clip(pixels * (255.0 / high), 0, 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def upright(image):
    """The image turned as its EXIF orientation says (most photos need nothing, and get no copy)."""
    return ImageOps.exif_transpose(image) if image.getexif().get(ORIENTATION, 1) != 1 else image


def load_image(path: str | Path | BinaryIO, resolution: int, resize: str = "crop") -> np.ndarray:
    """(resolution, resolution, 3) uint8 pixels of the first frame, upright by its EXIF orientation.

    crop: the shorter side is scaled to `resolution` and the centre kept; squish: the whole
    image is scaled to the square. Raises OSError (or a Pillow error) when it cannot be decoded.
    """
    with Image.open(path) as image:
        image.draft("RGB", (resolution, resolution))  # JPEG: decode at a reduced scale when that is enough
        image = to_rgb(upright(image))
        box = None
        if resize == "crop":  # the centred square, cut and scaled in one resize
            width, height = image.size
            side = min(width, height)
            box = ((width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2)
        image = image.resize((resolution, resolution), RESAMPLE, box=box)
        return np.array(image, dtype=np.uint8)  # a writable copy, ready for torch.from_numpy


def image_paths(inputs: Sequence[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(files as given and the images below each folder by suffix, in a stable order; (folder, reason) of every
    folder that could not be read, which Path.rglob would skip without a word)."""
    paths, unreadable = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            found = _walk(item, unreadable)
            paths += sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif item.is_file():
            paths.append(item)
        elif item.exists():
            raise PetsError(f"{item}: not a file or folder of images (a device, FIFO or socket)")
        else:
            raise PetsError(f"{item}: no such file or folder")
    return paths, unreadable


def _walk(folder: Path, unreadable: list) -> list[Path]:
    """Every file below `folder`, symbolic links to folders followed as training's folder source follows them, each
    real folder once (a link back up would loop); folders that cannot be read are added to `unreadable`."""
    seen, found = set(), []

    def refused(error):
        unreadable.append((Path(error.filename), error.strerror or type(error).__name__))

    for top, folders, names in os.walk(folder, onerror=refused, followlinks=True):
        identity = (os.stat(top).st_dev, os.stat(top).st_ino)
        if identity in seen:
            folders[:] = []  # a folder reached twice: by a link to it, or a link loop
            continue
        seen.add(identity)
        found += [Path(top) / name for name in names]
    return found
