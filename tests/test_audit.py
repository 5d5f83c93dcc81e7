"""python -m pets audit: the least likely labels first, in the columns labels_fix.csv is written from."""

import csv
import io

import numpy as np
import pytest

from pets.__main__ import main
from pets.report.audit import COLUMNS, fix_lines, ranked, review_csv
from pets.report.predictions import prediction_rows

CLASSES = ["cat", "dog"]


def test_the_least_likely_label_comes_first_with_the_models_class_beside_it():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    rows = ranked(
        [
            {**row, "scored_by": "probe"}
            for row in prediction_rows("train", ["a.jpg", "b.jpg"], probs[:2], [0, 0], CLASSES)
        ]
        + [{**row, "scored_by": "model"} for row in prediction_rows("valid", ["c.jpg"], probs[2:], [1], CLASSES)]
    )
    table = list(csv.DictReader(io.StringIO(review_csv(rows))))
    assert tuple(table[0]) == COLUMNS
    assert [(r["file"], r["split"], r["label"], r["predicted"]) for r in table] == [
        ("b.jpg", "train", "cat", "dog"), ("c.jpg", "valid", "dog", "cat"), ("a.jpg", "train", "cat", "cat")
    ]  # fmt: skip
    assert float(table[0]["p_label"]) == pytest.approx(0.2) and float(table[0]["p_predicted"]) == pytest.approx(0.8)
    assert "(e.g. b.jpg,dog)" in fix_lines(rows, 2)[-1] and len(fix_lines(rows, 2)) == 3


def test_audit_before_a_run_says_to_run_the_pipeline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"error: .*dvc repro"):
        main(["audit"])
