"""The built-in offline dataset: scikit-learn's 8x8 handwritten digits, laid out like Pets."""

from pathlib import Path

import numpy as np
from PIL import Image


def write_digits(target):
    """Write the 1797 digits as `target/images/<digit>_<n>.png` (white ink on black, 8x8 greyscale)."""
    from sklearn.datasets import load_digits  # noqa: PLC0415 - scikit-learn, imported when it is used

    digits = load_digits()
    images = Path(target) / "images"
    images.mkdir(parents=True, exist_ok=True)
    counts = {}
    for pixels, label in zip(digits.images, digits.target):
        counts[label] = counts.get(label, 0) + 1
        grey = np.clip(pixels * (255 / 16), 0, 255).round().astype(np.uint8)
        Image.fromarray(grey).save(images / f"{label}_{counts[label]}.png")
    return len(digits.target)
