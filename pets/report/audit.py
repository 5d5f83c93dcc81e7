"""python -m pets audit: the images whose given label is least likely, for a person to review (metrics/label_review.csv
and .png, and the review page, pets.serve.review); the rows to act on go into labels_fix.csv (pets.data.fixes).

Read from the train stage's scores, no model loaded: validation and test images as the model scores them; training
images as a probe that never saw them does (out of fold, pets.inference.out_of_fold, on the features the train stage
kept), since the model has learned their labels, the wrong ones too. Without out-of-fold scores (a class with under 5
training images), the model's own."""

import csv
import io
from pathlib import Path

import numpy as np

from pets.atomic import write_text
from pets.config import layout
from pets.data.cache import read_manifest
from pets.inference.out_of_fold import out_of_fold_log_probs
from pets.inference.scores import read_scores, read_train_features
from pets.report.grid import image_grid, thumbnail
from pets.report.predictions import prediction_rows

COLUMNS = ("file", "split", "label", "predicted", "p_predicted", "p_label", "scored_by")


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
            f"{row['scored_by']} {row['predicted']} {row['p_predicted']:.2f}"
        )
        colours.append("red" if row["predicted"] != row["label"] else "black")
    heading = f"the {len(images)} images whose label the model finds least likely: relabel or drop in labels_fix.csv"
    image_grid(images, titles, path, heading=heading, columns=4, cell=3.3, colours=colours)


def fix_lines(rows: list[dict], n: int) -> list[str]:
    """What `audit` prints: the top rows, and how to act on them."""
    lines = [
        f"{row['file']}\t{row['split']}\tlabel {row['label']} ({row['p_label']:.3f})\t"
        f"{row['scored_by']} {row['predicted']} ({row['p_predicted']:.3f})"
        for row in rows[:n]
    ]
    example = f" (e.g. {rows[0]['file']},{rows[0]['predicted']})" if rows else ""
    return lines + [
        f"to fix a label, add `file,label`{example} or `file,-` to drop the image, to labels_fix.csv, set "
        "index.fixes: labels_fix.csv in params.yaml, commit both, and run dvc repro"
    ]


def audit_rows(cache: Path = layout.CACHE, scores_path: Path = layout.SCORES) -> list[dict]:
    """Every cached image's prediction row (pets.report.predictions) with `scored_by` (model | probe), ranked."""
    manifest = read_manifest(cache)
    scores, _ = read_scores(scores_path, manifest)
    features, seed = read_train_features(scores_path, manifest)
    train = manifest["splits"]["train"]["labels"]
    out_of_fold = out_of_fold_log_probs(features, train, len(manifest["classes"]), seed)
    rows = []
    for name, split in manifest["splits"].items():
        by = "probe" if name == "train" and out_of_fold is not None else "model"
        log_probs = out_of_fold if by == "probe" else scores[name]
        found = prediction_rows(name, split["files"], np.exp(log_probs), split["labels"], manifest["classes"])
        rows += [{**row, "scored_by": by} for row in found]
    return ranked(rows)


def audit(top: int) -> list[str]:
    """Rank every image of the run (the training split too); write metrics/label_review.csv and .png; return the
    lines to print."""
    rows = audit_rows()
    write_text(layout.LABEL_REVIEW, review_csv(rows))
    review_picture(rows, layout.RAW, layout.LABEL_REVIEW_PNG, top)
    return fix_lines(rows, top) + [
        f"all {len(rows)} images ranked in {layout.LABEL_REVIEW}, the first {top} in {layout.LABEL_REVIEW_PNG}; "
        "to review them on a page: python -m pets review"
    ]
