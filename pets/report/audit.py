"""python -m pets audit: the images whose given label the trained model finds least likely, for a person to review
(metrics/label_review.csv and .png); the rows to act on go into labels_fix.csv (pets.data.fixes)."""

import csv
import io
from pathlib import Path

import numpy as np

from pets.atomic import write_text
from pets.config import layout
from pets.data.cache import read_manifest
from pets.data.loader import CachedSplit
from pets.errors import PetsError
from pets.inference.forward import predict_probs
from pets.model.checkpoint import load_classifier
from pets.report.grid import image_grid, thumbnail
from pets.report.predictions import prediction_rows
from pets.runtime.profile import runtime

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


def audit(model_path: Path, top: int) -> list[str]:
    """Rank every image of the cache's splits by how likely the model finds its label (the training split too,
    scored as validation is: no augmentation); write metrics/label_review.csv and .png; return the lines to print."""
    if not Path(model_path).is_file():
        raise PetsError(f"{model_path} not found: train a model first (dvc repro, or a quick start: make pictures)")
    classifier = load_classifier(model_path)
    manifest = read_manifest(layout.CACHE)
    if manifest["classes"] != classifier.classes:
        raise PetsError(f"{model_path} was not trained on the classes of {layout.CACHE}: run dvc repro first")
    active = runtime()
    active.place(classifier.module)
    rows = []
    for name in manifest["splits"]:
        split = CachedSplit(layout.CACHE, name)
        rows += prediction_rows(name, split.files, predict_probs(classifier, split, active), split.labels,
                                classifier.classes)  # fmt: skip
    rows = ranked(rows)
    write_text(layout.LABEL_REVIEW, review_csv(rows))
    review_picture(rows, layout.RAW, layout.LABEL_REVIEW_PNG, top)
    return fix_lines(rows, top) + [
        f"all {len(rows)} images ranked in {layout.LABEL_REVIEW}, the first {top} in {layout.LABEL_REVIEW_PNG}"
    ]
