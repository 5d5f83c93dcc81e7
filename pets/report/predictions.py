"""metrics/predictions.csv: one row per validation (and test) image, in file order, so that two runs can be compared
image by image (python -m pets compare) and a git diff between two commits reads as the images that changed."""

import csv
import io
from collections.abc import Sequence

import numpy as np

from pets.data.index import SPLITS
from pets.errors import PetsError

COLUMNS = ("split", "file", "label", "predicted", "p_label", "p_predicted")
HELD_OUT = SPLITS[1:]  # valid, test: the splits scored as held out; train is in metrics.json only


def prediction_rows(
    split: str, files: Sequence[str], probs: np.ndarray, labels: Sequence[int], classes: Sequence[str]
) -> list[dict]:
    """The rows of one split: file (relative to the dataset), its label, the prediction and both probabilities."""
    labels = np.asarray(labels)
    predicted = probs.argmax(1)
    rows = np.arange(len(labels))
    p_label, p_predicted = probs[rows, labels], probs[rows, predicted]
    return [
        {
            "split": split,
            "file": file,
            "label": classes[label],
            "predicted": classes[guess],
            "p_label": round(float(pl), 6),
            "p_predicted": round(float(pp), 6),
        }
        for file, label, guess, pl, pp in zip(files, labels.tolist(), predicted.tolist(), p_label, p_predicted)
    ]


def predictions_csv(rows: list[dict]) -> str:
    """The file's text: quoted as CSV needs (labels come from file names), sorted by split and file."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda row: (HELD_OUT.index(row["split"]), row["file"])))
    return out.getvalue()


def read_predictions(text: str, source: str) -> list[dict]:
    """The rows of a predictions file; one line naming `source` and the line when it is not one."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))  # a file saved by a spreadsheet: its BOM
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise PetsError(f"{source}: not a predictions file (header {reader.fieldnames}, expected {','.join(COLUMNS)})")
    rows, seen = [], set()
    for line, row in enumerate(reader, 2):
        try:
            if None in row or None in row.values():
                raise ValueError("wrong number of fields")
            if row["split"] not in HELD_OUT:
                raise ValueError(f"split {row['split']!r} is not one of {', '.join(HELD_OUT)}")
            for key in ("p_label", "p_predicted"):
                row[key] = float(row[key])
                if not 0 <= row[key] <= 1:
                    raise ValueError(f"{key} {row[key]} is not a probability")
            if (row["split"], row["file"]) in seen:
                raise ValueError(f"{row['file']} is listed twice")
        except ValueError as error:
            raise PetsError(f"{source}: line {line}: {error}") from None
        seen.add((row["split"], row["file"]))
        rows.append(row)
    return rows
