"""python -m pets audit: the least likely labels first, in the columns labels_fix.csv is written from."""

import csv
import io

import pytest
import torch

from pets.__main__ import main
from pets.report.audit import COLUMNS, fix_lines, ranked, review_csv
from pets.report.predictions import prediction_rows


def test_the_least_likely_label_comes_first_with_the_models_class_beside_it():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    rows = ranked(
        prediction_rows("train", ["a.jpg", "b.jpg"], probs[:2], [0, 0], ["cat", "dog"])
        + prediction_rows("valid", ["c.jpg"], probs[2:], [1], ["cat", "dog"])
    )
    table = list(csv.DictReader(io.StringIO(review_csv(rows))))
    assert tuple(table[0]) == COLUMNS
    assert [(r["file"], r["split"], r["label"], r["predicted"]) for r in table] == [
        ("b.jpg", "train", "cat", "dog"), ("c.jpg", "valid", "dog", "cat"), ("a.jpg", "train", "cat", "cat")
    ]  # fmt: skip
    assert float(table[0]["p_label"]) == pytest.approx(0.2) and float(table[0]["p_predicted"]) == pytest.approx(0.8)
    assert "(e.g. b.jpg,dog)" in fix_lines(rows, 2)[-1] and len(fix_lines(rows, 2)) == 3


def test_audit_without_a_model_says_to_train_one(tmp_path, capsys):
    with pytest.raises(SystemExit, match=r"error: .*nowhere.pt not found: train a model first"):
        main(["audit", "--model", str(tmp_path / "nowhere.pt")])
