"""python -m pets audit: the images whose given label the trained model finds least likely, for a person to review
(metrics/label_review.csv and .png); the rows to act on go into labels_fix.csv (pets.data.fixes)."""

import csv
import io
from pathlib import Path

import numpy as np

from pets.report.grid import image_grid, thumbnail

COLUMNS = ("file", "split", "label", "predicted", "p_predicted", "p_label")


def ranked(rows: list[dict]) -> list[dict]:
    """Prediction rows (pets.report.predictions) of every split, the least likely label first."""
    return sorted(rows, key=lambda row: (row["p_label"], row["split"], row["file"]))


def review_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def review_picture(rows: list[dict], raw: str | Path, path: str | Path, n: int) -> None:
    """A contact sheet of the first `n` rows: each image with its given label and the model's."""
    images, titles, colours = [], [], []
    for row in rows[:n]:
        image = thumbnail(Path(raw) / row["file"])
        images.append(image if image is not None else np.zeros((160, 160, 3), np.uint8))
        titles.append(
            f"{row['file']} ({row['split']})\nlabel {row['label']} {row['p_label']:.2f}, "
            f"model {row['predicted']} {row['p_predicted']:.2f}"
        )
        colours.append("red" if row["predicted"] != row["label"] else "black")
    heading = f"the {len(images)} images whose label the model finds least likely: relabel or drop in labels_fix.csv"
    image_grid(images, titles, path, heading=heading, columns=4, cell=3.3, colours=colours)


def fix_lines(rows: list[dict], n: int) -> list[str]:
    """What `audit` prints: the top rows, and how to act on them."""
    lines = [
        f"{row['file']}\t{row['split']}\tlabel {row['label']} ({row['p_label']:.3f})\t"
        f"model {row['predicted']} ({row['p_predicted']:.3f})"
        for row in rows[:n]
    ]
    example = f" (e.g. {rows[0]['file']},{rows[0]['predicted']})" if rows else ""
    return lines + [
        f"to fix a label, add `file,label`{example} or `file,-` to drop the image, to labels_fix.csv, set "
        "index.fixes: labels_fix.csv in params.yaml, commit both, and run dvc repro"
    ]
