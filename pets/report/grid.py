"""Image grids, and the one way figures are saved; no torch, so that the index stage draws without importing it."""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from pets.atomic import atomic_path  # noqa: E402


def save_figure(figure, path):
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=80)
    plt.close(figure)


def image_grid(images, titles, path, heading="", columns=3, cell=3.0, colours=None):
    """Save HWC uint8 (or float 0..1) images in a grid, each with its title (in its colour), under a heading."""
    rows = max(1, math.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * cell, rows * cell + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title, colour in zip(axes.flat, images, titles, colours or ["black"] * len(titles)):
        ax.imshow(np.asarray(image), interpolation="nearest" if np.asarray(image).shape[0] < 64 else "antialiased")
        ax.set_title(title, fontsize=8, color=colour)
    figure.suptitle(heading, fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (rows * cell + 0.3)))  # room for the heading above the titles
    save_figure(figure, path)


def thumbnail(path: str | Path, side: int = 160) -> np.ndarray | None:
    """An image file as a (side, side, 3) centre crop, or None when it cannot be read."""
    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), (side, side)))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
