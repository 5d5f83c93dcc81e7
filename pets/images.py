"""Decode any image Pillow opens into an RGB uint8 square of a given resolution."""

import numpy as np
from PIL import Image, ImageOps

RESAMPLE = Image.Resampling.BILINEAR


def to_rgb(image):
    """RGB whatever the mode: transparency goes on white, 16-bit and float pixels are scaled to 8 bits."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        high = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        image = Image.fromarray(np.clip(pixels * (255.0 / high), 0, 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(path, resolution, resize="crop"):
    """(resolution, resolution, 3) uint8 pixels of the first frame, upright by its EXIF orientation.

    crop: the shorter side is scaled to `resolution` and the centre kept; squish: the whole
    image is scaled to the square. Raises OSError (or a Pillow error) when it cannot be decoded.
    """
    with Image.open(path) as image:
        image.draft("RGB", (resolution, resolution))  # JPEG: decode at a reduced scale when that is enough
        image = to_rgb(ImageOps.exif_transpose(image))
        if resize == "crop":
            image = ImageOps.fit(image, (resolution, resolution), RESAMPLE)
        else:
            image = image.resize((resolution, resolution), RESAMPLE)
        return np.array(image, dtype=np.uint8)  # a writable copy, ready for torch.from_numpy
