"""metrics/duplicates.png: the closest pairs the data check found, side by side, so a person can judge them."""

from pathlib import Path

import numpy as np

from pets.report.grid import image_grid, thumbnail

PAIRS_DRAWN = 8


def duplicates_picture(pairs: list[dict], raw: str | Path, path: str | Path, n: int = PAIRS_DRAWN) -> None:
    """Each of the first `n` pairs (across splits first: they are the leaks) as two images in a row."""
    across = [p for p in pairs if p["splits"][0] != p["splits"][1]]
    shown = (across + [p for p in pairs if p["splits"][0] == p["splits"][1]])[:n]
    images, titles, colours = [], [], []
    for pair in shown:
        how = "same bytes" if pair["kind"] == "exact" else f"{pair['bits']} of 64 hash bits differ"
        for member, split, label in zip((pair["a"], pair["b"]), pair["splits"], pair["labels"]):
            image = thumbnail(Path(raw) / member)
            images.append(image if image is not None else np.zeros((160, 160, 3), np.uint8))
            titles.append(f"{member}\n{split}, {label}: {how}")
            colours.append("red" if pair["splits"][0] != pair["splits"][1] else "black")
    heading = (
        f"{len(pairs)} duplicate pair(s): the closest {len(shown)} (across splits in red, within a split in black)"
        if pairs
        else "no duplicates: no two images are the same picture"
    )
    image_grid(images, titles, path, heading=heading, columns=2, colours=colours)
