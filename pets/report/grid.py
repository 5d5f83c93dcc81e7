"""Image grids, and the one way figures are saved; no torch, so that the index stage draws without importing it."""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont, ImageOps  # noqa: E402

from pets.atomic import atomic_path  # noqa: E402

DPI = 80  # pixels an inch of every picture
FONT = ImageFont.truetype(Path(matplotlib.get_data_path(), "fonts/ttf/DejaVuSans.ttf"), 11)  # matplotlib's own
LINE, PAD = 14, 6  # pixels of a line of text, and around it


def save_figure(figure, path):
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    plt.close(figure)


def image_grid(images, titles, path, heading="", columns=3, cell=3.0, colours=None):
    """Save HWC uint8 (or float 0..1) images in a grid, each with its title (in its colour; wrapped to the cell, and
    at \\n), under a heading: `cell` inches a cell at save_figure's dpi. Drawn with Pillow, not matplotlib: axes for
    9 images cost 0.8 s (their ticks and the tight layout), on every training run; this costs about 20 ms."""
    rows, side = max(1, math.ceil(len(images) / columns)), round(cell * DPI)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    wrapped = [_wrapped(draw, title, side - 2 * PAD) for title in titles]
    band = max([len(lines) for lines in wrapped] or [1]) * LINE + PAD  # every cell's title lines
    top = LINE + 2 * PAD  # the heading's
    canvas = Image.new("RGB", (columns * side, top + rows * (side + band - LINE)), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((canvas.width // 2, PAD), heading, fill="black", font=FONT, anchor="ma")
    for i, (image, lines, colour) in enumerate(zip(images, wrapped, colours or ["black"] * len(titles))):
        x, y = (i % columns) * side, top + (i // columns) * (side + band - LINE)
        picture = Image.fromarray(_uint8(image)).convert("RGB")
        small = picture.height < 64  # few pixels: shown as blocks, not blurred
        fitted = ImageOps.contain(picture, (side - 2 * PAD, side - LINE - 2 * PAD),
                                  Image.Resampling.NEAREST if small else Image.Resampling.LANCZOS)  # fmt: skip
        canvas.paste(fitted, (x + (side - fitted.width) // 2, y + band + PAD))
        for row, text in enumerate(lines):
            draw.text((x + side // 2, y + PAD + row * LINE), text, fill=colour, font=FONT, anchor="ma")
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")


def _uint8(image) -> np.ndarray:
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else (np.clip(image, 0, 1) * 255).round().astype(np.uint8)


def _wrapped(draw, title: str, width: int) -> list[str]:
    """The lines of `title` (split at \\n) broken between words to fit `width` pixels."""
    lines = []
    for paragraph in title.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            longer = f"{line} {word}" if line else word
            if line and draw.textlength(longer, font=FONT) > width:
                lines.append(line)
                longer = word
            line = longer
        lines.append(line)
    return lines


def thumbnail(path: str | Path, side: int = 160) -> np.ndarray | None:
    """An image file as a (side, side, 3) centre crop, or None when it cannot be read."""
    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), (side, side)))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
